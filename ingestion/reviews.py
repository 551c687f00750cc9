"""Reviews path (streaming): send synthetic reviews to Event Hubs, copy the Capture files to bronze.

* ``send``: reviews as JSON events, partition key = ``product_id``, in size-aware batches (``create_batch``
  and ``add`` until the batch says it is full); the bad records of the generator's manifest go too.
* Capture (Azure's, or the local endpoint's) writes Avro files to landing
  ``eventhubs/<namespace>/<hub>/<partition>/<Y>/<M>/<D>/<h>/<m>/<s>.avro``.
* ``copy_capture_file``: each Capture file not copied yet goes unchanged to bronze
  ``reviews/<namespace>/<hub>/<partition>/...avro`` with ``ingested_at``, ``source_file``, ``load_id`` and
  ``md5`` as DataLake metadata; then a copy-log entry ``bronze/_ops/copy_log/reviews/<same path>.json`` is
  written. A file whose copy is in bronze but not in the log (a run that stopped between the two) is logged
  without being copied again.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from itertools import islice
from typing import Any

import fastavro
from azure.eventhub import EventData, EventDataBatch, EventHubProducerClient

from infra import messaging, zones
from infra.settings import Settings
from infra.storage.lake import Lake
from ingestion.common import iso_utc, json_bytes, md5_hex, utc_now
from ingestion.synthetic import iter_reviews

CAPTURE_ROOT = zones.CAPTURE_ROOT
BRONZE_PREFIX = zones.REVIEWS_BRONZE
COPY_LOG_PREFIX = zones.REVIEWS_COPY_LOG
REVIEWS_PER_SF_DAY0 = 200_000
"""Reviews in the generator's day-0 file at SF1 (docs/data-contract.md volumes)."""


# --- producing --------------------------------------------------------------------------------------
producer_client = messaging.producer_client  # the event bus seam (infra.messaging)


def reviews_to_send(count: int | None, seed: int, sf: float, day: int, start: date) -> list[dict[str, Any]]:
    """The first ``count`` reviews (all when None) of the generator's file of ``day``, bad ones included."""
    records = iter_reviews(sf=sf, seed=seed, day=day, start=start)
    reviews = list(records if count is None else islice(records, count))
    if count is not None and len(reviews) < count:
        raise ValueError(
            f"sf={sf} day {day} has {len(reviews)} reviews, fewer than count={count}: raise sf "
            f"(day 0 holds about {REVIEWS_PER_SF_DAY0:,} x sf reviews)"
        )
    return reviews


def event_body(review: dict[str, Any]) -> str:
    """A review as the JSON line of the contract (UTF-8, nulls as null)."""
    return json.dumps(review, ensure_ascii=False, separators=(",", ":"))


@dataclass
class SendStats:
    """What ``send`` did: events, batches and body bytes, per partition key."""

    events: int = 0
    batches: int = 0
    bytes: int = 0
    events_by_key: dict[str | None, int] = field(default_factory=dict)


