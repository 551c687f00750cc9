"""Fixtures of the Event Hubs tests: one endpoint per module, started by the launcher on free ports.

Each test uses its own event hub (the test Config.json below declares them), so tests sharing the module's
endpoint never see each other's events.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient

from infra.local.launcher import Launcher, ServiceSpec, running
from infra.local.services import eventhubs_spec
from infra.settings import Settings
from tests.conftest import make_settings

# hub name -> (partition count, extra consumer groups)
TEST_HUBS: dict[str, tuple[int, list[str]]] = {
    "product-reviews": (4, ["lakehouse", "analytics"]),
    "props": (4, []),
    "sending": (4, []),
    "positions": (2, []),
    "groups": (2, ["lakehouse", "analytics"]),
    "ordering": (4, []),
    "balancing": (4, ["balancers"]),
    "restart": (2, []),
    "errors": (1, []),
    "epochs": (1, []),
    "metrics": (1, []),
    "async-hub": (2, []),
    "proton-hub": (1, []),
    "capture-hub": (2, []),
    "js-hub": (2, []),
    "js-epochs": (1, []),
    "fuzz-hub": (1, []),
}


def write_test_config(path: Path) -> Path:
    entities = [
        {"Name": name, "PartitionCount": count, "ConsumerGroups": [{"Name": g} for g in groups]}
        for name, (count, groups) in TEST_HUBS.items()
    ]
    document = {
        "UserConfig": {
            "NamespaceConfig": [{"Type": "EventHub", "Name": "emulatorNs1", "Entities": entities}],
            "LoggingConfig": {"Type": "File"},
        }
    }
    path.write_text(json.dumps(document, indent=2))
    return path


@dataclass
class Endpoint:
    """A running endpoint: its settings, and the launcher + spec to restart it."""

    settings: Settings
    launcher: Launcher
    spec: ServiceSpec

    @property
    def connection_string(self) -> str:
        return self.settings.eventhubs_connection_string

    def producer(self, hub: str, **kwargs: Any) -> EventHubProducerClient:
        return EventHubProducerClient.from_connection_string(
            self.connection_string, eventhub_name=hub, **kwargs
        )

    def consumer(self, hub: str, group: str = "$Default", **kwargs: Any) -> EventHubConsumerClient:
        return EventHubConsumerClient.from_connection_string(
            self.connection_string, consumer_group=group, eventhub_name=hub, **kwargs
        )

    def restart(self) -> None:
        self.launcher.stop(self.spec)
        self.launcher.start(self.spec)


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """The endpoint with the test hubs (Capture off), for one test module."""
    state = tmp_path_factory.mktemp("eventhubs")
    settings = make_settings(
        state, eventhubs_config=write_test_config(state / "Config.json"), capture_enabled=False
    )
    launcher = Launcher(settings.state_dir)
    spec = eventhubs_spec(settings)
    with running(launcher, [spec]):
        yield Endpoint(settings, launcher, spec)


def send_bodies(
    endpoint: Endpoint,
    hub: str,
    bodies: list[str],
    *,
    partition_id: str | None = None,
    partition_key: str | None = None,
) -> None:
    """Send ``bodies`` as SDK batches (as many as needed)."""
    with endpoint.producer(hub) as producer:
        batch = producer.create_batch(partition_id=partition_id, partition_key=partition_key)
        for body in bodies:
            try:
                batch.add(EventData(body))
            except ValueError:
                producer.send_batch(batch)
                batch = producer.create_batch(partition_id=partition_id, partition_key=partition_key)
                batch.add(EventData(body))
        if len(batch):
            producer.send_batch(batch)


def receive_events(
    endpoint: Endpoint,
    hub: str,
    expected: int,
    *,
    group: str = "$Default",
    partition_id: str | None = None,
    starting_position: Any = "-1",
    inclusive: bool = False,
    timeout: float = 20.0,
    settle: float = 0.0,
    **client_kwargs: Any,
) -> list[tuple[str, Any]]:
    """(partition id, EventData) received until ``expected`` arrived (then ``settle`` s more) or timeout."""
    consumer = endpoint.consumer(hub, group, **client_kwargs)
    received: list[tuple[str, Any]] = []
    done = threading.Event()
    errors: list[Exception] = []

    def on_events(context: Any, events: list[Any]) -> None:
        received.extend((context.partition_id, event) for event in events)
        if len(received) >= expected:
            done.set()

    def on_error(_context: Any, error: Exception) -> None:
        errors.append(error)
        done.set()

    def stopper() -> None:
        done.wait(timeout)
        if settle:
            time.sleep(settle)
        consumer.close()

    threading.Thread(target=stopper, daemon=True).start()
    kwargs: dict[str, Any] = {
        "starting_position": starting_position,
        "starting_position_inclusive": inclusive,
    }
    if partition_id is not None:
        kwargs["partition_id"] = partition_id
    for name in ("owner_level", "track_last_enqueued_event_properties"):
        if name in client_kwargs:
            kwargs[name] = client_kwargs.pop(name)
    with consumer:
        # Batches: the sync SDK serves all partitions from one thread, one event per partition per turn
        # otherwise, waiting its socket timeout on each idle partition.
        consumer.receive_batch(on_event_batch=on_events, on_error=on_error, max_batch_size=300, **kwargs)
    if errors:
        raise errors[0]
    return received
