"""Benchmark of the three ingestion paths, through their Prefect flows, against a fresh local stack.

Starts Azurite, the DFS endpoint, the Event Hubs endpoint (1 s Capture window) and the app_events API on free
ports in a temporary state folder, runs the flows under a temporary Prefect API, and prints a table::

    .venv/bin/python bench/bench_ingestion.py                       # all three, default sizes
    .venv/bin/python bench/bench_ingestion.py --only batch --batch-sf 1

* **reviews** — ``send_reviews`` of ``--reviews`` events (SF = reviews / 200k, day 0) at full speed, wait for
  Capture to have written them all, then ``land_reviews``: events/s from the first ``send_batch`` to the last
  file in bronze (and, second figure, including the generator making the reviews).
* **api** — ``pull_app_events`` of the feed at ``--api-sf`` (day 0: 1M events per SF, over a year of dates)
  with pages of ``--api-limit``: events/s from the first request to the watermark.
* **batch** — ``generate_batch`` at ``--batch-sf`` then ``copy_batch_to_bronze``: MB/s of the copy, and the
  ratio to a raw SDK upload (``DataLakeFileClient.upload_data``) of the same bytes to the same endpoint.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.local.app_events_api import ApiConfig
from infra.local.launcher import Launcher, free_port, running
from infra.local.services import app_events_api_spec, azurite_spec, dfs_spec, eventhubs_spec
from infra.settings import Settings, get_settings
from infra.storage.lake import Lake
from ingestion import reviews


def bench_settings(state_dir: Path) -> Settings:
    ports = ("blob_port", "dfs_port", "amqp_port", "eventhubs_health_port", "api_port", "prefect_port")
    return Settings(
        state_dir=state_dir,
        cache_dir=state_dir / "cache",
        capture_window_seconds=1.0,
        **{name: free_port() for name in ports},
    )


@contextlib.contextmanager
def use(settings: Settings) -> Iterator[None]:
    """Point get_settings() (what the flows read) at ``settings``."""
    saved = dict(os.environ)
    os.environ.update(settings.to_env())
    get_settings.cache_clear()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


def bench_reviews(settings: Settings, count: int) -> dict[str, object]:
    from flows.reviews import land_reviews, send_reviews

    started = time.monotonic()
    report = send_reviews(count=count, sf=count / reviews.REVIEWS_PER_SF_DAY0)
    sent = time.monotonic()
    with Lake(settings) as lake:
        while True:
            files = reviews.list_capture_files(lake, settings)
            captured = sum(reviews.count_events(lake.read_bytes("landing", f.path)) for f in files)
            if captured >= count:
                break
            time.sleep(0.5)
    in_landing = time.monotonic()
    entries = land_reviews()
    done = time.monotonic()
    assert sum(e.events for e in entries) == count, (sum(e.events for e in entries), count)
    return {
        "events": count,
        "send_s": round(sent - started, 1),
        "send_events_per_s": round(report.events / report.seconds),
        "capture_wait_s": round(in_landing - sent, 1),
        "land_s": round(done - in_landing, 1),
        "files": len(entries),
        "send_to_bronze_events_per_s": round(count / (report.seconds + done - sent)),
        "with_generation_events_per_s": round(count / (done - started)),
    }


def bench_api(settings: Settings, limit: int) -> dict[str, object]:
    from flows.app_events import pull_app_events

    started = time.monotonic()
    report = pull_app_events(limit=limit, timeout_seconds=60.0)
    seconds = time.monotonic() - started
    return {
        "events": report.events_added,
        "pages": report.pages_landed,
        "partitions": len(report.partitions_written),
        "seconds": round(seconds, 1),
        "events_per_s": round(report.events_added / seconds),
    }


def bench_batch(settings: Settings, sf: float) -> dict[str, object]:
    from flows.batch import copy_batch_to_bronze, generate_batch

    generate_batch(sf=sf)
    started = time.monotonic()
    outcomes = copy_batch_to_bronze()
    copy_seconds = time.monotonic() - started
    size = sum(o.size for o in outcomes)
    with Lake(settings) as lake:
        files = [(o.source, lake.read_bytes("landing", o.source)) for o in outcomes]
        fs = lake.filesystem("bronze")
        started = time.monotonic()
        for source, data in files:  # the raw SDK call, same bytes, same endpoint, no reads or bookkeeping
            fs.get_file_client(f"_bench_raw/{source}").upload_data(data, overwrite=True)
        raw_seconds = time.monotonic() - started
    copy_mb_s, raw_mb_s = size / 1e6 / copy_seconds, size / 1e6 / raw_seconds
    return {
        "files": len(outcomes),
        "mb": round(size / 1e6, 1),
        "copy_s": round(copy_seconds, 1),
        "copy_mb_per_s": round(copy_mb_s, 1),
        "raw_upload_mb_per_s": round(raw_mb_s, 1),
        "ratio_to_raw": round(copy_mb_s / raw_mb_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=("reviews", "api", "batch"), action="append")
    parser.add_argument("--reviews", type=int, default=100_000, help="reviews to send (default 100k)")
    parser.add_argument("--api-sf", type=float, default=1.0, help="scale of the API's feed (1 = 1M events)")
    parser.add_argument("--api-limit", type=int, default=5_000, help="events per page")
    parser.add_argument("--batch-sf", type=float, default=1.0, help="scale of the batch CSV files")
    args = parser.parse_args()
    parts = args.only or ["reviews", "api", "batch"]

    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness

    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ingestion-") as tmp:
        settings = bench_settings(Path(tmp))
        specs = [azurite_spec(settings), dfs_spec(settings)]
        if "reviews" in parts:
            specs.append(eventhubs_spec(settings))
        if "api" in parts:
            specs.append(app_events_api_spec(settings, ApiConfig(sf=args.api_sf, days=1)))
        launcher = Launcher(settings.state_dir)
        with running(launcher, specs), prefect_test_harness(server_startup_timeout=120), use(settings):
            with Lake(settings) as lake:
                lake.ensure_zones()
            if "batch" in parts:
                results["batch"] = {"sf": args.batch_sf, **bench_batch(settings, args.batch_sf)}
            if "api" in parts:
                results["api"] = {
                    "sf": args.api_sf,
                    "limit": args.api_limit,
                    **bench_api(settings, args.api_limit),
                }
            if "reviews" in parts:
                results["reviews"] = bench_reviews(settings, args.reviews)
    print()
    for part, figures in results.items():
        print(f"{part:8s} " + "  ".join(f"{k}={v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
