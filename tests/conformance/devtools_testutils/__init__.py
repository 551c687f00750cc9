"""A live-only stand-in for the Azure SDK repository's ``devtools_testutils`` (not published on PyPI).

Only what azure-storage-file-datalake's tests import: the recording decorators as pass-throughs, the
environment-variable preparer that hands each test the account name and key, and ``is_live``. The account
comes from ``DATALAKE_STORAGE_ACCOUNT_NAME`` / ``_KEY`` and the endpoint from ``CONFORMANCE_DFS_URL``,
which :mod:`tests.conformance.run` sets for the endpoint it starts.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EnvironmentVariableLoader",
    "EnvironmentVariableOptions",
    "is_live",
    "recorded_by_proxy",
]


def is_live() -> bool:
    """Always true: these tests only ever run against the live local endpoint."""
    return True


def recorded_by_proxy(test: Callable[..., Any]) -> Callable[..., Any]:
    """Recording is off: the test runs as written (its ``variables`` return value is dropped)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        test(*args, **kwargs)

    return run


@dataclass(frozen=True)
class EnvironmentVariableOptions:
    hide_secrets: list[str] = field(default_factory=list)


class Secret(str):
    """A key as the preparer hands it over: the tests read ``.secret``."""

    @property
    def secret(self) -> str:
        return str(self)


class EnvironmentVariableLoader:
    """``@Preparer()``: adds ``name=value`` keyword arguments taken from the upper-cased environment.

    A variable that is not set keeps the fake default (so tests of a second account see a name that fails).
    """

    def __init__(self, directory: str, options: EnvironmentVariableOptions | None = None, **defaults: str):
        self.directory = directory
        self.defaults = defaults
        self.secrets = set(options.hide_secrets if options else [])

    def __call__(self, test: Callable[..., Any]) -> Callable[..., Any]:
        parameters = inspect.signature(test).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())

        def values() -> dict[str, Any]:
            found: dict[str, Any] = {}
            for name, default in self.defaults.items():
                if not takes_any and name not in parameters:
                    continue  # like the real preparer, only what the test accepts
                value = os.environ.get(name.upper(), default)
                found[name] = Secret(value) if name in self.secrets else value
            return found

        if inspect.iscoroutinefunction(test):

            @functools.wraps(test)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                return await test(*args, **{**values(), **kwargs})

            return run_async

        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> Any:
            return test(*args, **{**values(), **kwargs})

        return run
