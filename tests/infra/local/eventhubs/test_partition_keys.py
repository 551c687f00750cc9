"""Partition keys land on the partition Azure's service picks (Jenkins lookup3), and old logs still read.

The service's mapping is known from the SDKs that carry ports of its code: the JavaScript SDK's
``mapPartitionKeyToId`` (run here through ``node``) and the Python SDK's buffered-producer resolver (the same
hash; its reduction differs, see :mod:`infra.local.eventhubs.partition_key`).
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.eventhub import EventData
from azure.eventhub._buffered_producer._partition_resolver import PartitionResolver, generate_hash_code
from azure.eventhub.aio import EventHubConsumerClient as AsyncConsumerClient

from infra.local.eventhubs.partition_key import lookup3, partition_for_key, partition_key_hash
from infra.local.launcher import Launcher, running
from infra.local.services import eventhubs_spec
from infra.settings import PROJECT_ROOT
from tests.conftest import make_settings
from tests.infra.local.eventhubs.conftest import Endpoint, receive_events

HERE = Path(__file__).parent
KEY_MAP_SCRIPT = HERE / "js" / "partition_key_map.cjs"
CRC32_ERA = HERE / "data" / "crc32_era"  # partition logs written by the endpoint at 38f14be (CRC-32 routing)
COUNTS = (2, 4, 32)
HUBS = {f"keys-{n}": n for n in COUNTS} | {"legacy": 4}


def ascii_keys(count: int, seed: int = 12) -> list[str]:
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@ "
    # lengths 1..40 cover every tail length of lookup3 and several 12-byte blocks
    return [f"{i}:" + "".join(rng.choices(alphabet, k=rng.randint(0, 38))) for i in range(count)]


UNICODE_KEYS = ["ключ-1", "客户-42", "café", "emoji-😀", "Ω" * 13, "naïve/ß/€", "\u00ff" * 7, "é"]


def js_partition_indexes(keys: list[str], counts: tuple[int, ...]) -> dict[int, list[int]]:
    """What @azure/event-hubs' own mapper says for ``keys`` at each partition count."""
    result = subprocess.run(
        ["node", str(KEY_MAP_SCRIPT), *map(str, counts)],
        input=json.dumps(keys),
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
        timeout=60,
    )
    return {int(count): indexes for count, indexes in json.loads(result.stdout).items()}


def test_lookup3_gives_the_reference_vectors() -> None:
    # the self-test values printed by Bob Jenkins' lookup3.c (driver5)
    assert lookup3(b"") == (0xDEADBEEF, 0xDEADBEEF)
    assert lookup3(b"", 0, 0xDEADBEEF) == (0xBD5B7DDE, 0xDEADBEEF)
    assert lookup3(b"", 0xDEADBEEF, 0xDEADBEEF) == (0x9C093CCD, 0xBD5B7DDE)
    assert lookup3(b"Four score and seven years ago")[0] == 0x17770551
    assert lookup3(b"Four score and seven years ago", 1)[0] == 0xCD628161


def test_mapping_agrees_with_the_javascript_sdk_for_ascii_and_unicode_keys() -> None:
    keys = ascii_keys(2000) + UNICODE_KEYS
    js = js_partition_indexes(keys, (1, 3, *COUNTS))
    for count, indexes in js.items():
        assert [partition_for_key(key, count) for key in keys] == indexes, count


def test_hash_agrees_with_the_python_sdk_resolver_which_reduces_negative_hashes_differently() -> None:
    keys = ascii_keys(2000)
    assert [partition_key_hash(key) for key in keys] == [generate_hash_code(key) for key in keys]
    for count in COUNTS:
        resolver = PartitionResolver([str(i) for i in range(count)])
        sdk = [int(resolver.get_partition_id_by_partition_key(key)) for key in keys]
        ours = [partition_for_key(key, count) for key in keys]
        # Python's % floors where the service's (C#'s) truncates: they part only on negative hashes.
        differing = {key for key, a, b in zip(keys, sdk, ours, strict=True) if a != b}
        expected = {key for key in keys if (h := generate_hash_code(key)) < 0 and h % count != abs(h) % count}
        assert differing == expected, count
        if count == 2:
            assert differing == set()


