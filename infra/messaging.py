"""The event bus seam: the Event Hubs clients, made in one place from settings.

Locally the emulator's connection string (the project's Event Hubs endpoint); on Azure the namespace's
host name and :func:`infra.identity.azure_credential`. Same SDK calls either way.
"""

from __future__ import annotations

from azure.eventhub import EventHubProducerClient

from infra.identity import azure_credential
from infra.settings import Settings


def producer_client(settings: Settings, hub: str | None = None) -> EventHubProducerClient:
    """A producer for ``hub`` (default: the reviews hub)."""
    hub = hub or settings.reviews_hub
    if settings.is_local:
        return EventHubProducerClient.from_connection_string(
            settings.eventhubs_connection_string, eventhub_name=hub
        )
    return EventHubProducerClient(settings.eventhubs_host, hub, azure_credential())
