"""prefect.yaml as Python objects: for `lakehouse serve` (no worker needed) and for the deployment tests."""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import yaml
from prefect import Flow
from prefect.deployments.runner import RunnerDeployment

from infra.settings import PREFECT_WORK_POOL, PROJECT_ROOT

PREFECT_YAML = PROJECT_ROOT / "prefect.yaml"


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    entrypoint: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    cron: str | None = None
    interval: timedelta | None = None
    concurrency_limit: int | None = None
    tags: tuple[str, ...] = ()

    def load_flow(self) -> Flow:
        """Import the flow object the entrypoint names (``flows/x.py:function``)."""
        path, function = self.entrypoint.split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        return getattr(module, function)


def deployment_specs(prefect_file: Path = PREFECT_YAML) -> list[DeploymentSpec]:
    """Every deployment of prefect.yaml (each has exactly one schedule there)."""
    document = yaml.safe_load(prefect_file.read_text())
    specs = []
    for item in document["deployments"]:
        (schedule,) = item["schedules"]
        specs.append(
            DeploymentSpec(
                name=item["name"],
                entrypoint=item["entrypoint"],
                description=item.get("description", ""),
                parameters=item.get("parameters") or {},
                cron=schedule.get("cron"),
                interval=timedelta(seconds=schedule["interval"]) if "interval" in schedule else None,
                concurrency_limit=item.get("concurrency_limit"),
                tags=tuple(item.get("tags") or ()),
            )
        )
    return specs


def serve_all() -> None:
    """Serve every deployment from this process with its schedule (schedules pause when it stops)."""
    from prefect import serve

    deployments = [
        cast(
            RunnerDeployment,
            spec.load_flow().to_deployment(
                name=spec.name,
                description=spec.description,
                parameters=spec.parameters,
                cron=spec.cron,
                interval=spec.interval,
                concurrency_limit=spec.concurrency_limit,
                tags=list(spec.tags),
            ),
        )  # to_deployment is sync here (async_dispatch: it returns a coroutine only in async code)
        for spec in deployment_specs()
    ]
    serve(*deployments)


def create_pool_and_spark_limit() -> None:
    """The `process` work pool (its default job template, as `prefect work-pool create --type process
    --overwrite` makes it) and the `spark` concurrency limit (one run at a time; kept if it exists).

    Through this process's client: each `prefect` CLI call spent about 5 s importing Prefect.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists
    from prefect.workers.process import ProcessWorker

    pool = WorkPoolCreate(
        name=PREFECT_WORK_POOL,
        type="process",
        base_job_template=ProcessWorker.get_default_base_job_template(),
    )
    with get_client(sync_client=True) as client:
        client.create_work_pool(pool, overwrite=True)
        with contextlib.suppress(ObjectAlreadyExists):
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name="spark", limit=1))


def deploy_command(names: list[str] | None = None, prefect_file: Path | None = None) -> list[str]:
    """The `prefect` CLI call that creates the deployments of prefect.yaml, with their schedules."""
    selection = [arg for name in names for arg in ("--name", name)] if names else ["--all"]
    source = ["--prefect-file", str(prefect_file)] if prefect_file else []
    return ["--no-prompt", "deploy", *source, *selection]
