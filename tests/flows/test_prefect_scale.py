"""Two process workers on the pool run deployments at once, and the `spark` limit still admits one at a time.

The real Prefect server (``prefect_harness``), two workers started from the stack's worker spec (each takes
one flow run at a time), `lakehouse deploy` creating the pool, the deployment and the `spark` limit as a user
runs it. The deployed flow is a stand-in for the medallion: it takes ``concurrency("spark")`` for a few
seconds and records when it held it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from prefect.client.orchestration import get_client

from flows.deployments import PREFECT_YAML
from infra.local.launcher import Launcher, running
from infra.local.services import prefect_worker_spec
from infra.settings import PREFECT_WORK_POOL, PROJECT_ROOT, Settings

pytestmark = [pytest.mark.services]
HOLD_SECONDS = 8.0
WORKERS = ("worker-1", "worker-2")


@pytest.fixture(scope="module")
def workers(prefect_harness: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    """`lakehouse deploy` of the spark-slot deployment, then two workers with one flow run each at most."""
    root = tmp_path_factory.mktemp("scale")
    document = yaml.safe_load(PREFECT_YAML.read_text())
    document["deployments"] = [
        {
            "name": "spark-slot",
            "entrypoint": "tests/support/spark_slot.py:hold_spark_slot",
            "parameters": {"seconds": HOLD_SECONDS, "record_dir": str(root)},
            "schedules": [],
            "work_pool": {"name": PREFECT_WORK_POOL, "work_queue_name": "default"},
        }
    ]
    prefect_file = root / "prefect.yaml"
    prefect_file.write_text(yaml.safe_dump(document, sort_keys=False))
    env = os.environ | prefect_harness.to_env() | {"COLUMNS": "200"}
    env.pop("PREFECT_API_URL", None)
    deployed = subprocess.run(
        [sys.executable, "-m", "flows.cli", "deploy", "--prefect-file", str(prefect_file)],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    base = prefect_worker_spec(prefect_harness)
    specs = [
        replace(
            base,
            name=name,
            command=[*base.command, "--name", name, "--limit", "1"],
            env=base.env | {"PREFECT_WORKER_QUERY_SECONDS": "2"},
        )
        for name in WORKERS
    ]
    launcher = Launcher(prefect_harness.state_dir)
    with running(launcher, specs):
        yield launcher


def test_two_workers_run_two_flows_and_the_spark_slot_has_one_holder(workers: Launcher) -> None:
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("spark")
        deployment = client.read_deployment_by_name("spark-slot/spark-slot")
        runs = [client.create_flow_run_from_deployment(deployment.id) for _ in range(2)]
    assert (limit.limit, limit.active) == (1, True)
    deadline = time.monotonic() + 300
    while True:
        with get_client(sync_client=True) as client:
            finished = [client.read_flow_run(run.id) for run in runs]
        if all(run.state and run.state.is_final() for run in finished):
            break
        assert time.monotonic() < deadline, [run.state_name for run in finished]
        time.sleep(2)
    assert [run.state_name for run in finished] == ["Completed", "Completed"]
    record_dir = Path(deployment.parameters["record_dir"])
    first, second = sorted(
        (json.loads((record_dir / f"{run.id}.json").read_text()) for run in runs),
        key=lambda r: r["started_at"],
    )
    # Each worker took one run (each takes at most one at a time) ...
    assert {first["worker_pid"], second["worker_pid"]} == {workers.pid(name) for name in WORKERS}
    # ... both flows were running at once (the second entered before the first left the slot) ...
    assert second["entered_at"] < first["ended_at"]
    # ... and the slot had one holder at a time: the second waited for the first.
    assert first["ended_at"] <= second["started_at"]
    assert first["ended_at"] - first["started_at"] >= HOLD_SECONDS
