"""An opt-in tally of DFS operations and the Azurite (Blob API) calls each one made.

Off by default (``python -m infra.local.dfs --count-calls`` turns it on); the benchmark reads it from
``GET /_stats`` and clears it with ``DELETE /_stats``. When off, the only cost is one ``is None`` test per
Azurite call.
"""

from __future__ import annotations

import contextvars
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

_current: contextvars.ContextVar[str] = contextvars.ContextVar("dfs_operation", default="(none)")


def operation_name(method: str, params: dict[str, str], headers: dict[str, str], forwarded: bool) -> str:
    """A short name for a request: ``PUT resource=file``, ``PATCH action=append``, ``blob PUT comp=block``."""
    if forwarded:
        return f"blob {method} {_query_kind(params.items())}".rstrip()
    if "x-ms-rename-source" in headers:
        return f"{method} rename"
    for name in ("action", "resource", "comp"):
        if name in params:
            return f"{method} {name}={params[name]}"
    if method == "DELETE" and params.get("recursive", "").lower() == "true":
        return "DELETE recursive"
    return f"{method} path"


def _query_kind(query: Iterable[tuple[str, str]]) -> str:
    found = dict((k.lower(), v) for k, v in query)
    for name in ("comp", "restype"):
        if name in found:
            return f"{name}={found[name]}"
    return ""


class CallCounter:
    """Requests per DFS operation, and Azurite calls per (operation, Blob call)."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.blob_calls: Counter[tuple[str, str]] = Counter()

    @contextmanager
    def operation(self, name: str) -> Iterator[None]:
        self.requests[name] += 1
        token = _current.set(name)
        try:
            yield
        finally:
            _current.reset(token)

    def blob_call(self, method: str, query: Iterable[tuple[str, str]]) -> None:
        self.blob_calls[(_current.get(), f"{method} {_query_kind(query)}".rstrip())] += 1

    def snapshot(self) -> dict[str, dict[str, object]]:
        """``{operation: {"requests": n, "blob_calls": {call: n}}}``, operations in name order."""
        table: dict[str, dict[str, object]] = {}
        for name in sorted(set(self.requests) | {op for op, _ in self.blob_calls}):
            calls = {call: n for (op, call), n in sorted(self.blob_calls.items()) if op == name}
            table[name] = {"requests": self.requests.get(name, 0), "blob_calls": calls}
        return table

    def clear(self) -> None:
        self.requests.clear()
        self.blob_calls.clear()
