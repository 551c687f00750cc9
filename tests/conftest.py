"""Shared fixtures: settings on free ports, the local storage stack, one SparkSession per test session.

Servers are started by the fixtures themselves (no manual set-up), on free ports, with state in a temporary
folder, and stopped at the end.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.launcher import Launcher, free_port, running
from infra.settings import Settings

# No test may talk to a developer's running stack by accident: fixtures set every port.
for _key in [k for k in os.environ if k.startswith("LAKEHOUSE_") or k == "PREFECT_API_URL"]:
    del os.environ[_key]


# `make test` runs two xdist workers with `--dist loadgroup`; a group runs whole on one worker. Each test
# file is a group (its module fixtures, a medallion run say, are built once), and so is each folder whose
# conftest builds an expensive session fixture (Power BI's gold, checkov's scan): a session fixture is built
# once per worker that uses it.
SHARED_SESSION_FOLDERS = ("tests/powerbi/", "tests/infra/azure/")


# First: xdist's worker reads the groups in its own pytest_collection_modifyitems (it renames each item after
# its group), and a hook of this conftest, registered before xdist's worker plugin, ran after it. Then no test
# had a group, a module's tests were spread over both workers, and each worker built the module's fixtures
# (the lakehouse flow's three pipeline runs, the medallion module's runs: twice). pytest 9.2 broke the
# renaming too (constraints.txt pins 9.1.1). tests/test_harness.py checks that a module stays whole.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        path = item.nodeid.split("::")[0]
        group = next((folder for folder in SHARED_SESSION_FOLDERS if path.startswith(folder)), path)
        item.add_marker(pytest.mark.xdist_group(group))


def make_settings(state_dir: Path, **overrides: object) -> Settings:
    """Settings for a test stack: free ports, state under ``state_dir``."""
    values: dict[str, object] = {
        "state_dir": state_dir,
        "blob_port": free_port(),
        "dfs_port": free_port(),
        "amqp_port": free_port(),
        "eventhubs_health_port": free_port(),
        "api_port": free_port(),
        "prefect_port": free_port(),
        "alerts_port": free_port(),
        "dashboard_port": free_port(),
        "spark_master": "local[2]",
        "spark_shuffle_partitions": 2,
        "spark_driver_memory": "2g",
    }
    values.update(overrides)
    return Settings(**values)


def with_fresh_zones(settings: Settings, **overrides: object) -> Settings:
    """``settings`` with its own, newly created zone containers (a random prefix), so tests never collide."""
    import uuid

    from infra.settings import ZONES
    from infra.storage.lake import Lake

    prefix = f"t{uuid.uuid4().hex[:8]}"
    fresh = settings.model_copy(update={**{f"{z}_container": f"{prefix}-{z}" for z in ZONES}, **overrides})
    with Lake(fresh) as lake:
        lake.ensure_zones()
    return fresh


@pytest.fixture(scope="session")
def stack_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the session's local stack (Azurite + DFS endpoint)."""
    return make_settings(tmp_path_factory.mktemp("stack"))


@pytest.fixture(scope="session")
def lake_stack(stack_settings: Settings) -> Iterator[Settings]:
    """Azurite and the DFS endpoint, running for the whole test session, with the zone containers."""
    from infra.local.services import azurite_spec, dfs_spec
    from infra.storage.lake import Lake

    launcher = Launcher(stack_settings.state_dir)
    with running(launcher, [azurite_spec(stack_settings), dfs_spec(stack_settings)]):
        with Lake(stack_settings) as lake:
            lake.ensure_zones()
        yield stack_settings


@pytest.fixture(scope="session")
def spark(stack_settings: Settings):
    """One SparkSession for the whole test session (local[2], UI off), tuned as for a small lake.

    Every test's data is tiny, so the session plans as the medallion does below
    ``spark_interpreted_below_mb`` (:func:`infra.spark.volume_conf`): interpreted projections, a static plan
    over one shuffle partition.

    It is wired to the test stack's DFS endpoint (abfs://) but does not start it: ABFS connects lazily, so
    tests on local disk need no services, and tests on the lake also request ``lake_stack``.
    """
    from infra.spark import build_spark_session, tune_for_volume

    session = build_spark_session(stack_settings, app_name="tests", extra_conf={"spark.ui.enabled": "false"})
    tune_for_volume(session, 0, stack_settings)
    yield session
    session.stop()


