"""Every service of the local stack (`lakehouse up`), as launcher specs built from settings, in one place.

Azurite, the DFS endpoint, the Event Hubs endpoint, the simulated app_events API, the alerts receiver, the
dashboard, the Spark driver the stack's runs share, the Prefect server and its worker; and, on request only
(`lakehouse up spark`), a Spark standalone master with its workers. Each reads its ports and keys from the
same ``LAKEHOUSE_*`` settings (the launcher passes them through the environment), so ``lakehouse up`` and
the test fixtures differ only in the settings they pass.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from infra.local.app_events_api import ApiConfig
from infra.local.launcher import Launcher, ServiceSpec, http_probe
from infra.settings import PREFECT_WORK_POOL, PROJECT_ROOT, Settings

AZURITE_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "azurite-blob"


def azurite_spec(settings: Settings) -> ServiceSpec:
    """Azurite's Blob service (pinned npm version), its data under ``<state>/azurite``."""
    location = settings.state_dir / "azurite"
    location.mkdir(parents=True, exist_ok=True)
    return ServiceSpec(
        name="azurite",
        command=[
            str(AZURITE_BIN),
            "--blobHost",
            settings.host,
            "--blobPort",
            str(settings.blob_port),
            "--location",
            str(location),
            # The Python SDKs send API versions newer than Azurite 3.37 announces; the calls we make exist.
            "--skipApiVersionCheck",
            "--disableProductStyleUrl",
        ],
        ports={"blob": settings.blob_port},
        port_settings={"blob": "LAKEHOUSE_BLOB_PORT"},
        # Any HTTP answer means Azurite listens; an unsigned list is refused, which is fine here.
        health=http_probe(
            f"http://{settings.host}:{settings.blob_port}/{settings.storage_account}?comp=list"
        ),
        url=settings.blob_url,
        env=settings.to_env(),
        closed_marker="Azurite Blob service successfully closed",
    )


def _python_service(
    settings: Settings,
    name: str,
    module: str,
    ports: dict[str, tuple[int, str]],
    health_url: str,
    url: str,
    **extra: Any,
) -> ServiceSpec:
    """A service that is ``python -m <module>`` of this project, healthy when ``health_url`` answers 200.

    ``ports`` maps each port's role to (port, the ``LAKEHOUSE_*`` setting that changes it).
    """
    extra.setdefault("env", settings.to_env())
    return ServiceSpec(
        name=name,
        command=[sys.executable, "-m", module],
        ports={role: port for role, (port, _) in ports.items()},
        port_settings={role: setting for role, (_, setting) in ports.items()},
        health=http_probe(health_url, lambda r: r.status_code == 200),
        url=url,
        cwd=PROJECT_ROOT,
        **extra,
    )


def dfs_spec(settings: Settings) -> ServiceSpec:
    """The project's ADLS Gen2 (DFS) endpoint in front of Azurite."""
    return _python_service(
        settings,
        "dfs",
        "infra.local.dfs",
        {"dfs": (settings.dfs_port, "LAKEHOUSE_DFS_PORT")},
        f"http://{settings.host}:{settings.dfs_port}/_health",
        settings.dfs_url,
    )


def eventhubs_spec(settings: Settings) -> ServiceSpec:
    """The project's Event Hubs AMQP endpoint (with Capture into the landing zone)."""
    health = f"http://{settings.host}:{settings.eventhubs_health_port}/health"
    return _python_service(
        settings,
        "eventhubs",
        "infra.local.eventhubs",
        {
            "amqp": (settings.amqp_port, "LAKEHOUSE_AMQP_PORT"),
            "health": (settings.eventhubs_health_port, "LAKEHOUSE_EVENTHUBS_HEALTH_PORT"),
        },
        health,
        f"amqp://{settings.host}:{settings.amqp_port} (health {health})",
    )


def alerts_spec(settings: Settings) -> ServiceSpec:
    """The local webhook receiver that Prefect's alert automations post to (no Slack/Teams needed)."""
    return _python_service(
        settings,
        "alerts",
        "infra.local.alerts_receiver",
        {"alerts": (settings.alerts_port, "LAKEHOUSE_ALERTS_PORT")},
        f"{settings.alerts_receiver_url}/health",
        f"{settings.alerts_receiver_url}/alerts",
    )


