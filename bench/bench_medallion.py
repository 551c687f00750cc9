"""Medallion benchmark: full run per stage (Spark start included), incremental run, local disk vs abfs://.

For each storage backend (the local lake through the DFS endpoint, and plain local disk) it loads day 0 of
the synthetic data into bronze, runs bronze -> silver -> gold -> DQ -> profiles -> maintenance, times each
stage, then loads day 1 (2% new data) and times the incremental run, then day 2 of the streaming sources alone
(reviews and app_events, what the hourly medallion finds between daily batches). Both backends run in the
same process, one after the other, so the ratio compares like with like.

    .venv/bin/python bench/bench_medallion.py --sf 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console
from rich.table import Table

from infra.local.launcher import Launcher, free_port, running
from infra.local.services import azurite_spec, dfs_spec
from infra.settings import ZONES, Settings, get_settings
from infra.storage.lake import Lake
from ingestion.synthetic import generate

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

console = Console()
T = TypeVar("T")
DAYS = ("2026-01-01", "2026-01-02", "2026-01-03")
# What arrives between two daily batches: the hourly medallion finds only these new.
STREAMING = ("reviews", "app_events")


def _bronze(
    generated: Path, work: Path, day: str, settings: Settings, entities: tuple[str, ...] | None = None
) -> None:
    # The same bronze writer the medallion tests use (tests/ is not an installed package).
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.bronze import write_bronze

    local = work / f"bronze-{day}"
    write_bronze(generated, local, day, sequence_start={p: 10_000_000 * DAYS.index(day) for p in range(4)})
    if entities is not None:
        for folder in local.iterdir():
            if folder.name not in entities:
                shutil.rmtree(folder)
    if settings.storage_backend == "file":
        target = Path(settings.local_lake_dir or "") / settings.container("bronze")
        shutil.copytree(local, target, dirs_exist_ok=True)
        return
    with Lake(settings) as lake:
        for file in sorted(p for p in local.rglob("*") if p.is_file()):
            lake.upload_file("bronze", file.relative_to(local).as_posix(), file)


class _Stages:
    """Times each stage and counts the Spark jobs it ran (one Spark job group per stage)."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.times: dict[str, float] = {}
        self.jobs: dict[str, int] = {}

    def run(self, stage: str, call: Callable[[], T]) -> T:
        context = self.spark.sparkContext
        group = f"bench-{uuid.uuid4().hex}"
        context.setJobGroup(group, stage)
        started = time.perf_counter()
        try:
            return call()
        finally:
            self.times[stage] = self.times.get(stage, 0.0) + time.perf_counter() - started
            self.jobs[stage] = self.jobs.get(stage, 0) + len(context.statusTracker().getJobIdsForGroup(group))
            context.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]  # None clears it


