"""The app_events API as a launcher service spec, as :mod:`infra.services` does for the storage services."""

from __future__ import annotations

import sys

from infra.launcher import ServiceSpec, http_probe
from infra.settings import PROJECT_ROOT, Settings
from ingestion.app_events_api import ApiConfig


def app_events_api_spec(settings: Settings, api: ApiConfig | None = None) -> ServiceSpec:
    """The app_events API on ``settings.api_port``, serving the feed ``api`` describes (env by default)."""
    api = api or ApiConfig()
    return ServiceSpec(
        name="app-events-api",
        command=[sys.executable, "-m", "ingestion.app_events_api"],
        ports={"api": settings.api_port},
        port_settings={"api": "LAKEHOUSE_API_PORT"},
        health=http_probe(f"{settings.api_url}/health", lambda r: r.status_code == 200),
        url=f"{settings.api_url} (OpenAPI {settings.api_url}/docs)",
        env=settings.to_env() | api.to_env(),
        cwd=PROJECT_ROOT,
        # The feed is generated before the port opens: about 20 s per million events on one core.
        startup_timeout=60.0 + 60.0 * api.sf * api.days,
    )