def app_events_api_spec(settings: Settings, api: ApiConfig | None = None) -> ServiceSpec:
    """The app_events API on ``settings.api_port``, serving the feed ``api`` describes (env by default)."""
    api = api or ApiConfig.from_settings(settings)
    return _python_service(
        settings,
        "app-events-api",
        "infra.local.app_events_api",
        {"api": (settings.api_port, "LAKEHOUSE_API_PORT")},
        f"{settings.api_url}/health",
        f"{settings.api_url} (OpenAPI {settings.api_url}/docs)",
        env=settings.to_env() | api.to_env(),
        # The feed is generated before the port opens: about 20 s per million events on one core.
        startup_timeout=60.0 + 60.0 * api.sf * api.days,
    )


def spark_driver_spec(settings: Settings) -> ServiceSpec:
    """The driver JVM the stack's runs share (``infra/local/spark_driver.py``), healthy once published."""
    from infra.spark import read_shared_driver

    return ServiceSpec(
        name="spark-driver",
        command=[sys.executable, "-m", "infra.local.spark_driver"],
        ports={},
        health=lambda: read_shared_driver(settings) is not None,
        url=f"{settings.spark_master}, shared by the stack's runs (JVM log: logs/spark.log)",
        env=settings.to_env(),
        cwd=PROJECT_ROOT,
        # A JVM start; on a machine without `make setup` it first resolves the jars from Maven Central.
        startup_timeout=300,
        starts_alongside=True,
    )


DASHBOARD_APP = PROJECT_ROOT / "infra" / "local" / "dashboard" / "app.py"