def send(
    producer: EventHubProducerClient,
    reviews: Iterable[dict[str, Any]],
    rate: float = 0.0,
    flush_every: int = 0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> SendStats:
    """Send ``reviews`` in size-aware batches, one open batch per partition key (``product_id``).

    A batch is sent when the next event does not fit (``add`` raises ValueError), and every open batch is
    sent every ``flush_every`` events and at the end. ``rate`` > 0 paces the sends to that many events per
    second (flushing a quarter-second's worth at a time); 0 sends as fast as possible.
    """
    stats = SendStats()
    open_batches: dict[str | None, EventDataBatch] = {}
    every = flush_every or (max(1, int(rate / 4)) if rate > 0 else 0)
    started = clock()

    def ship(batch: EventDataBatch) -> None:
        producer.send_batch(batch)
        stats.batches += 1
        stats.bytes += batch.size_in_bytes

    def flush() -> None:
        for batch in open_batches.values():
            if len(batch):
                ship(batch)
        open_batches.clear()

    for review in reviews:
        key = review.get("product_id") or None
        body = event_body(review)
        batch = open_batches.get(key) or producer.create_batch(partition_key=key)
        try:
            batch.add(EventData(body))
        except ValueError:  # full: send it and start the next one with this event
            ship(batch)
            batch = producer.create_batch(partition_key=key)
            batch.add(EventData(body))
        open_batches[key] = batch
        stats.events += 1
        stats.events_by_key[key] = stats.events_by_key.get(key, 0) + 1
        if every and stats.events % every == 0:
            flush()
            if rate > 0:
                sleep(max(0.0, started + stats.events / rate - clock()))
    flush()
    return stats


def last_sequence_numbers(settings: Settings) -> dict[str, int]:
    """Partition id -> last enqueued sequence number (-1 when empty), to count what a send added.

    Every management call of the SDK's sync client takes several turns of its 50 ms polling loop (about
    0.4 s, on Azure and here alike), so the partitions are asked side by side, each with a client of its
    own (the sync client is not documented as thread-safe): two calls' time instead of one plus one per
    partition.
    """

    def last_enqueued(pid: str) -> int:
        with producer_client(settings) as producer:
            return producer.get_partition_properties(pid)["last_enqueued_sequence_number"]

    with producer_client(settings) as producer:
        ids = producer.get_partition_ids()
    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        return dict(zip(ids, pool.map(last_enqueued, ids), strict=True))


def per_partition(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Events enqueued on each partition between two ``last_sequence_numbers`` readings."""
    return {pid: after[pid] - before.get(pid, -1) for pid in sorted(after, key=int)}


# --- landing -> bronze ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptureFile:
    """One Capture file in landing; ``path`` is relative to the landing zone."""

    path: str
    size: int


@dataclass(frozen=True)
class CopyLogEntry:
    """One line of the copy log: one Capture file copied to bronze."""

    source: str
    destination: str
    size: int
    md5: str
    events: int
    partition: str
    load_id: str
    copied_at: str
    recovered: bool = False


capture_prefix = zones.capture_prefix


def list_capture_files(lake: Lake, settings: Settings) -> list[CaptureFile]:
    """Every Avro file Capture wrote for the reviews hub, sorted by path."""
    return [
        CaptureFile(e.path, e.size) for e in lake.files("landing", capture_prefix(settings), suffix=".avro")
    ]


def relative(source: str) -> str:
    """A Capture path below ``eventhubs/``: ``<namespace>/<hub>/<partition>/<Y>/.../<s>.avro``."""
    return source.removeprefix(f"{CAPTURE_ROOT}/")


def copied_files(lake: Lake) -> set[str]:
    """Capture paths (landing-relative) that the copy log lists."""
    prefix = f"{COPY_LOG_PREFIX}/"
    return {
        f"{CAPTURE_ROOT}/{e.path.removeprefix(prefix).removesuffix('.json')}"
        for e in lake.files("bronze", COPY_LOG_PREFIX, suffix=".json")
    }


def count_events(avro: bytes) -> int:
    return sum(1 for _ in fastavro.reader(io.BytesIO(avro)))


def copy_capture_file(lake: Lake, file: CaptureFile, load_id: str) -> CopyLogEntry:
    """Copy one Capture file unchanged to ``bronze/reviews/...`` and log it (no second copy after a crash)."""
    data = lake.read_bytes("landing", file.path)
    md5 = md5_hex(data)
    rel = relative(file.path)
    destination = f"{BRONZE_PREFIX}/{rel}"
    now = iso_utc(utc_now())
    existing = lake.properties("bronze", destination)
    recovered = existing is not None and existing.metadata.get("md5") == md5
    if recovered:
        assert existing is not None
        now = existing.metadata.get("ingested_at", now)
    else:
        metadata = {"ingested_at": now, "source_file": f"landing/{file.path}", "load_id": load_id, "md5": md5}
        lake.write_bytes_with_metadata("bronze", destination, data, metadata)
    entry = CopyLogEntry(
        source=file.path,
        destination=destination,
        size=len(data),
        md5=md5,
        events=count_events(data),
        partition=rel.split("/")[2],
        load_id=load_id,
        copied_at=now,
        recovered=recovered,
    )
    lake.write_bytes("bronze", f"{COPY_LOG_PREFIX}/{rel}.json", json_bytes(asdict(entry)))
    return entry


def read_copy_log(lake: Lake) -> list[CopyLogEntry]:
    """Every entry of the reviews copy log."""
    return [
        CopyLogEntry(**json.loads(lake.read_bytes("bronze", e.path)))
        for e in lake.files("bronze", COPY_LOG_PREFIX, suffix=".json")
    ]


# --- waiting for Capture --------------------------------------------------------------------------------
def captured_sequence_numbers(lake: Lake, settings: Settings) -> dict[str, int]:
    """Partition id -> highest sequence number already in a Capture file (partitions with none left out).

    File names sort by window time, so the newest non-empty file of a partition holds its highest number.
    """
    by_partition: dict[str, list[CaptureFile]] = {}
    prefix = capture_prefix(settings) + "/"
    for file in list_capture_files(lake, settings):
        by_partition.setdefault(file.path.removeprefix(prefix).split("/")[0], []).append(file)
    highest: dict[str, int] = {}
    for partition, files in by_partition.items():
        for file in reversed(files):
            records = fastavro.reader(io.BytesIO(lake.read_bytes("landing", file.path)))
            numbers = [int(r["SequenceNumber"]) for r in records if isinstance(r, dict)]
            if numbers:
                highest[partition] = max(numbers)
                break
    return highest


def capture_lag(targets: dict[str, int], captured: dict[str, int]) -> dict[str, int]:
    """Events per partition that are enqueued (up to ``targets``) but not in a Capture file yet."""
    return {p: t - captured.get(p, -1) for p, t in targets.items() if t > captured.get(p, -1)}


class CaptureStalledError(TimeoutError):
    """Capture wrote nothing for the allowed time while sent events were still missing from its files."""


def wait_for_capture(
    lag: Callable[[], dict[str, int]],
    stall_seconds: float,
    *,
    progress: Callable[[int], None] = lambda remaining: None,
    poll_seconds: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll ``lag()`` until it is empty; raise :class:`CaptureStalledError` once it has not shrunk for
    ``stall_seconds``.

    A slow Capture behind a large send (millions of reviews at SF10) is waited for as long as it keeps
    writing; a Capture that stopped fails after ``stall_seconds``. ``progress`` hears the events still to
    write, every ``10 * poll_seconds``.
    """
    best: int | None = None
    since = reported = clock()
    while missing := lag():
        remaining, now = sum(missing.values()), clock()
        if best is None or remaining < best:
            best, since = remaining, now
        elif now - since >= stall_seconds:
            raise CaptureStalledError(
                f"Capture wrote nothing for {stall_seconds:.0f} s with {remaining} sent event(s) still not "
                f"in a Capture file (per partition: {missing}); is the Event Hubs endpoint running with "
                "capture enabled? See `lakehouse logs eventhubs`."
            )
        if now - reported >= 10 * poll_seconds:
            progress(remaining)
            reported = now
        sleep(poll_seconds)


# --- one send per generated day ----------------------------------------------------------------------------
def sent_marker(sf: float, seed: int, day: int, start: date) -> str:
    """Landing path that records a completed send of one generated day (the pipeline sends each day once).

    A crash mid-send leaves no marker, so the re-run sends the day again: at-least-once, and silver removes
    the redelivered reviews by review_id.
    """
    return f"{zones.SENT_MARKERS}/sf{sf:g}-seed{seed}-{start.isoformat()}-day{day}.json"
