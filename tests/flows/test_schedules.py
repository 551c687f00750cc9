"""Schedules fire and failed runs alert, with the real Prefect server, scheduler, worker and automations.

`lakehouse deploy` runs as a user runs it (a subprocess of the CLI) against a server + process worker started
from the stack's own specs. Nothing is triggered by hand for the schedule tests: the scheduler creates the
runs and the worker picks them up. The one test-only change is the prefect.yaml passed to ``deploy``: the same
deployments, with ``batch-generate`` every 10 s at a tiny scale, and the scheduler looping every 5 s instead
of 60 s so the test does not wait a minute for its first pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import httpx
import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.deployments import PREFECT_YAML, deployment_specs
from infra.local.launcher import Launcher, ServiceSpec, free_port, running
from infra.local.services import alerts_spec, prefect_server_spec, prefect_worker_spec
from infra.settings import PROJECT_ROOT, Settings
from infra.storage.lake import Lake
from tests.conftest import assert_no_server_errors, with_fresh_zones
from transforms.contract import CSV_ENTITIES

pytestmark = [pytest.mark.services]
FAST_DEPLOYMENT = "batch-generate"
# Every interval the worker starts a run: a process that imports Prefect. At 10 s they piled up on a busy CI
# machine (8 submitted at once), and the alert of the failing run below came after 240 s instead of 50 s.
FAST_INTERVAL_SECONDS = 30


@dataclass
class Stack:
    settings: Settings
    launcher: Launcher
    prefect_file: Path


def lakehouse(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | settings.to_env() | {"COLUMNS": "200"}
    env.pop("PREFECT_API_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _with_scheduler_loop(spec: ServiceSpec, seconds: int) -> ServiceSpec:
    from dataclasses import replace

    return replace(spec, env=spec.env | {"PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": str(seconds)})


@pytest.fixture(scope="module")
def stack(lake_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("schedules")
    settings = with_fresh_zones(
        lake_stack,
        state_dir=root / "state",
        cache_dir=root / "cache",
        prefect_port=free_port(),
        alerts_port=free_port(),
        api_port=free_port(),  # no API listens here: the pull deployment fails, as a test below wants
    )
    document = yaml.safe_load(PREFECT_YAML.read_text())
    for item in document["deployments"]:
        if item["name"] == FAST_DEPLOYMENT:
            item["schedules"] = [{"interval": FAST_INTERVAL_SECONDS}]
            item["parameters"] = {"sf": 0.001}
    prefect_file = root / "prefect.yaml"
    prefect_file.write_text(yaml.safe_dump(document, sort_keys=False))
    launcher = Launcher(settings.state_dir)
    services = [
        alerts_spec(settings),
        _with_scheduler_loop(prefect_server_spec(settings), 5),
        prefect_worker_spec(settings),
    ]
    with running(launcher, services):
        deployed = lakehouse(settings, "deploy", "--prefect-file", str(prefect_file))
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        with temporary_settings({PREFECT_API_URL: settings.prefect_api_url}):
            yield Stack(settings, launcher, prefect_file)
    assert_no_server_errors(launcher.log_path("prefect"))


def _runs() -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(limit=200)


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def test_the_scheduler_creates_runs_for_every_deployment(stack: Stack) -> None:
    specs = {spec.name: spec for spec in deployment_specs(stack.prefect_file)}
    with get_client(sync_client=True) as client:
        deployments = {d.id: d for d in client.read_deployments()}
    assert sorted(d.name for d in deployments.values()) == sorted(specs)

    def scheduled_per_deployment() -> dict[str, list[FlowRun]] | None:
        by_name: dict[str, list[FlowRun]] = {name: [] for name in specs}
        for run in _runs():
            if run.state_name == "Scheduled" and run.deployment_id in deployments:
                by_name[deployments[run.deployment_id].name].append(run)
        return by_name if all(by_name.values()) else None

    scheduled = _wait_for(scheduled_per_deployment, 90, "a SCHEDULED run of every deployment")
    now = datetime.now(UTC)
    for name, runs in scheduled.items():
        spec = specs[name]
        assert all(run.auto_scheduled for run in runs), name
        starts = sorted(run.expected_start_time for run in runs if run.expected_start_time)
        assert starts[0] > now - timedelta(minutes=1), name
        if spec.cron:
            minute, hour = spec.cron.split()[:2]
            for start in starts:
                assert start.second == 0 and str(start.minute) == minute, (name, start)
                assert hour == "*" or str(start.hour) == hour, (name, start)
        else:
            assert spec.interval is not None
            gaps = {(b - a).total_seconds() for a, b in pairwise(starts)}
            assert gaps == {spec.interval.total_seconds()}, (name, gaps)


def test_a_scheduled_run_is_picked_up_by_the_worker_and_completes(stack: Stack) -> None:
    with get_client(sync_client=True) as client:
        fast = client.read_deployment_by_name(f"generate-batch/{FAST_DEPLOYMENT}")

    def completed() -> list[FlowRun]:
        return [r for r in _runs() if r.deployment_id == fast.id and r.state_name == "Completed"]

    runs = _wait_for(completed, 180, f"a COMPLETED run of {FAST_DEPLOYMENT}")
    run = runs[0]
    assert run.auto_scheduled is True
    assert run.parameters == {"sf": 0.001}
    assert run.work_pool_name == "lakehouse-process"
    assert run.name.startswith("generate-batch-sf0.001-1d")
    # Nothing was created by hand: every run of the deployment came from the scheduler.
    assert {r.auto_scheduled for r in _runs() if r.deployment_id == fast.id} == {True}
    with Lake(stack.settings) as lake:
        landed = sorted(entry.path for entry in lake.files("landing", "batch", suffix=".csv"))
    assert landed == [f"batch/{entity}/2026-01-01/{entity}.csv" for entity in sorted(CSV_ENTITIES)]


def test_a_failed_deployment_run_posts_one_alert_naming_it(stack: Stack) -> None:
    """`app-events-pull` cannot reach its API (nothing listens on the port): the run fails and alerts."""
    started = lakehouse(stack.settings, "alerts")
    assert started.returncode == 0, started.stdout + started.stderr
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("pull-app-events/app-events-pull")
        run = client.create_flow_run_from_deployment(deployment.id, parameters={"timeout_seconds": 1.0})

    def alerts() -> list[dict]:
        received = httpx.get(f"{stack.settings.alerts_receiver_url}/alerts", timeout=10).json()
        return [a for a in received if str(run.id) in a["message"]["text"]]

    (alert,) = _wait_for(alerts, 240, "the run-failed alert")
    with get_client(sync_client=True) as client:
        finished = client.read_flow_run(run.id)
    assert finished.state_name == "Failed"
    message = alert["message"]
    assert message["subject"] == f"lakehouse: flow run {finished.name} Failed"
    assert message["text"].startswith(
        f"Flow run '{finished.name}' of flow 'pull-app-events' (deployment 'app-events-pull') ended Failed:"
    )
    assert f"/runs/flow-run/{run.id}" in message["text"]
    shown = lakehouse(stack.settings, "alerts")
    assert shown.returncode == 0
    assert f"lakehouse: flow run {finished.name} Failed" in shown.stdout