def dashboard_spec(settings: Settings) -> ServiceSpec:
    """The Streamlit dashboard over gold (headless, no usage statistics), healthy when Streamlit says so."""
    base = settings.dashboard_url
    return ServiceSpec(
        name="dashboard",
        command=[
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(DASHBOARD_APP),
            "--server.address",
            settings.listen_host,
            "--server.port",
            str(settings.dashboard_port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
            # A service, not a development session: no file watching, no "rerun on save".
            "--server.fileWatcherType",
            "none",
            "--global.developmentMode",
            "false",
            "--client.toolbarMode",
            "minimal",  # no "Deploy" button: this is a local view, not a Streamlit Cloud app
        ],
        ports={"http": settings.dashboard_port},
        port_settings={"http": "LAKEHOUSE_DASHBOARD_PORT"},
        health=http_probe(f"{base}/_stcore/health", lambda r: r.status_code == 200),
        url=base,
        env=settings.to_env(),
        cwd=PROJECT_ROOT,
    )


def stack_specs(settings: Settings) -> list[ServiceSpec]:
    """Every local service, in start order (storage first: Capture writes into it)."""
    specs = [azurite_spec(settings)]
    if not settings.dfs_endpoint:  # an external DFS endpoint (e.g. a future Azurite) needs no gateway
        specs.append(dfs_spec(settings))
    specs.append(eventhubs_spec(settings))
    specs.append(app_events_api_spec(settings))
    if settings.alert_webhook_url is None:  # alerts go to the local receiver unless a webhook is set
        specs.append(alerts_spec(settings))
    specs.append(dashboard_spec(settings))
    if settings.spark_shared_driver:
        specs.append(spark_driver_spec(settings))
    specs += [prefect_server_spec(settings), prefect_worker_spec(settings)]
    return specs


def launcher_for(settings: Settings) -> Launcher:
    return Launcher(settings.state_dir)


PREFECT_BIN = Path(sys.executable).with_name("prefect")
WORK_POOL = PREFECT_WORK_POOL


def prefect_env(settings: Settings) -> dict[str, str]:
    """Prefect's own settings for the local server, worker and CLI: state under the project, no analytics."""
    api = settings.stack_prefect_api_url
    return {
        "PREFECT_HOME": str(settings.state_dir / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_UI_API_URL": api,
        "PREFECT_SERVER_API_HOST": settings.listen_host,
        "PREFECT_SERVER_API_PORT": str(settings.prefect_port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        # SQLite under a busy laptop: statements wait up to 60 s for a locked database (default 10 s).
        "PREFECT_SERVER_DATABASE_TIMEOUT": "60",
        "PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT": "60",
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


# --- the optional Spark standalone cluster (`lakehouse up spark`) ----------------------------------------
SPARK_MASTER = "spark-master"
# The JVMs of the master and worker daemons themselves (executors get `spark_executor_memory`).
SPARK_DAEMON_MEMORY = "512m"


def spark_class() -> Path:
    """``bin/spark-class`` of the pyspark install: it starts Spark's daemons with pyspark's own jars."""
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def spark_worker_name(index: int) -> str:
    return f"spark-worker-{index + 1}"


def _spark_env(settings: Settings) -> dict[str, str]:
    return settings.to_env() | {
        "SPARK_DAEMON_MEMORY": SPARK_DAEMON_MEMORY,
        # Spark's daemons write their own logs to stderr (the service log), not into the pyspark install.
        "SPARK_LOG_DIR": str(settings.logs_dir),
        "SPARK_NO_DAEMONIZE": "1",
    }


def _master_workers(settings: Settings) -> list[dict[str, Any]]:
    """The workers the master lists in its JSON status (empty if the master does not answer)."""
    import httpx

    try:
        return httpx.get(f"{settings.spark_master_ui_url}/json/", timeout=2.0).json().get("workers", [])
    except (httpx.HTTPError, ValueError):
        return []


def spark_master_spec(settings: Settings) -> ServiceSpec:
    """The standalone master: schedules executors of every driver that connects to ``spark://host:port``."""
    return ServiceSpec(
        name=SPARK_MASTER,
        command=[
            str(spark_class()),
            "org.apache.spark.deploy.master.Master",
            "--host",
            settings.host,
            "--port",
            str(settings.spark_master_port),
            "--webui-port",
            str(settings.spark_master_ui_port),
        ],
        ports={"master": settings.spark_master_port, "ui": settings.spark_master_ui_port},
        port_settings={"master": "LAKEHOUSE_SPARK_MASTER_PORT", "ui": "LAKEHOUSE_SPARK_MASTER_UI_PORT"},
        health=http_probe(f"{settings.spark_master_ui_url}/json/", lambda r: r.status_code == 200),
        url=f"{settings.spark_cluster_url} (UI {settings.spark_master_ui_url})",
        env=_spark_env(settings),
        cwd=settings.state_dir,
        startup_timeout=90,
    )


def spark_worker_spec(settings: Settings, index: int) -> ServiceSpec:
    """Worker ``index``: offers ``spark_worker_cores`` and ``spark_worker_memory`` to the master's drivers.

    Healthy once the master lists it as ALIVE (its UI answering is not enough: it may not have registered).
    """
    ui_port = settings.spark_worker_ui_ports[index]
    work_dir = settings.state_dir / "spark" / spark_worker_name(index)  # the worker creates it

    def registered() -> bool:
        return any(
            w.get("state") == "ALIVE" and w.get("webuiaddress", "").endswith(f":{ui_port}")
            for w in _master_workers(settings)
        )

    return ServiceSpec(
        name=spark_worker_name(index),
        command=[
            str(spark_class()),
            "org.apache.spark.deploy.worker.Worker",
            "--host",
            settings.host,
            "--cores",
            str(settings.spark_worker_cores),
            "--memory",
            settings.spark_worker_memory,
            "--webui-port",
            str(ui_port),
            "--work-dir",
            str(work_dir),
            settings.spark_cluster_url,
        ],
        ports={"ui": ui_port},
        port_settings={"ui": "LAKEHOUSE_SPARK_WORKER_UI_PORTS"},
        health=registered,
        url=f"http://{settings.host}:{ui_port} "
        f"({settings.spark_worker_cores} core(s), {settings.spark_worker_memory})",
        env=_spark_env(settings),
        cwd=settings.state_dir,
        startup_timeout=90,
    )


def spark_cluster_specs(settings: Settings) -> list[ServiceSpec]:
    """The master, then one worker per ``spark_worker_ui_ports`` entry (`lakehouse up spark`)."""
    workers = [spark_worker_spec(settings, i) for i in range(len(settings.spark_worker_ui_ports))]
    return [spark_master_spec(settings), *workers]
