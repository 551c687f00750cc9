"""The `lakehouse` parent flow: every ingestion path, then the medallion, then a run summary.

It only wires subflows. Each step's failure is re-raised as :class:`PipelineStepError` naming the step (the
source or the layer) and the cause; the subflows themselves are idempotent, so re-running the parent after
a failure completes the work without duplicating any of it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from flows.alerts import DQ_FAILED_STATE
from flows.app_events import pull_app_events
from flows.batch import copy_batch_to_bronze, generate_batch
from flows.medallion import DataQualityError, MedallionResult, medallion, spark_session
from flows.reviews import SendReport, enqueued_positions, land_reviews, send_reviews, wait_for_capture
from infra.settings import Settings, get_settings
from infra.spark import claim_warm_up, on_shared_driver
from infra.spark_warmup import warm_up
from infra.storage.lake import Lake
from ingestion import reviews
from transforms.catalog import GOLD_TABLES


class PipelineStepError(RuntimeError):
    """A step of the pipeline failed; the message names the step and the cause."""


@dataclass(frozen=True)
class PipelineResult:
    steps: dict[str, Any]
    medallion: MedallionResult


def _step(name: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:
        raise PipelineStepError(f"step '{name}' failed: {type(exc).__name__}: {exc}") from exc


@flow(name="lakehouse", flow_run_name="lakehouse-sf{sf}-{days}d", log_prints=True)
def lakehouse(
    sf: float = 0.01,
    seed: int = 7,
    days: int = 1,
    start: date = date(2026, 1, 1),
    review_rate: float = 0.0,
    capture_grace_seconds: float = 60.0,
    as_of: datetime | None = None,
    run_maintenance: bool = True,
    max_quarantine_fraction: float = 0.2,
) -> PipelineResult:
    """Ingest batch CSV, reviews (Event Hubs + Capture) and app_events (HTTP); then the medallion.

    Args:
        sf: Scale factor of the synthetic data (1 = 100k customers, 300k orders).
        seed: Random seed of the synthetic data.
        days: Daily batches to ingest (day 0 = the initial load).
        start: Date of day 0.
        review_rate: Reviews per second sent to Event Hubs (0 = as fast as possible).
        capture_grace_seconds: How long past one Capture window Capture may write nothing before the run
            fails (it is waited for as long as it keeps writing).
        as_of: The instant "the future" starts for the medallion's checks (default: now, UTC).
        run_maintenance: OPTIMIZE and VACUUM after gold.
        max_quarantine_fraction: Quarantine share above which an entity fails the medallion.
    """
    steps: dict[str, Any] = {}
    steps["batch-generate"] = _step(
        "batch-generate", lambda: generate_batch(sf=sf, seed=seed, days=days, start=start)
    )
    steps["batch-copy"] = _step("batch-copy", copy_batch_to_bronze)
    # New batch files in bronze mean the medallion will need Spark, whose JVM takes seconds to start: it
    # starts now, and warms up while reviews and app_events ingest. A run with nothing new starts none.
    medallion_waits = threading.Event()
    spark_started = (
        start_spark.submit(medallion_waits)
        if any(o.status in ("copied", "recovered") for o in steps["batch-copy"])
        else None
    )
    try:
        settings = get_settings()
        for day in range(days):
            # Each generated day is sent once: a marker is written after a completed send.
            marker = reviews.sent_marker(sf, seed, day, start)
            if _step("reviews-send", partial(already_sent, settings, marker)):
                continue
            report = _step(
                "reviews-send",
                partial(send_reviews, sf=sf, seed=seed, day=day, start=start, rate=review_rate),
            )
            steps[f"reviews-send-day{day}"] = report
            _step("reviews-send", partial(mark_sent, settings, marker, report))
        # Capture writes a file per partition when its window closes; land once every sent event is in one.
        targets = _step("reviews-capture", lambda: enqueued_positions(settings))
        timeout = settings.capture_window_seconds + capture_grace_seconds
        _step("reviews-capture", lambda: wait_for_capture(settings, targets, timeout))
        steps["reviews-land"] = _step("reviews-land", land_reviews)
        steps["app-events-pull"] = _step("app-events-pull", pull_app_events)
    finally:
        medallion_waits.set()  # the warm-up stops at its next step (also after a failed step)
    if spark_started is not None:
        spark_started.wait()  # a Spark that could not start fails the medallion step below, with its cause
    try:
        result = _step(
            "medallion",
            lambda: medallion(
                as_of=as_of or datetime.now(UTC),
                run_maintenance=run_maintenance,
                max_quarantine_fraction=max_quarantine_fraction,
            ),
        )
    except PipelineStepError as error:
        if not isinstance(error.__cause__, DataQualityError):
            raise
        # The medallion alerted on its checks; this run ends in the same state, so it does not alert twice.
        return Failed(name=DQ_FAILED_STATE, message=str(error), data=error)  # type: ignore[return-value]  # a State, not the annotated result
    publish_summary(result)
    return PipelineResult(steps, result)


@task(cache_policy=NO_CACHE, task_run_name="spark-start")
def start_spark(medallion_waits: threading.Event) -> None:
    """Start the medallion's SparkSession ahead of it (the process's one session; the medallion reuses it)
    and warm a JVM that has run nothing yet up until the medallion waits for it."""
    settings = get_settings()
    spark = spark_session(settings)
    driver = "attached to the stack's shared driver" if on_shared_driver() else "started a driver JVM"
    logger = get_run_logger()
    logger.info("Spark: %s", driver)
    if claim_warm_up(settings):
        done = warm_up(spark, should_stop=medallion_waits.is_set)
        logger.info(
            "Spark warm-up beside ingestion: %d of %d steps in %.1f s", done.steps, done.planned, done.seconds
        )


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def already_sent(settings: Settings, marker: str) -> bool:
    """True when an earlier run sent this generated day completely."""
    with Lake.quick_to_fail(settings) as lake:
        return lake.exists("landing", marker)


@task(cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def mark_sent(settings: Settings, marker: str, report: SendReport) -> None:
    """Record a completed send (after it completed), so that a re-run does not send the day again."""
    with Lake.quick_to_fail(settings) as lake:
        lake.write_bytes("landing", marker, json.dumps(asdict(report), default=str).encode())


@task(cache_policy=NO_CACHE)
def publish_summary(result: MedallionResult) -> None:
    """Keyed artifacts: rows per layer and table, DQ results, quarantine counts, gold table locations."""
    settings = get_settings()
    rows = [
        {
            "layer": "bronze -> silver",
            "table": load.table,
            "files": load.files,
            "bronze_rows": load.bronze,
            "silver_rows": load.silver,
            "quarantined": load.quarantined,
            "duplicates": load.duplicates,
        }
        for load in result.loads
    ]
    rows += [{"layer": "gold", "table": t, "rows": n} for t, n in result.gold_rows.items()]
    create_table_artifact(key="lakehouse-row-counts", table=rows, description="Rows per layer and table")
    create_table_artifact(
        key="lakehouse-quarantine",
        table=[
            {"table": f"quarantine_{load.table}", "rows_this_run": load.quarantined} for load in result.loads
        ],
        description=f"Quarantined rows (with reasons in {settings.lake_url('silver', 'quarantine_<table>')})",
    )
    create_table_artifact(key="lakehouse-dq", table=result.dq, description="Data quality results of this run")
    lines = ["# Gold tables", "", "| table | rows | location |", "|---|---|---|"]
    lines += [
        f"| {t} | {result.gold_rows.get(t, 0):,} | `{settings.lake_url('gold', t)}` |" for t in GOLD_TABLES
    ]
    create_markdown_artifact(key="lakehouse-gold", markdown="\n".join(lines), description="Where gold lives")
    create_link_artifact(
        key="lakehouse-gold-folder",
        link=f"{settings.dfs_url}/{settings.container('gold')}?resource=filesystem",
        link_text="gold container (DFS endpoint)",
    )
    get_run_logger().info(
        "pipeline done: %s gold rows in %d tables",
        f"{sum(result.gold_rows.values()):,}",
        len(result.gold_rows),
    )
