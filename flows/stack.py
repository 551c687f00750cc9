"""The local stack that `lakehouse up` manages: which services, in which order, from which settings."""

from __future__ import annotations

from infra.launcher import Launcher, ServiceSpec
from infra.services import azurite_spec, dfs_spec, eventhubs_spec
from infra.settings import Settings


def stack_specs(settings: Settings) -> list[ServiceSpec]:
    """Every local service, in start order (storage first: Capture writes into it)."""
    specs = [azurite_spec(settings)]
    if not settings.dfs_endpoint:  # an external DFS endpoint (e.g. a future Azurite) needs no gateway
        specs.append(dfs_spec(settings))
    specs.append(eventhubs_spec(settings))
    return specs


def launcher_for(settings: Settings) -> Launcher:
    return Launcher(settings.state_dir)