@pytest.fixture(scope="module")
def key_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """An endpoint with hubs of 2, 4 and 32 partitions, plus ``legacy`` holding the CRC-32-era logs."""
    state = tmp_path_factory.mktemp("eventhubs-keys")
    shutil.copytree(CRC32_ERA / "legacy", state / "eventhubs" / "legacy")
    config = state / "Config.json"
    entities = [{"Name": name, "PartitionCount": n, "ConsumerGroups": []} for name, n in HUBS.items()]
    config.write_text(
        json.dumps(
            {
                "UserConfig": {
                    "NamespaceConfig": [{"Type": "EventHub", "Name": "emulatorNs1", "Entities": entities}]
                }
            }
        )
    )
    settings = make_settings(state, eventhubs_config=config, capture_enabled=False)
    launcher = Launcher(settings.state_dir)
    spec = eventhubs_spec(settings)
    with running(launcher, [spec]):
        yield Endpoint(settings, launcher, spec)


def receive_all(
    endpoint: Endpoint, hub: str, expected: int, timeout: float = 30
) -> list[tuple[str, EventData]]:
    """(partition id, event) of the first ``expected`` events of every partition of ``hub``.

    The async client: it serves 32 partitions concurrently, where the sync one waits on each in turn.
    """

    async def scenario() -> list[tuple[str, EventData]]:
        consumer = AsyncConsumerClient.from_connection_string(
            endpoint.connection_string,
            consumer_group="$Default",
            eventhub_name=hub,
            load_balancing_interval=1,
        )
        received: list[tuple[str, EventData]] = []
        done = asyncio.Event()

        async def on_batch(context, events) -> None:
            received.extend((context.partition_id, event) for event in events)
            if len(received) >= expected:
                done.set()

        async with consumer:
            task = asyncio.create_task(
                consumer.receive_batch(
                    on_event_batch=on_batch, starting_position="-1", max_batch_size=300, prefetch=2000
                )
            )
            try:
                await asyncio.wait_for(done.wait(), timeout)
            finally:
                await consumer.close()
                await task
        return received

    return asyncio.run(scenario())


@pytest.mark.services
def test_keyed_events_sent_by_the_sdk_land_where_azure_puts_them(key_endpoint: Endpoint) -> None:
    keys = ascii_keys(2000, seed=99)[: 2000 - len(UNICODE_KEYS)] + UNICODE_KEYS
    js = js_partition_indexes(keys, COUNTS)
    for count in COUNTS:
        hub = f"keys-{count}"
        with key_endpoint.producer(hub) as producer:
            for key in keys:
                producer.send_event(EventData(key), partition_key=key)
        received = receive_all(key_endpoint, hub, len(keys))
        landed = {event.body_as_str(): int(pid) for pid, event in received}
        assert len(received) == len(landed) == len(keys)
        assert [landed[key] for key in keys] == js[count] == [partition_for_key(k, count) for k in keys]
        assert all(event.partition_key == event.body_as_str().encode() for _pid, event in received)


@pytest.mark.services
def test_partition_logs_written_with_crc32_routing_still_read_back(key_endpoint: Endpoint) -> None:
    expected = json.loads((CRC32_ERA / "expected.json").read_text())
    # the fixture really is from the CRC-32 era: its keyed events sit where CRC-32 put them
    assert all(
        int(row["partition"]) == zlib.crc32(row["partition_key"].encode()) % 4
        for row in expected
        if row["partition_key"]
    )
    received = receive_all(key_endpoint, "legacy", len(expected))
    rows = sorted(
        (
            {
                "partition": pid, "sequence_number": e.sequence_number, "offset": e.offset,
                "body": e.body_as_str(), "partition_key": e.partition_key and e.partition_key.decode(),
            }
            for pid, e in received
        ),
        key=lambda r: (r["partition"], r["sequence_number"]),
    )  # fmt: skip
    assert rows == expected
    # new keyed events go by lookup3 and continue that partition's sequence numbers
    new_partition = str(partition_for_key("customer-0", 4))
    assert new_partition != str(zlib.crc32(b"customer-0") % 4)
    with key_endpoint.producer("legacy") as producer:
        before = producer.get_partition_properties(new_partition)["last_enqueued_sequence_number"]
        producer.send_event(EventData("customer-0-after-upgrade"), partition_key="customer-0")
        after = producer.get_partition_properties(new_partition)["last_enqueued_sequence_number"]
    assert after == before + 1
    latest = receive_events(key_endpoint, "legacy", 1, partition_id=new_partition, starting_position=before)
    assert [(e.sequence_number, e.body_as_str()) for _p, e in latest] == [(after, "customer-0-after-upgrade")]