# The ERRORs Prefect 3.8.8 logs on SQLite that are not a fault of ours and that it recovers from. All are
# one race: a deferred transaction reads, then writes, and SQLite refuses the upgrade at once ("database is
# locked", no busy wait applies) when another write committed in between.
# - A worker's heartbeat: the channel closes, the worker reconnects, and the next heartbeat lands. When the
#   first heartbeat of the reconnected channel is refused too, uvicorn logs the WorkerChannelSetupError that
#   closes it (`worker_channel_initial_heartbeat_failed`), and the worker connects again.
# - A state change (the late-runs service marking a run Late, or a client's set-state call): Prefect counts
#   the error as retryable (`is_client_retryable_exception`), so a client gets a 503 and retries, and the
#   late-runs service schedules the same mark again on its next loop.
# - The foreman's `monitor_worker_health` (a perpetual docket task): it runs again on its next loop.
# Any other ERROR fails the test; so does one of these with any other cause.
SQLITE_LOCKED = "sqlite3.OperationalError) database is locked"
TOLERATED_ERRORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Worker channel heartbeat persistence failed", ("sqlite3.OperationalError: database is locked",)),
    (
        "uvicorn.error - Exception in ASGI application",
        (SQLITE_LOCKED, "WorkerChannelSetupError: worker_channel_initial_heartbeat_failed"),
    ),
    ("prefect.server - Encountered error during state validation", (SQLITE_LOCKED,)),
    ("docket.dependencies - ↩ [", (SQLITE_LOCKED, "monitor_worker_health(){monitor_worker_health}")),
)


def server_error_entries(log: Path) -> list[list[str]]:
    """ERROR entries of a Prefect server's log (first line and traceback), less the tolerated races."""
    if not log.exists():
        return []
    entries: list[list[str]] = []
    for line in log.read_text(errors="replace").splitlines():
        if re.match(r"\d\d:\d\d:\d\d\.\d+ \| ", line):
            entries.append([line])
        elif entries:
            entries[-1].append(line)  # a traceback line of the entry above
    return [
        entry
        for entry in entries
        if "| ERROR" in entry[0]
        and not any(
            first in entry[0] and all(cause in "\n".join(entry) for cause in causes)
            for first, causes in TOLERATED_ERRORS
        )
    ]


def server_errors(log: Path) -> list[str]:
    """The first line of each ERROR entry that `server_error_entries` keeps."""
    return [entry[0] for entry in server_error_entries(log)]


def assert_no_server_errors(log: Path) -> None:
    entries = server_error_entries(log)
    exception = re.compile(r"[\w.]+(Error|Exception)\b")
    shown = []  # each entry with the exceptions it names, so a CI log alone says what went wrong
    for first, *traceback in entries[:20]:
        shown.append("\n    ".join([first, *(line for line in traceback if exception.match(line))]))
    heading = f"the Prefect server logged {len(entries)} ERROR entries in {log}:\n"
    assert not entries, heading + "\n".join(shown)


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The stack's own Prefect server (``prefect server start``, SQLite) for flow tests, on a free port.

    Flows run in-process against it; its scheduler, triggers and actions run as they do for a user. The
    session fails if its log holds an ERROR line.
    """
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_HOME,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        temporary_settings,
    )

    from infra.local.services import prefect_server_spec

    settings = make_settings(tmp_path_factory.mktemp("prefect"))
    launcher = Launcher(settings.state_dir)
    client_settings = {
        PREFECT_API_URL: settings.prefect_api_url,
        PREFECT_HOME: settings.state_dir / "prefect-client",
        PREFECT_SERVER_ANALYTICS_ENABLED: False,
    }
    with running(launcher, [prefect_server_spec(settings)]), temporary_settings(client_settings):
        yield settings
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)  # the run logs still queued reach the server before it stops
    assert_no_server_errors(launcher.log_path("prefect"))


@pytest.fixture(autouse=True)
def _no_prefect_env_leaks() -> Iterator[None]:
    """A test that runs the CLI in-process (its callback sets PREFECT_*) leaves os.environ as it was."""
    before = {k: v for k, v in os.environ.items() if k.startswith("PREFECT_")}
    yield
    for key in [k for k in os.environ if k.startswith("PREFECT_") and k not in before]:
        del os.environ[key]
    os.environ.update(before)
