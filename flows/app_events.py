"""``pull_app_events``: pull the app_events API since the watermark, land raw pages, merge them into bronze.

Where the API and the lake are comes from :func:`infra.settings.get_settings`; the parameters say how to pull.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.runtime import task_run
from prefect.tasks import Task, exponential_backoff

from infra.settings import Settings, get_settings
from infra.storage.lake import Lake
from ingestion import app_events
from ingestion.common import new_load_id, storage_errors, utc_now

PAGE_RETRIES = 6
STORAGE_RETRIES: dict = {
    "retries": 2,
    "retry_delay_seconds": exponential_backoff(backoff_factor=0.5),
    "retry_jitter_factor": 0.5,
    "cache_policy": NO_CACHE,
}


def _retry_unless_refused(task: Task, run: TaskRun, state: State) -> bool:
    """Retry every failure but a refused token."""
    try:
        state.result()
    except app_events.ApiAuthError:
        return False
    except Exception:
        return True
    return True


@dataclass(frozen=True)
class PullReport:
    """What one pull did (the flow's return value)."""

    load_id: str
    since_before: str | None
    since_after: str | None
    pages_landed: int
    events_received: int
    events_added: int
    partitions_written: tuple[str, ...]
    rejected: tuple[app_events.RejectedPage, ...]


@task(**STORAGE_RETRIES)
def read_watermark(settings: Settings) -> app_events.Watermark:
    """The watermark kept in ``landing/app_events/_watermark.json``."""
    with storage_errors(settings, "reading the app_events watermark"), Lake.quick_to_fail(settings) as lake:
        return app_events.read_watermark(lake)


@task(
    retries=PAGE_RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=0.1),
    retry_jitter_factor=0.5,
    retry_condition_fn=_retry_unless_refused,
    timeout_seconds=300,
    cache_policy=NO_CACHE,
)
def pull_page(
    settings: Settings,
    since: str | None,
    cursor: str | None,
    limit: int,
    timeout_seconds: float,
    load_id: str,
    spool_folder: Path,
    sequence: int,
) -> app_events.LandedPage | app_events.RejectedPage:
    """GET one page (Retry-After honoured) and land it raw, its events spooled for bronze.

    A malformed page is fetched again, and after the retries kept in ``landing/_rejected/app_events/`` with
    its reason. The task returns only what the page was (its events wait on disk), so the flow holds none
    of a page's events after its task.
    """
    with app_events.api_client(settings, timeout_seconds) as client:
        page = app_events.fetch_page(client, since, cursor, limit)
    if page.problem and task_run.run_count <= PAGE_RETRIES:
        raise app_events.TransientApiError(page.problem)
    with storage_errors(settings, "landing an app_events page"), Lake.quick_to_fail(settings) as lake:
        if page.problem:
            return app_events.reject_page(lake, page, load_id, attempts=PAGE_RETRIES + 1)
        landed = app_events.land_page(lake, page, load_id)
    assert page.events is not None
    rows = app_events.bronze_rows(page.events, landed.path, load_id, utc_now())
    app_events.Spool(spool_folder).add(sequence, rows)
    return landed


@task(timeout_seconds=1800, **STORAGE_RETRIES)
def write_bronze(settings: Settings, spool_folder: Path, load_id: str) -> app_events.BronzeWrite:
    """Merge the spooled events into ``bronze/app_events/event_month=<yyyy-mm>/`` (deduplicated Parquet)."""
    with storage_errors(settings, "writing bronze app_events"), Lake.quick_to_fail(settings) as lake:
        return app_events.write_bronze(lake, app_events.Spool(spool_folder), load_id)


@task(**STORAGE_RETRIES)
def advance_watermark(
    settings: Settings, current: app_events.Watermark, landed: list[app_events.LandedPage], load_id: str
) -> app_events.Watermark:
    """Move the watermark to the latest ``received_at`` now in bronze."""
    with storage_errors(settings, "writing the app_events watermark"), Lake.quick_to_fail(settings) as lake:
        return app_events.advance_watermark(lake, current, landed, load_id)


@task(cache_policy=NO_CACHE)
def report_pull(report: PullReport, landed: list[app_events.LandedPage]) -> None:
    """Table artifact ``app-events-pull``: every page landed or rejected, with the reason."""
    rows = [{"page": p.path, "status": "landed", "events": p.events, "reason": ""} for p in landed]
    rows += [{"page": r.path, "status": "rejected", "events": 0, "reason": r.reason} for r in report.rejected]
    description = (
        f"load {report.load_id}: {report.pages_landed} page(s) landed, {len(report.rejected)} rejected; "
        f"{report.events_received} events received, {report.events_added} new in bronze; "
        f"watermark {report.since_before} -> {report.since_after}"
    )
    create_table_artifact(rows, key="app-events-pull", description=description)
    if report.rejected:
        get_run_logger().warning("%d page(s) rejected: %s", len(report.rejected), report.rejected)


@flow(name="pull-app-events", flow_run_name="pull-app-events")
def pull_app_events(limit: int = 5000, timeout_seconds: float = 10.0) -> PullReport:
    """Pull every page since the watermark, land it raw, merge into bronze, then advance the watermark.

    A page that stays malformed after the retries is rejected (with its reason) and ends the pull there: the
    pages before it reach bronze, the watermark moves past them, and the run ends Failed
    (:class:`RejectedPagesError`); the next run starts again from the new watermark.

    Args:
        limit: Events per page asked of the API.
        timeout_seconds: HTTP timeout of each request.
    """
    settings = get_settings()
    load_id = new_load_id()
    watermark = read_watermark(settings)
    landed: list[app_events.LandedPage] = []
    rejected: list[app_events.RejectedPage] = []
    cursor: str | None = None
    with tempfile.TemporaryDirectory(prefix=f"lakehouse-app-events-{load_id}-") as spool_folder:
        while True:
            page = pull_page(
                settings,
                watermark.since,
                cursor,
                limit,
                timeout_seconds,
                load_id,
                Path(spool_folder),
                len(landed),
            )
            if isinstance(page, app_events.RejectedPage):
                rejected.append(page)
                break
            landed.append(page)
            cursor = page.next_cursor
            if cursor is None:
                break
        written = write_bronze(settings, Path(spool_folder), load_id)
    after = advance_watermark(settings, watermark, landed, load_id)
    report = PullReport(
        load_id=load_id,
        since_before=watermark.since,
        since_after=after.since,
        pages_landed=len(landed),
        events_received=written.received,
        events_added=written.added,
        partitions_written=written.partitions,
        rejected=tuple(rejected),
    )
    report_pull(report, landed)
    if rejected:
        raise RejectedPagesError(report)
    return report


class RejectedPagesError(RuntimeError):
    """The pull stopped at a page that stayed malformed; what came before it is in bronze."""

    def __init__(self, report: PullReport) -> None:
        self.report = report
        pages = "; ".join(f"{r.path} ({r.reason})" for r in report.rejected)
        super().__init__(
            f"{len(report.rejected)} app_events page(s) rejected after {PAGE_RETRIES + 1} attempts and kept "
            f"in landing/_rejected/: {pages}. The {report.pages_landed} page(s) before it reached bronze "
            f"and the watermark moved to {report.since_after}; fix the source and re-run to go on from there."
        )
