"""``StorageRecordedTestCase``: the helpers storage tests call on ``self``, for live local runs."""

from __future__ import annotations

import hashlib
import inspect
import io
import logging
import os
import random
import string
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from types import TracebackType
from typing import Any

import pytest

__all__ = ["LogCaptured", "StorageRecordedTestCase"]


class StorageRecordedTestCase:
    """Base class of the sync test classes (pytest-style: no ``__init__``)."""

    @pytest.fixture(autouse=True)
    def _remember_test(self, request: pytest.FixtureRequest) -> Iterable[None]:
        self._test_id = request.node.nodeid
        yield
        teardown = getattr(self, "tearDown", None)
        if callable(teardown) and hasattr(self, "dsc") and not inspect.iscoroutinefunction(teardown):
            try:
                teardown()
            except Exception:  # cleanup only; Azurite's state is thrown away after the run anyway
                logging.getLogger(__name__).debug("tearDown failed", exc_info=True)

    # -- the account ----------------------------------------------------------------------------
    def account_url(self, account: str, endpoint_type: str) -> str:
        """The local endpoint (it answers ``dfs`` and ``blob`` URLs alike); Azure's form for other accounts
        (tests that only build clients)."""
        if account == os.environ.get("DATALAKE_STORAGE_ACCOUNT_NAME"):
            return os.environ["CONFORMANCE_DFS_URL"]
        return f"https://{account}.{endpoint_type}.core.windows.net"

    def get_credential(self, client_class: type, is_async: bool = False) -> Any:
        pytest.skip("Entra ID (token) credentials are out of scope for the local endpoint")

    # -- values ---------------------------------------------------------------------------------
    def get_resource_name(self, prefix: str) -> str:
        """``prefix`` + a hash of the test: the same name for the same prefix within one test."""
        digest = hashlib.md5(f"{self._test_id}/{prefix}".encode()).hexdigest()
        return (prefix + digest)[: max(len(prefix) + 8, 24)].lower()

    def get_datetime_variable(self, variables: dict[str, str], name: str, value: datetime) -> datetime:
        variables.setdefault(name, value.isoformat())
        return value

    def get_random_bytes(self, size: int) -> bytes:
        return random.randbytes(size)

    def get_random_text_data(self, size: int) -> str:
        return "".join(random.choices(string.ascii_letters + string.digits, k=size))

    def generate_sas(self, generator: Callable[..., str], *args: Any, **kwargs: Any) -> str:
        return generator(*args, **kwargs)

    @property
    def is_live(self) -> bool:
        return True

    def is_playback(self) -> bool:
        return False

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    # -- assertions -----------------------------------------------------------------------------
    def assertNamedItemInContainer(
        self, container: Iterable[Any], item_name: str, msg: str | None = None
    ) -> None:
        names = [getattr(item, "name", item) for item in container]
        assert item_name in names, msg or f"{item_name!r} not found in {names}"


class LogCaptured:
    """``with LogCaptured(test) as captured: ...; captured.getvalue()``: the root logger's output."""

    def __init__(self, test_case: object | None = None) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)

    def __enter__(self) -> io.StringIO:
        root = logging.getLogger()
        self.level = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(self.handler)
        return self.stream

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self.level)
