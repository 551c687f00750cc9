"""The Event Hubs topology, read from Microsoft's emulator ``Config.json`` format.

The same file is mounted into Microsoft's Docker emulator by docker-compose, so this module only reads
what that format holds: one namespace, its event hubs (entities), their partition counts and consumer
groups. ``$Default`` is always there; names of hubs and consumer groups compare case-insensitively.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CONSUMER_GROUP = "$Default"


class ConfigError(ValueError):
    """The Config.json file is not in the emulator's format; the message names the offending part."""


@dataclass(frozen=True)
class HubConfig:
    """One event hub: its name, partition ids ("0".."n-1") and consumer groups."""

    name: str
    partition_count: int
    consumer_groups: tuple[str, ...]

    @property
    def partition_ids(self) -> list[str]:
        return [str(i) for i in range(self.partition_count)]

    def consumer_group(self, name: str) -> str | None:
        """The configured spelling of consumer group ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((cg for cg in self.consumer_groups if cg.lower() == wanted), None)


@dataclass(frozen=True)
class NamespaceConfig:
    name: str
    hubs: tuple[HubConfig, ...]

    def hub(self, name: str) -> HubConfig | None:
        """Hub ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        return next((hub for hub in self.hubs if hub.name.lower() == wanted), None)


def parse_config(document: dict) -> NamespaceConfig:
    """Read the emulator's ``{"UserConfig": {"NamespaceConfig": [...]}}`` document."""
    try:
        namespaces = document["UserConfig"]["NamespaceConfig"]
    except (KeyError, TypeError) as exc:
        raise ConfigError("Config.json needs UserConfig.NamespaceConfig (the emulator's format)") from exc
    event_hub_namespaces = [ns for ns in namespaces if str(ns.get("Type", "EventHub")).lower() == "eventhub"]
    if len(event_hub_namespaces) != 1:
        raise ConfigError(
            f"Config.json must hold exactly one EventHub namespace, found {len(event_hub_namespaces)}"
        )
    namespace = event_hub_namespaces[0]
    hubs = []
    for entity in namespace.get("Entities", []):
        name = entity.get("Name")
        count = entity.get("PartitionCount")
        if not name or not isinstance(count, int) or not 1 <= count <= 32:
            raise ConfigError(f"entity {entity!r}: needs a Name and a PartitionCount between 1 and 32")
        groups = [DEFAULT_CONSUMER_GROUP]
        for group in entity.get("ConsumerGroups", []):
            group_name = group.get("Name")
            if not group_name:
                raise ConfigError(f"entity {name!r}: every consumer group needs a Name")
            if group_name.lower() not in (g.lower() for g in groups):
                groups.append(group_name)
        hubs.append(HubConfig(name=name, partition_count=count, consumer_groups=tuple(groups)))
    lowered = [hub.name.lower() for hub in hubs]
    if len(set(lowered)) != len(lowered):
        raise ConfigError("Config.json names an event hub twice")
    return NamespaceConfig(name=namespace.get("Name", "emulatorNs1"), hubs=tuple(hubs))


def load_config(path: Path) -> NamespaceConfig:
    """Read and check ``path``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"Event Hubs config {path} does not exist (LAKEHOUSE_EVENTHUBS_CONFIG)") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"Event Hubs config {path} is not valid JSON: {exc}") from exc
    return parse_config(document)
