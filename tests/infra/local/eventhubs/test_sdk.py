"""The unmodified azure-eventhub SDK (sync and async) against the local endpoint, end to end."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
import time
import urllib.parse
from datetime import UTC, datetime

import httpx
import pytest
from azure.core.credentials import AzureSasCredential
from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient
from azure.eventhub.aio import EventHubConsumerClient as AsyncConsumerClient
from azure.eventhub.aio import EventHubProducerClient as AsyncProducerClient
from azure.eventhub.exceptions import (
    AuthenticationError,
    ConnectError,
    ConnectionLostError,
    EventDataSendError,
)

from infra.local.eventhubs.partition_key import partition_for_key
from infra.local.launcher import Launcher, running
from infra.local.services import azurite_spec
from infra.settings import AZURITE_KEY
from tests.conftest import make_settings
from tests.infra.local.eventhubs.conftest import Endpoint, receive_events, send_bodies

pytestmark = pytest.mark.services


def bodies_of(received: list) -> list[str]:
    return [event.body_as_str() for _pid, event in received]


def test_health_endpoint_answers_like_microsofts(endpoint: Endpoint) -> None:
    settings = endpoint.settings
    response = httpx.get(f"http://{settings.host}:{settings.eventhubs_health_port}/health")
    assert (response.status_code, response.json()) == (200, {"status": "healthy"})


def test_hub_and_partition_properties(endpoint: Endpoint) -> None:
    with endpoint.producer("props") as producer:
        hub = producer.get_eventhub_properties()
        assert (hub["eventhub_name"], hub["partition_ids"]) == ("props", ["0", "1", "2", "3"])
        assert producer.get_partition_ids() == ["0", "1", "2", "3"]
        empty = producer.get_partition_properties("1")
        assert {k: empty[k] for k in ("id", "beginning_sequence_number", "last_enqueued_sequence_number",
                                      "last_enqueued_offset", "is_empty")} == {
            "id": "1", "beginning_sequence_number": 0, "last_enqueued_sequence_number": -1,
            "last_enqueued_offset": "-1", "is_empty": True,
        }  # fmt: skip
        before = datetime.now(UTC).replace(microsecond=0)
        producer.send_event(EventData("a"), partition_id="1")
        producer.send_event(EventData("b"), partition_id="1")
        after = producer.get_partition_properties("1")
    assert (after["last_enqueued_sequence_number"], after["is_empty"], after["eventhub_name"]) == (
        1,
        False,
        "props",
    )
    assert int(after["last_enqueued_offset"]) > 0
    assert before <= after["last_enqueued_time_utc"] <= datetime.now(UTC)
    with endpoint.consumer("props", "$default") as consumer:  # consumer groups are case-insensitive
        assert consumer.get_partition_properties("1")["last_enqueued_sequence_number"] == 1


def test_send_to_partition_by_key_and_as_batch(endpoint: Endpoint) -> None:
    send_bodies(endpoint, "sending", ["p2-a", "p2-b"], partition_id="2")
    send_bodies(endpoint, "sending", [f"key-{i}" for i in range(5)], partition_key="customer-42")
    with endpoint.producer("sending") as producer:
        producer.send_event(EventData("single-keyed"), partition_key="customer-42")
        batch = producer.create_batch()
        for i in range(8):
            batch.add(EventData(f"spread-{i}"))
        producer.send_batch(batch)
    received = receive_events(endpoint, "sending", 16)
    by_partition: dict[str, list[str]] = {}
    for partition_id, event in received:
        by_partition.setdefault(partition_id, []).append(event.body_as_str())
    keyed = str(partition_for_key("customer-42", 4))
    keyed_bodies = [b for b in by_partition[keyed] if b.startswith(("key-", "single"))]
    assert keyed_bodies == [*(f"key-{i}" for i in range(5)), "single-keyed"]
    assert [b for b in by_partition["2"] if b.startswith("p2")] == ["p2-a", "p2-b"]
    assert sorted(bodies_of(received)) == sorted(
        ["p2-a", "p2-b", *(f"key-{i}" for i in range(5)), "single-keyed", *(f"spread-{i}" for i in range(8))]
    )
    keyed_events = [e for pid, e in received if pid == keyed and e.body_as_str().startswith("key-")]
    assert {e.partition_key for e in keyed_events} == {b"customer-42"}


def test_receive_from_offset_sequence_number_time_and_latest(endpoint: Endpoint) -> None:
    send_bodies(endpoint, "positions", [f"first-{i}" for i in range(10)], partition_id="0")
    time.sleep(1.2)
    between = datetime.now(UTC)
    time.sleep(1.2)
    send_bodies(endpoint, "positions", [f"second-{i}" for i in range(3)], partition_id="0")
    everything = [e for _p, e in receive_events(endpoint, "positions", 13, partition_id="0")]
    assert [e.sequence_number for e in everything] == list(range(13))
    offsets = [e.offset for e in everything]
    assert all(isinstance(o, str) for o in offsets) and offsets == sorted(offsets, key=int)

    def bodies_from(position: object, inclusive: bool, expected: int) -> list[str]:
        got = receive_events(
            endpoint, "positions", expected, partition_id="0", starting_position=position,
            inclusive=inclusive,
            settle=0.5,
        )  # fmt: skip
        return bodies_of(got)

    second = [f"second-{i}" for i in range(3)]
    assert bodies_from(offsets[3], False, 9) == [f"first-{i}" for i in range(4, 10)] + second
    assert bodies_from(offsets[3], True, 10) == [f"first-{i}" for i in range(3, 10)] + second
    assert bodies_from(5, False, 7) == [f"first-{i}" for i in range(6, 10)] + second
    assert bodies_from(5, True, 8) == [f"first-{i}" for i in range(5, 10)] + second
    assert bodies_from(between, False, 3) == second
    assert bodies_from(everything[10].enqueued_time, True, 3) == second

    # @latest: only events sent after the receiver attached.
    consumer = endpoint.consumer("positions")
    live: list[str] = []
    attached = threading.Event()

    def on_event(_context: object, event: EventData | None) -> None:
        attached.set()
        if event is not None:
            live.append(event.body_as_str())

    worker = threading.Thread(
        target=lambda: consumer.receive(on_event=on_event, partition_id="0", starting_position="@latest",
                                        max_wait_time=0.3),
    )  # fmt: skip
    worker.start()
    assert attached.wait(15)
    send_bodies(endpoint, "positions", ["live-1", "live-2"], partition_id="0")
    deadline = time.time() + 10
    while len(live) < 2 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    consumer.close()
    worker.join()
    assert live == ["live-1", "live-2"]


def test_two_consumer_groups_read_independently(endpoint: Endpoint) -> None:
    sent = [f"event-{i}" for i in range(40)]
    send_bodies(endpoint, "groups", sent[:20], partition_id="0")
    send_bodies(endpoint, "groups", sent[20:], partition_id="1")
    lakehouse = receive_events(endpoint, "groups", 40, group="lakehouse", settle=0.5)
    analytics = receive_events(endpoint, "groups", 40, group="Analytics", settle=0.5)
    assert sorted(bodies_of(lakehouse)) == sorted(sent)
    assert sorted(bodies_of(analytics)) == sorted(sent)


def test_every_event_arrives_exactly_once_in_partition_order(endpoint: Endpoint) -> None:
    sent = [f"order-{i:05d}" for i in range(3000)]
    for key in range(6):
        send_bodies(endpoint, "ordering", sent[key::6], partition_key=f"key-{key}")
    received = receive_events(endpoint, "ordering", len(sent), settle=1.0, prefetch=500)
    assert sorted(bodies_of(received)) == sent  # all of them, none twice
    by_partition: dict[str, list[EventData]] = {}
    for partition_id, event in received:
        by_partition.setdefault(partition_id, []).append(event)
    for partition_id, events in by_partition.items():
        assert [e.sequence_number for e in events] == list(range(len(events))), partition_id
        # events of one key keep the order they were sent in
        for key in range(6):
            of_key = [e.body_as_str() for e in events if e.partition_key == f"key-{key}".encode()]
            assert of_key == sorted(of_key)


def test_restart_keeps_offsets_and_sequence_numbers(endpoint: Endpoint) -> None:
    send_bodies(endpoint, "restart", [f"before-{i}" for i in range(50)], partition_id="1")
    before = [
        (e.sequence_number, e.offset, e.body_as_str()) for _p, e in receive_events(endpoint, "restart", 50)
    ]
    with endpoint.producer("restart") as producer:
        properties_before = producer.get_partition_properties("1")
    endpoint.restart()
    with endpoint.producer("restart") as producer:
        assert producer.get_partition_properties("1") == properties_before
    after = [
        (e.sequence_number, e.offset, e.body_as_str()) for _p, e in receive_events(endpoint, "restart", 50)
    ]
    assert after == before
    send_bodies(endpoint, "restart", ["after-restart"], partition_id="1")
    latest = receive_events(endpoint, "restart", 1, partition_id="1", starting_position=49)
    assert [(e.sequence_number, e.body_as_str()) for _p, e in latest] == [(50, "after-restart")]


def sas_token(resource: str, key: str, expires_at: int) -> str:
    encoded = urllib.parse.quote_plus(resource)
    digest = hmac.new(key.encode(), f"{encoded}\n{expires_at}".encode(), hashlib.sha256).digest()
    signature = urllib.parse.quote_plus(base64.b64encode(digest))
    return f"SharedAccessSignature sr={encoded}&sig={signature}&se={expires_at}&skn=RootManageSharedAccessKey"


def test_wrong_key_and_expired_token_raise_authentication_error(endpoint: Endpoint) -> None:
    wrong = endpoint.connection_string.replace("SharedAccessKey=SAS_KEY_VALUE", "SharedAccessKey=not-the-key")
    producer = EventHubProducerClient.from_connection_string(wrong, eventhub_name="errors", retry_total=0)
    with producer, pytest.raises(AuthenticationError, match="InvalidSignature"):
        producer.send_event(EventData("x"), partition_id="0")
    with (
        EventHubConsumerClient.from_connection_string(
            wrong, consumer_group="$Default", eventhub_name="errors", retry_total=0
        ) as consumer,
        pytest.raises(AuthenticationError),
    ):
        consumer.get_eventhub_properties()
    settings = endpoint.settings
    resource = f"sb://{settings.host}:{settings.amqp_port}/errors"
    expired = AzureSasCredential(sas_token(resource, "SAS_KEY_VALUE", int(time.time()) - 60))
    with (
        EventHubProducerClient(
            f"{settings.host}:{settings.amqp_port}", "errors", expired, retry_total=0, use_tls=False
        ) as producer,
        pytest.raises(AuthenticationError, match="ExpiredToken"),
    ):
        producer.send_event(EventData("x"), partition_id="0")


def test_token_for_another_hub_is_refused(endpoint: Endpoint) -> None:
    settings = endpoint.settings
    other = f"sb://{settings.host}:{settings.amqp_port}/props"
    credential = AzureSasCredential(sas_token(other, "SAS_KEY_VALUE", int(time.time()) + 600))
    with (
        EventHubProducerClient(
            f"{settings.host}:{settings.amqp_port}", "errors", credential, retry_total=0, use_tls=False
        ) as producer,
        pytest.raises(AuthenticationError, match="Unauthorized access to 'errors'"),
    ):
        producer.send_event(EventData("x"), partition_id="0")


def test_unknown_hub_and_consumer_group_raise_not_found(endpoint: Endpoint) -> None:
    with endpoint.producer("no-such-hub", retry_total=0) as producer:
        with pytest.raises(ConnectError, match="could not be found"):
            producer.get_eventhub_properties()
        with pytest.raises(ConnectError, match="could not be found"):
            producer.send_event(EventData("x"))
    with pytest.raises(ConnectionLostError, match="amqp:not-found"):
        receive_events(
            endpoint, "errors", 1, group="no-such-group", partition_id="0", retry_total=0, timeout=10
        )


def test_event_over_one_megabyte_is_rejected(endpoint: Endpoint) -> None:
    with endpoint.producer("errors", retry_total=0) as producer:
        with pytest.raises(EventDataSendError, match=r"message-size-exceeded|exceeds the limit"):
            producer.send_event(EventData(b"x" * (1024 * 1024 + 1)), partition_id="0")
        # just under the limit still goes through (split over several transfer frames)
        producer.send_event(EventData(b"y" * (1000 * 1024)), partition_id="0")
        assert producer.get_partition_properties("0")["last_enqueued_sequence_number"] == 0
    big = receive_events(endpoint, "errors", 1, partition_id="0")
    assert big[0][1].body_as_str() == "y" * (1000 * 1024)


def test_higher_owner_level_steals_the_partition(endpoint: Endpoint) -> None:
    send_bodies(endpoint, "epochs", ["e1"], partition_id="0")
    first = endpoint.consumer("epochs")
    errors: list[Exception] = []
    started = threading.Event()

    def on_event(_context: object, _event: object) -> None:
        started.set()

    worker = threading.Thread(
        target=lambda: first.receive(
            on_event=on_event, on_error=lambda _c, e: errors.append(e), partition_id="0", owner_level=1,
            starting_position="-1", max_wait_time=0.3,
        )
    )  # fmt: skip
    worker.start()
    assert started.wait(15)
    taken = receive_events(endpoint, "epochs", 1, partition_id="0", owner_level=2)
    deadline = time.time() + 10
    while not errors and time.time() < deadline:
        time.sleep(0.05)
    first.close()
    worker.join()
    assert [e.body_as_str() for _p, e in taken] == ["e1"]
    assert isinstance(errors[0], ConnectionLostError) and "amqp:link:stolen" in str(errors[0])


def test_runtime_metrics_report_the_last_enqueued_event(endpoint: Endpoint) -> None:
    send_bodies(endpoint, "metrics", [f"m{i}" for i in range(5)], partition_id="0")
    consumer = endpoint.consumer("metrics")
    seen: list[dict] = []

    def on_event(context, event) -> None:
        if event is not None:
            seen.append(context.last_enqueued_event_properties)
            if len(seen) == 5:
                threading.Thread(target=consumer.close).start()

    with consumer:
        consumer.receive(
            on_event=on_event,
            partition_id="0",
            starting_position="-1",
            track_last_enqueued_event_properties=True,
        )
    assert {p["sequence_number"] for p in seen} == {4}
    assert all(p["offset"] is not None and p["enqueued_time"] is not None for p in seen)


def test_async_clients_send_and_receive(endpoint: Endpoint) -> None:
    async def scenario() -> tuple[list[str], list[str]]:
        producer = AsyncProducerClient.from_connection_string(
            endpoint.connection_string, eventhub_name="async-hub"
        )
        async with producer:
            ids = await producer.get_partition_ids()
            batch = await producer.create_batch(partition_id="1")
            for i in range(20):
                batch.add(EventData(f"async-{i}"))
            await producer.send_batch(batch)
        # A short load-balancing interval: the SDK's receive task sleeps it out before returning on close.
        consumer = AsyncConsumerClient.from_connection_string(
            endpoint.connection_string,
            consumer_group="$Default",
            eventhub_name="async-hub",
            load_balancing_interval=1,
        )
        received: list[str] = []

        async def on_event(_context, event) -> None:
            received.append(event.body_as_str())

        async with consumer:
            task = asyncio.create_task(consumer.receive(on_event=on_event, starting_position="-1"))
            for _ in range(200):
                if len(received) >= 20:
                    break
                await asyncio.sleep(0.05)
            await consumer.close()
            await task
        return ids, received

    ids, received = asyncio.run(scenario())
    assert ids == ["0", "1"]
    assert received == [f"async-{i}" for i in range(20)]


def test_checkpoint_store_balances_partitions_between_two_consumers(endpoint: Endpoint, tmp_path) -> None:
    from azure.eventhub.extensions.checkpointstoreblob import BlobCheckpointStore
    from azure.storage.blob import BlobServiceClient

    storage = make_settings(tmp_path)
    blob_connection = (
        f"DefaultEndpointsProtocol=http;AccountName={storage.storage_account};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={storage.blob_url};"
    )
    with running(Launcher(storage.state_dir), [azurite_spec(storage)]):
        BlobServiceClient.from_connection_string(blob_connection).create_container("checkpoints")
        received: dict[str, list[tuple[str, str]]] = {"a": [], "b": []}
        clients = {}
        threads = []
        for name in ("a", "b"):
            store = BlobCheckpointStore.from_connection_string(blob_connection, "checkpoints")
            clients[name] = endpoint.consumer(
                "balancing", "balancers", checkpoint_store=store, load_balancing_interval=1,
                partition_ownership_expiration_interval=4,
            )  # fmt: skip

            def on_event(context, event, name=name) -> None:
                if event is not None:
                    received[name].append((context.partition_id, event.body_as_str()))
                    context.update_checkpoint(event)

            threads.append(
                threading.Thread(
                    target=clients[name].receive,
                    kwargs={"on_event": on_event, "starting_position": "-1", "max_wait_time": 0.5},
                )
            )
        for thread in threads:
            thread.start()
        try:
            store = BlobCheckpointStore.from_connection_string(blob_connection, "checkpoints")
            namespace = endpoint.settings.eventhubs_host  # what the SDK records ownership under
            deadline = time.time() + 60
            owners: dict[str, str] = {}
            while time.time() < deadline:
                ownership = store.list_ownership(namespace, "balancing", "balancers")
                owners = {o["partition_id"]: o["owner_id"] for o in ownership}
                counts = sorted(list(owners.values()).count(v) for v in set(owners.values()))
                if len(owners) == 4 and counts == [2, 2]:
                    break
                time.sleep(0.5)
            assert len(owners) == 4 and sorted(
                list(owners.values()).count(v) for v in set(owners.values())
            ) == [2, 2]
            time.sleep(1.5)  # both consumers have their two partitions' receivers attached
            sent = [f"balanced-{i:03d}" for i in range(200)]
            for partition_id in "0123":
                send_bodies(endpoint, "balancing", sent[int(partition_id) :: 4], partition_id=partition_id)
            deadline = time.time() + 30
            while len(received["a"]) + len(received["b"]) < len(sent) and time.time() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)
        finally:
            for client in clients.values():
                client.close()
            for thread in threads:
                thread.join()
        assert sorted(body for name in "ab" for _p, body in received[name]) == sent
        assert {len({p for p, _b in received[name]}) for name in "ab"} == {2}
        checkpoints = store.list_checkpoints(namespace, "balancing", "balancers")
        assert sorted((c["partition_id"], c["sequence_number"]) for c in checkpoints) == [
            (p, 49) for p in "0123"
        ]
