"""The storage and messaging services of the local stack, as launcher specs built from settings.

Each service reads its own ports and keys from the same ``LAKEHOUSE_*`` settings (the launcher passes them
through the environment), so ``lakehouse up`` and the test fixtures differ only in the settings they pass.
"""

from __future__ import annotations

import sys

from infra.launcher import ServiceSpec, http_probe
from infra.settings import PROJECT_ROOT, Settings

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


def dfs_spec(settings: Settings) -> ServiceSpec:
    """The project's ADLS Gen2 (DFS) endpoint in front of Azurite."""
    return ServiceSpec(
        name="dfs",
        command=[sys.executable, "-m", "infra.dfs"],
        ports={"dfs": settings.dfs_port},
        port_settings={"dfs": "LAKEHOUSE_DFS_PORT"},
        health=http_probe(
            f"http://{settings.host}:{settings.dfs_port}/_health", lambda r: r.status_code == 200
        ),
        url=settings.dfs_url,
        env=settings.to_env(),
        cwd=PROJECT_ROOT,
    )


def eventhubs_spec(settings: Settings) -> ServiceSpec:
    """The project's Event Hubs AMQP endpoint (with Capture into the landing zone)."""
    return ServiceSpec(
        name="eventhubs",
        command=[sys.executable, "-m", "infra.eventhubs"],
        ports={"amqp": settings.amqp_port, "health": settings.eventhubs_health_port},
        port_settings={"amqp": "LAKEHOUSE_AMQP_PORT", "health": "LAKEHOUSE_EVENTHUBS_HEALTH_PORT"},
        health=http_probe(
            f"http://{settings.host}:{settings.eventhubs_health_port}/health", lambda r: r.status_code == 200
        ),
        url=f"amqp://{settings.host}:{settings.amqp_port} (health http://{settings.host}:{settings.eventhubs_health_port}/health)",
        env=settings.to_env(),
        cwd=PROJECT_ROOT,
    )


def alerts_spec(settings: Settings) -> ServiceSpec:
    """The local webhook receiver that Prefect's alert automations post to (no Slack/Teams needed)."""
    return ServiceSpec(
        name="alerts",
        command=[sys.executable, "-m", "infra.alerts_receiver"],
        ports={"alerts": settings.alerts_port},
        port_settings={"alerts": "LAKEHOUSE_ALERTS_PORT"},
        health=http_probe(f"{settings.alerts_receiver_url}/health", lambda r: r.status_code == 200),
        url=f"{settings.alerts_receiver_url}/alerts",
        env=settings.to_env(),
        cwd=PROJECT_ROOT,
    )
