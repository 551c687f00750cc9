"""Async recording decorator, as a pass-through."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["recorded_by_proxy_async"]


def recorded_by_proxy_async(test: Callable[..., Coroutine[Any, Any, Any]]) -> Callable[..., Any]:
    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> None:
        await test(*args, **kwargs)

    return run
