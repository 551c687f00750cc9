"""Reviews flows: ``send_reviews`` produces to Event Hubs, ``land_reviews`` copies Capture files to bronze.

Where the event hub and the lake are comes from :func:`infra.settings.get_settings`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from infra.settings import Settings, get_settings
from infra.storage.lake import Lake
from ingestion import reviews
from ingestion.common import in_child_process, new_load_id, storage_errors

STORAGE_RETRIES: dict = {
    "retries": 2,
    "retry_delay_seconds": exponential_backoff(backoff_factor=0.5),
    "retry_jitter_factor": 0.5,
    "cache_policy": NO_CACHE,
}


@dataclass(frozen=True)
class SendReport:
    """What ``send_reviews`` sent: events per partition (from the hub's sequence numbers) and totals."""

    events: int
    batches: int
    bytes: int
    events_by_partition: dict[str, int]
    seconds: float


@task(cache_policy=NO_CACHE)
def generate_reviews(count: int | None, seed: int, sf: float, day: int, start: date) -> list[dict[str, Any]]:
    """The generator's reviews of ``day`` (bad records included), the first ``count`` of them.

    Generated in a process of its own: a day's reviews need its customers, products and orders too.
    """
    return in_child_process(reviews.reviews_to_send, count, seed, sf, day, start)


@task(retries=2, retry_delay_seconds=exponential_backoff(backoff_factor=1.0), cache_policy=NO_CACHE)
def send_to_event_hub(settings: Settings, records: list[dict[str, Any]], rate: float) -> SendReport:
    """Send the reviews in size-aware batches keyed by product_id; count what each partition received."""
    before = reviews.last_sequence_numbers(settings)
    with reviews.producer_client(settings) as producer:
        started = time.monotonic()
        stats = reviews.send(producer, records, rate)
        seconds = time.monotonic() - started
    after = reviews.last_sequence_numbers(settings)
    return SendReport(stats.events, stats.batches, stats.bytes, reviews.per_partition(before, after), seconds)


@task(cache_policy=NO_CACHE)
def report_send(report: SendReport, hub: str) -> None:
    """Table artifact ``send-reviews``: events per partition."""
    rows = [{"partition": pid, "events": n} for pid, n in report.events_by_partition.items()]
    rate = report.events / report.seconds if report.seconds else 0.0
    description = (
        f"{report.events} reviews to {hub} in {report.batches} batches ({report.bytes} bytes), "
        f"{report.seconds:.1f} s ({rate:,.0f} events/s)"
    )
    create_table_artifact(rows, key="send-reviews", description=description)


@flow(name="send-reviews", flow_run_name="send-reviews-sf{sf}-day{day}")
def send_reviews(
    count: int | None = None,
    rate: float = 0.0,
    seed: int = 7,
    sf: float = 0.01,
    day: int = 0,
    start: date = date(2026, 1, 1),
) -> SendReport:
    """Send the synthetic reviews of ``day`` at scale ``sf`` (the first ``count``, or all) to Event Hubs.

    Malformed reviews of the manifest are sent too.

    Args:
        count: Send only the first N reviews of the day (empty = all of them).
        rate: Events per second; 0 sends as fast as possible.
        seed: Random seed of the synthetic data (the same seed sends the same reviews).
        sf: Scale factor of the synthetic data (1 = 200k reviews a day).
        day: Which generated day to send (0 = the start date).
        start: Date of day 0.
    """
    settings = get_settings()
    records = generate_reviews(count, seed, sf, day, start)
    report = send_to_event_hub(settings, records, rate)
    report_send(report, settings.reviews_hub)
    return report


@task(**STORAGE_RETRIES)
def list_new_capture_files(settings: Settings) -> list[reviews.CaptureFile]:
    """Capture files in landing that the copy log does not list yet."""
    with storage_errors(settings, "listing Capture files"), Lake.quick_to_fail(settings) as lake:
        done = reviews.copied_files(lake)
        return [f for f in reviews.list_capture_files(lake, settings) if f.path not in done]


@task(timeout_seconds=600, **STORAGE_RETRIES)
def copy_capture_file(settings: Settings, file: reviews.CaptureFile, load_id: str) -> reviews.CopyLogEntry:
    """Copy one Capture file unchanged to ``bronze/reviews/`` and add it to the copy log."""
    with storage_errors(settings, f"copying {file.path}"), Lake.quick_to_fail(settings) as lake:
        return reviews.copy_capture_file(lake, file, load_id)


@task(cache_policy=NO_CACHE)
def report_land(load_id: str, entries: list[reviews.CopyLogEntry]) -> None:
    """Table artifact ``land-reviews``: one row per file copied by this run."""
    rows = [
        {
            "file": e.source,
            "partition": e.partition,
            "events": e.events,
            "size": e.size,
            "recovered": e.recovered,
        }
        for e in entries
    ]
    description = f"load {load_id}: {len(rows)} file(s), {sum(e.events for e in entries)} events"
    create_table_artifact(rows, key="land-reviews", description=description)


@flow(name="land-reviews", flow_run_name="land-reviews")
def land_reviews() -> list[reviews.CopyLogEntry]:
    """Copy every Capture file of the reviews hub not copied yet from landing to ``bronze/reviews/``."""
    settings = get_settings()
    load_id = new_load_id()
    files = list_new_capture_files(settings)
    entries = [copy_capture_file(settings, file, load_id) for file in files]
    report_land(load_id, entries)
    return entries


@task(**STORAGE_RETRIES)
def enqueued_positions(settings: Settings) -> dict[str, int]:
    """Partition id -> last enqueued sequence number of the reviews hub (what Capture must reach)."""
    return reviews.last_sequence_numbers(settings)


@task(cache_policy=NO_CACHE)
def wait_for_capture(settings: Settings, targets: dict[str, int], stall_seconds: float) -> dict[str, int]:
    """Poll landing until Capture files hold every event up to ``targets``; fail if Capture stops writing
    for ``stall_seconds`` (a large backlog is waited for as long as it shrinks)."""
    logger = get_run_logger()
    with Lake.quick_to_fail(settings) as lake:
        reviews.wait_for_capture(
            lambda: reviews.capture_lag(targets, reviews.captured_sequence_numbers(lake, settings)),
            stall_seconds,
            progress=lambda remaining: logger.info("Capture has %d sent event(s) still to write", remaining),
        )
    return targets
