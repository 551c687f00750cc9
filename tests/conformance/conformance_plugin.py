"""pytest plugin of ``make conformance``: scope, async tests, and an outcome file for the runner.

Loaded with ``-p conformance_plugin`` (``tests/conformance`` on ``PYTHONPATH``). A test is out of scope when
its name or body uses a feature the local endpoint does not serve (see ``OUT_OF_SCOPE``); it is deselected
and listed with the reason. ``async def`` tests run on a fresh event loop each, so no asyncio plugin is
needed. Outcomes go to the JSON file named by ``CONFORMANCE_REPORT``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
from typing import Any

import pytest

# (words in a test's name or source, reason) — first match wins.
OUT_OF_SCOPE: tuple[tuple[tuple[str, ...], str], ...] = (
    (("get_credential", "token_credential", "oauth", "user_delegation"), "Entra ID / user delegation SAS"),
    (("encryption_scope",), "encryption scopes"),
    (("cpk", "customerprovidedencryptionkey", "encryption_key"), "customer-provided keys (CPK)"),
    (("soft_delete", "undelete", "deleted_path", "list_deleted", "restore"), "soft delete"),
    (("acl", "access_control"), "POSIX ACLs"),
)
_outcomes: dict[str, str] = {}
_excluded: dict[str, str] = {}


def out_of_scope(item: pytest.Item) -> str | None:
    function = getattr(item, "function", None)
    try:
        source = inspect.getsource(function) if function else ""
    except (OSError, TypeError):
        source = ""
    text = (item.name + "\n" + source).lower()
    for words, reason in OUT_OF_SCOPE:
        if any(word in text for word in words):
            return reason
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "live_test_only: runs only against a live service (always here)")
    config.addinivalue_line("markers", "playback_test_only: needs recordings (skipped here)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        reason = out_of_scope(item)
        if reason:
            _excluded[item.nodeid] = reason
            dropped.append(item)
        else:
            if item.get_closest_marker("playback_test_only"):
                item.add_marker(pytest.mark.skip(reason="playback only"))
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    arguments = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(pyfuncitem.obj(**arguments))
    return True


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _outcomes[report.nodeid] = report.outcome
    elif report.when == "teardown" and report.outcome == "failed":
        _outcomes.setdefault(report.nodeid, "failed")


def pytest_sessionfinish(session: pytest.Session, exitstatus: Any) -> None:
    target = os.environ.get("CONFORMANCE_REPORT")
    if target:
        with open(target, "w") as out:
            json.dump({"outcomes": _outcomes, "excluded": _excluded}, out, indent=1, sort_keys=True)
