"""The local stack that `lakehouse up` manages: which services, in which order, from which settings."""

from __future__ import annotations

import sys
from pathlib import Path

from infra.launcher import Launcher, ServiceSpec, http_probe
from infra.services import alerts_spec, azurite_spec, dfs_spec, eventhubs_spec
from infra.settings import PROJECT_ROOT, Settings
from ingestion.services import app_events_api_spec


def stack_specs(settings: Settings) -> list[ServiceSpec]:
    """Every local service, in start order (storage first: Capture writes into it)."""
    specs = [azurite_spec(settings)]
    if not settings.dfs_endpoint:  # an external DFS endpoint (e.g. a future Azurite) needs no gateway
        specs.append(dfs_spec(settings))
    specs.append(eventhubs_spec(settings))
    specs.append(app_events_api_spec(settings))
    if settings.alert_webhook_url is None:  # alerts go to the local receiver unless a webhook is set
        specs.append(alerts_spec(settings))
    specs += [prefect_server_spec(settings), prefect_worker_spec(settings)]
    return specs


def launcher_for(settings: Settings) -> Launcher:
    return Launcher(settings.state_dir)


PREFECT_BIN = Path(sys.executable).with_name("prefect")
WORK_POOL = "lakehouse-process"


def prefect_env(settings: Settings) -> dict[str, str]:
    """Prefect's own settings for the local server, worker and CLI: state under the project, no analytics."""
    api = settings.prefect_api_url
    return {
        "PREFECT_HOME": str(settings.state_dir / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_UI_API_URL": api,
        "PREFECT_SERVER_API_HOST": settings.listen_host,
        "PREFECT_SERVER_API_PORT": str(settings.prefect_port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    }


def prefect_server_spec(settings: Settings) -> ServiceSpec:
    """Prefect server + UI (SQLite under <state>/prefect)."""
    base = f"http://{settings.host}:{settings.prefect_port}"
    return ServiceSpec(
        name="prefect",
        command=[
            str(PREFECT_BIN),
            "server",
            "start",
            "--host",
            settings.listen_host,
            "--port",
            str(settings.prefect_port),
            "--analytics-off",
        ],
        ports={"ui": settings.prefect_port},
        port_settings={"ui": "LAKEHOUSE_PREFECT_PORT"},
        health=http_probe(f"{base}/api/health", lambda r: r.status_code == 200),
        url=f"{base} (UI)",
        env=settings.to_env() | prefect_env(settings),
        cwd=PROJECT_ROOT,
        startup_timeout=120,
    )


def prefect_worker_spec(settings: Settings) -> ServiceSpec:
    """A process worker that runs the deployments of the `lakehouse-process` pool from the project folder."""
    return ServiceSpec(
        name="worker",
        command=[str(PREFECT_BIN), "worker", "start", "--pool", WORK_POOL, "--type", "process"],
        ports={},
        health=lambda: True,
        url=f"pool {WORK_POOL}",
        env=settings.to_env() | prefect_env(settings),
        cwd=PROJECT_ROOT,
        startup_timeout=5,
    )
