"""prefect.yaml loads: every deployment names a flow, its parameters and one schedule.

tests/flows/test_schedules.py deploys it to a real server and waits for the scheduler and the worker.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from prefect import Flow

from flows.deployments import deployment_specs

EXPECTED_SCHEDULES = {
    "reviews-send": timedelta(minutes=5),
    "reviews-land": timedelta(minutes=5),
    "app-events-pull": "0 * * * *",
    "batch-generate": "0 2 * * *",
    "batch-copy": "30 2 * * *",
    "medallion": "15 * * * *",
    "lakehouse-daily": "0 4 * * *",
}


def test_every_deployment_loads_its_flow_and_schedule() -> None:
    specs = {spec.name: spec for spec in deployment_specs()}
    assert {name: spec.cron or spec.interval for name, spec in specs.items()} == EXPECTED_SCHEDULES
    for spec in specs.values():
        flow = spec.load_flow()
        assert isinstance(flow, Flow), spec.entrypoint
        unknown = set(spec.parameters) - set(flow.parameters.properties)
        assert not unknown, f"{spec.name}: parameters {unknown} are not parameters of {flow.name}"
        deployment = flow.to_deployment(name=spec.name, cron=spec.cron, interval=spec.interval)
        assert len(deployment.schedules) == 1
    assert specs["medallion"].concurrency_limit == specs["lakehouse-daily"].concurrency_limit == 1


def test_the_server_log_check_fails_on_errors_and_tolerates_only_the_sqlite_write_races(
    tmp_path: Path,
) -> None:
    from tests.conftest import assert_no_server_errors, server_errors

    log = tmp_path / "prefect.log"
    channel = "prefect.server.utilities.worker_channel"
    log.write_text(
        f"21:00:00.100 | ERROR   | {channel} - Worker channel heartbeat persistence"
        " failed: work_pool=p worker_name=w\nTraceback (most recent call last):\n"
        "sqlite3.OperationalError: database is locked\n"
        "21:00:01.200 | ERROR   | docket.dependencies - schedule_deployments() ...\nTraceback ...\n"
        "sqlalchemy.exc.InvalidRequestError: Can't evaluate bulk DML statement\n"
        f"21:00:02.300 | ERROR   | {channel} - Worker channel heartbeat persistence"
        " failed: work_pool=p worker_name=w\nRuntimeError: Worker channel work pool no longer exists\n"
        "21:00:03.400 | WARNING | prefect.server - slow\n"
        "21:00:04.500 | ERROR   | prefect.server - Encountered error during state validation\nTraceback ...\n"
        "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked\n"
        "[SQL: INSERT INTO flow_run_state ...]\n"
        "21:00:05.600 | ERROR   | prefect.server - Encountered error during state validation\nTraceback ...\n"
        "sqlalchemy.exc.IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed\n"
        # A reconnected worker channel whose first heartbeat is refused (tolerated), and other ASGI errors.
        "21:00:06.700 | ERROR   | uvicorn.error - Exception in ASGI application\nTraceback ...\n"
        "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked\n"
        "prefect.server.api.workers.WorkerChannelSetupError: worker_channel_initial_heartbeat_failed\n"
        "21:00:07.800 | ERROR   | uvicorn.error - Exception in ASGI application\nTraceback ...\n"
        "prefect.server.api.workers.WorkerChannelSetupError: worker_channel_initial_heartbeat_failed\n"
        "21:00:08.900 | ERROR   | uvicorn.error - Exception in ASGI application\nTraceback ...\n"
        "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked\n"
        # The foreman's loop on a locked database (tolerated); another docket task on one (not).
        "21:00:09.000 | ERROR   | docket.dependencies - ↩ [  1469ms] monitor_worker_health()"
        "{monitor_worker_health}\nTraceback ...\n"
        "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked\n"
        "21:00:10.100 | ERROR   | docket.dependencies - ↩ [  12ms] mark_late_runs(){mark_late_runs}\n"
        "sqlalchemy.exc.OperationalError: (sqlite3.OperationalError) database is locked\n"
    )
    assert server_errors(log) == [
        "21:00:01.200 | ERROR   | docket.dependencies - schedule_deployments() ...",
        f"21:00:02.300 | ERROR   | {channel} - Worker channel heartbeat persistence"
        " failed: work_pool=p worker_name=w",
        "21:00:05.600 | ERROR   | prefect.server - Encountered error during state validation",
        "21:00:07.800 | ERROR   | uvicorn.error - Exception in ASGI application",
        "21:00:08.900 | ERROR   | uvicorn.error - Exception in ASGI application",
        "21:00:10.100 | ERROR   | docket.dependencies - ↩ [  12ms] mark_late_runs(){mark_late_runs}",
    ]
    with pytest.raises(AssertionError) as failure:
        assert_no_server_errors(log)
    cause = "sqlalchemy.exc.IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed"
    assert cause in str(failure.value)  # the CI log shows what the server ran into
