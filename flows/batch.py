"""Batch CSV flows: ``generate_batch`` drops day files into landing, ``copy_batch_to_bronze`` copies them.

Where the lake is comes from :func:`infra.settings.get_settings`; the flow parameters say what to do.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from infra.settings import Settings, get_settings
from infra.storage.lake import Lake
from ingestion import batch
from ingestion.common import in_child_process, new_load_id, storage_errors
from ingestion.synthetic import generate

STORAGE_RETRIES: dict = {
    "retries": 2,
    "retry_delay_seconds": exponential_backoff(backoff_factor=0.5),
    "retry_jitter_factor": 0.5,
    "cache_policy": NO_CACHE,
}
"""Storage tasks retry twice (about 0.5 s, then 1 s); their inputs are not hashed for a cache."""


@task(cache_policy=NO_CACHE)
def generate_csv_files(
    settings: Settings, sf: float, seed: int, days: int, bad_fraction: float, start: date
) -> tuple[Path, list[Path]]:
    """Run the synthetic generator into the cache folder; the batch CSV files it wrote."""
    out = settings.cache_dir / "generated" / f"sf{sf}-seed{seed}-days{days}-bad{bad_fraction}-{start}"
    in_child_process(generate, out=out, sf=sf, seed=seed, days=days, bad_fraction=bad_fraction, start=start)
    return out, batch.generated_csv_files(out)


@task(timeout_seconds=600, **STORAGE_RETRIES)
def drop_in_landing(settings: Settings, out: Path, file: Path) -> tuple[str, bool]:
    """Upload one CSV file to ``landing/batch/<entity>/<date>/`` unless the same bytes are there."""
    with storage_errors(settings, f"dropping {file.name}"), Lake.quick_to_fail(settings) as lake:
        return batch.drop_file(lake, out, file)


@task(cache_policy=NO_CACHE)
def report_drops(dropped: list[tuple[str, bool]]) -> None:
    """Table artifact: one row per landing file, uploaded or already there."""
    rows = [{"path": path, "uploaded": uploaded} for path, uploaded in dropped]
    create_table_artifact(
        rows, key="generate-batch", description=f"{sum(u for _, u in dropped)} file(s) uploaded"
    )


@flow(name="generate-batch", flow_run_name="generate-batch-sf{sf}-{days}d")
def generate_batch(
    sf: float = 0.01, seed: int = 7, days: int = 1, bad_fraction: float = 0.02, start: date = date(2026, 1, 1)
) -> list[str]:
    """Drop customers, products, orders and order_lines CSV of ``days`` batch dates into landing.

    Args:
        sf: Scale factor (1 = 100k customers, 300k orders).
        seed: Random seed; the same seed writes byte-identical files.
        days: Daily batches (day 0 = the initial load).
        bad_fraction: Share of deliberately bad records (listed in the generator's manifest).
        start: Date of day 0.
    """
    settings = get_settings()
    out, files = generate_csv_files(settings, sf, seed, days, bad_fraction, start)
    dropped = [drop_in_landing(settings, out, file) for file in files]
    report_drops(dropped)
    return [path for path, _ in dropped]


@task(**STORAGE_RETRIES)
def list_batch_landing(settings: Settings) -> list[batch.LandingFile]:
    """Every file under ``landing/batch/``."""
    with storage_errors(settings, "listing landing/batch"), Lake.quick_to_fail(settings) as lake:
        return batch.list_landing_files(lake)


@task(**STORAGE_RETRIES)
def read_batch_manifest(settings: Settings) -> list[batch.ManifestEntry]:
    """The copy manifest kept in ``bronze/_ops/manifest/batch/``."""
    with storage_errors(settings, "reading the batch copy manifest"), Lake.quick_to_fail(settings) as lake:
        return batch.read_manifest(lake)


@task(timeout_seconds=600, **STORAGE_RETRIES)
def copy_batch_file(
    settings: Settings, file: batch.LandingFile, known: list[batch.ManifestEntry], load_id: str
) -> batch.CopyOutcome:
    """Copy one landing file to bronze (or reject it), then record it in the manifest."""
    with storage_errors(settings, f"copying {file.path}"), Lake.quick_to_fail(settings) as lake:
        return batch.copy_file(lake, file, known, load_id)


@task(cache_policy=NO_CACHE)
def report_batch_copy(load_id: str, outcomes: list[batch.CopyOutcome]) -> None:
    """Table artifact ``batch-copy``: what this run copied, recovered and rejected (with reasons)."""
    counts = {status: sum(o.status == status for o in outcomes) for status in batch.COPY_STATUSES}
    create_table_artifact(
        batch.outcome_rows(outcomes),
        key="batch-copy",
        description=f"load {load_id}: " + ", ".join(f"{n} {status}" for status, n in counts.items()),
    )


@flow(name="copy-batch-to-bronze", flow_run_name="copy-batch-to-bronze")
def copy_batch_to_bronze() -> list[batch.CopyOutcome]:
    """Copy new or changed landing batch files to ``bronze/<entity>/ingest_date=<date>/``; reject bad ones."""
    settings = get_settings()
    load_id = new_load_id()
    files = list_batch_landing(settings)
    known = batch.entries_by_source(read_batch_manifest(settings))
    outcomes = [copy_batch_file(settings, file, known.get(file.path, []), load_id) for file in files]
    report_batch_copy(load_id, outcomes)
    return outcomes