def _run(label: str, spark: SparkSession) -> tuple[dict[str, float], dict[str, int]]:
    """One medallion pass through the flow's own task functions, timed per stage."""
    from flows import medallion as m

    as_of = datetime(2026, 1, 4, tzinfo=UTC)  # after the last day loaded: no event is in the future
    run_id = f"bench-{uuid.uuid4()}"
    stages = _Stages(spark)
    started = time.perf_counter()
    files = stages.run("bronze files", m.pending_files.fn)
    silver_loads = [
        stages.run(
            f"silver {entity}", lambda entity=entity: m.load_silver.fn(entity, run_id, as_of, files[entity])
        )
        for entity in m.SILVER_KEYS
    ]
    stages.run("silver ops", lambda: m.record_loads.fn(run_id, silver_loads))
    loads = [s.load for s in silver_loads]
    state = stages.run("gold state", m.gold_state.fn)
    if state.is_current():  # the flow's no-op: silver unchanged since the last complete gold build
        if state.built_rows is None:
            stages.run("gold", m.gold_row_counts.fn)
    else:
        stale = state.stale(as_of)  # as the flow does: only the tables whose inputs changed
        built = stages.run("gold", lambda: m.build_gold.fn(as_of, stale)) if stale else {}
        rows = state.rows_after(built)
        console.print(f"{label}: gold tables rewritten: {len(stale)} of {len(m.GOLD_TABLES)}")
        changed = state.changed_since_build(stale)  # as the flow does: checks and profiles of these only
        reads = m.TableReads()  # as the flow does: the checks' reads serve the profiles
        stages.run("dq", lambda: m.check_quality.fn(run_id, loads, 0.2, changed, state.built_run_id, reads))
        stages.run("profiles", lambda: m.profile_tables.fn(run_id, changed, state.built_run_id, reads))
        reads.release()
        stages.run("maintenance", lambda: m.maintain.fn(168.0))
        stages.run("maintenance", lambda: m.record_gold_build.fn(run_id, state, rows, as_of, maintained=True))
    times, jobs = stages.times, stages.jobs
    times["total"] = time.perf_counter() - started
    jobs["total"] = sum(jobs.values())
    console.print(f"{label}: {times['total']:.1f} s ({sum(load.bronze for load in loads):,} bronze rows)")
    return times, jobs


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sf", type=float, default=1.0)
    parser.add_argument("--backends", default="abfs,file", help="comma-separated: abfs (local lake), file")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="warm the new JVM up first with this many rounds of infra/spark_warmup.py (untimed, reported)",
    )
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    # The flow's tasks run outside a flow here, on Prefect's temporary server: no telemetry from it.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.logging import disable_run_logger

    work = Path(tempfile.mkdtemp(prefix="bench-medallion-"))
    generated = work / "generated"
    generate(generated, sf=args.sf, seed=7, days=len(DAYS), start=date(2026, 1, 1))
    base = Settings(state_dir=work / "state", blob_port=free_port(), dfs_port=free_port())
    launcher = Launcher(base.state_dir)
    results: dict[str, dict[str, float]] = {}
    jobs: dict[str, dict[str, int]] = {}
    with running(launcher, [azurite_spec(base), dfs_spec(base)]), disable_run_logger():
        from prefect.client.orchestration import get_client

        from infra.spark import build_spark_session

        # The profiles task posts an artifact: start Prefect's temporary server now, untimed (it took ~10 s
        # inside the first pass's profiles stage before).
        with get_client(sync_client=True) as client:
            client.api_healthcheck()

        t = time.perf_counter()
        spark = build_spark_session(base, app_name="bench-medallion")
        spark_start = time.perf_counter() - t
        if args.warm_up:
            from infra.spark_warmup import warm_up

            done = warm_up(spark, rounds=args.warm_up, scratch_parent=work)
            console.print(f"warm-up: {done.steps} steps in {done.seconds:.1f} s (not in the totals below)")
        for backend in backends:
            prefix = f"b{uuid.uuid4().hex[:6]}"
            settings = base.model_copy(
                update={
                    "storage_backend": backend,
                    "local_lake_dir": work / "lake",
                    **{f"{z}_container": f"{prefix}-{z}" for z in ZONES},
                }
            )
            if backend == "abfs":
                with Lake(settings) as lake:
                    lake.ensure_zones()
            os.environ.update(settings.to_env())
            get_settings.cache_clear()
            _bronze(generated, work, DAYS[0], settings)
            runs = (
                ("full", DAYS[0], None),
                ("incremental", DAYS[1], None),
                ("streaming", DAYS[2], STREAMING),
                ("no-op", None, None),
            )
            for run, day, entities in runs:
                if day:
                    _bronze(generated, work, day, settings, entities)
                label = f"{backend} {run}"
                results[label], jobs[label] = _run(label, spark)
        spark.stop()

    table = Table(
        title=f"medallion at SF{args.sf:g}: seconds / Spark jobs per stage "
        f"(Spark start {spark_start:.1f} s, not in the totals below)"
    )
    table.add_column("stage")
    for label in results:
        table.add_column(label, justify="right")
    first = next(iter(results))
    for stage in results[first]:
        cells = [
            f"{results[label][stage]:.1f} s / {jobs[label][stage]}" if stage in results[label] else "-"
            for label in results
        ]
        table.add_row(stage, *cells)
    console.print(table)
    for backend in backends:
        full, incremental = results[f"{backend} full"]["total"], results[f"{backend} incremental"]["total"]
        console.print(f"{backend}: full run incl. Spark start {full + spark_start:.1f} s")
        console.print(f"{backend}: incremental / full = {incremental / full:.2f}")
        streaming = results[f"{backend} streaming"]["total"]
        console.print(
            f"{backend}: streaming only ({' + '.join(STREAMING)} new) / full = {streaming / full:.2f}"
        )
        console.print(f"{backend}: no-op run {results[f'{backend} no-op']['total']:.1f} s")
    if {"abfs", "file"} <= set(backends):
        ratio = results["abfs full"]["total"] / results["file full"]["total"]
        console.print(f"abfs:// / local disk (full run) = {ratio:.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
