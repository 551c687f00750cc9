"""prefect.yaml loads, and a real local Prefect server + process worker runs one of its deployments."""

from __future__ import annotations

import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.deployments import deploy_commands, deployment_specs
from flows.stack import PREFECT_BIN, prefect_env, prefect_server_spec, prefect_worker_spec
from infra.launcher import Launcher, running
from infra.settings import PROJECT_ROOT, Settings

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


def _prefect(settings: Settings, *args: str, timeout: float = 180) -> str:
    env = os.environ | prefect_env(settings) | settings.to_env() | {"PWD": str(PROJECT_ROOT)}
    done = subprocess.run(
        [str(PREFECT_BIN), *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.services
def test_a_worker_runs_a_deployment_from_prefect_yaml(lake_stack: Settings, tmp_path: Path) -> None:
    settings = lake_stack.model_copy(
        update={"state_dir": tmp_path / "state", "cache_dir": tmp_path / "cache"}
    )
    launcher = Launcher(settings.state_dir)
    with running(launcher, [prefect_server_spec(settings), prefect_worker_spec(settings)]):
        for command in deploy_commands(["batch-generate"]):
            _prefect(settings, *command)
        listed = _prefect(settings, "deployment", "ls")
        assert "generate-batch/batch-generate" in listed
        _prefect(
            settings,
            "deployment",
            "run",
            "generate-batch/batch-generate",
            "--param",
            "sf=0.001",
            "--watch",
            "--watch-timeout",
            "240",
            timeout=300,
        )
        api = {PREFECT_API_URL: prefect_env(settings)["PREFECT_API_URL"]}
        with temporary_settings(api), get_client(sync_client=True) as client:
            runs = client.read_flow_runs()
            deployment = client.read_deployment_by_name("generate-batch/batch-generate")
    assert [(r.deployment_id, r.state_type.value) for r in runs] == [(deployment.id, "COMPLETED")]
    assert [s.schedule.cron for s in deployment.schedules] == ["0 2 * * *"]
