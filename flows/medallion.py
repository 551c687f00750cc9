"""The `medallion` flow: bronze -> silver (+ quarantine), silver -> gold, table checks, maintenance.

It wires and reports. What the tables are (names, keys, formats, schemas, checks) is the catalog's
(:mod:`transforms.catalog`); where they live is the zone map's (:mod:`infra.zones`); reads and writes go
through the storage seam (:mod:`infra.storage.delta_io`); the transforms are pure (``transforms.silver``,
``transforms.gold``, ``transforms.checks``). Tasks pass table names and counts, never DataFrames, and share
one SparkSession per flow run.

Incremental and idempotent: each entity reads only the bronze files its processed-file log does not hold,
MERGEs them into silver on business keys and records them afterwards. A re-run with nothing new writes
nothing; a crash before the log is written makes the next run redo that entity, and MERGE absorbs it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, astuple, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.events import emit_event
from prefect.exceptions import MissingContextError
from prefect.futures import PrefectFuture, wait
from prefect.runtime import flow_run as flow_run_runtime
from prefect.states import Failed
from pyspark import SparkContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from flows.alerts import DQ_EVENT, DQ_FAILED_STATE, REVENUE_ANOMALY_EVENT
from infra import zones
from infra.settings import Settings, get_settings
from infra.spark import build_spark_session, tune_for_volume
from infra.storage import delta_io, delta_rs, pending
from infra.storage.lake import Lake
from transforms import analytics, checks, gold, silver
from transforms.catalog import (
    GOLD,
    GOLD_TABLES,
    GOLD_TABLES_SPEC,
    SCD2_HISTORY,
    SILVER,
    SILVER_KEYS,
    SILVER_TABLES,
    ZORDER,
    gold_to_rebuild,
)
from transforms.checks import REVENUE_ANOMALY_CHECK
from transforms.common import freeze, freeze_counted
from transforms.silver_schemas import (
    DQ_RESULTS_SCHEMA,
    LOAD_BALANCE_SCHEMA,
    PROFILES_SCHEMA,
    SILVER_CUSTOMER_HISTORY_SCHEMA,
)

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["GOLD_TABLES", "SILVER_KEYS", "DataQualityError", "EntityLoad", "MedallionResult", "medallion"]


class DataQualityError(RuntimeError):
    """An error-severity check failed; the results were written to dq_results first."""


@dataclass(frozen=True)
class EntityLoad:
    """What one bronze -> silver load of an entity did (the row-balance identity holds)."""

    table: str
    files: int
    bronze: int
    silver: int
    quarantined: int
    duplicates: int


def spark_session(settings: Settings) -> SparkSession:
    """The flow run's one SparkSession (created on first use, then shared)."""
    return build_spark_session(settings, app_name="medallion")


def _run_id() -> str:
    run_id = flow_run_runtime.id
    return str(run_id) if run_id else f"adhoc-{uuid.uuid4()}"  # outside a flow run (e.g. a notebook)


_JOB_PROPERTIES = ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel")


def _side_by_side(settings: Settings, call: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``call`` over ``items`` from a few driver threads, results in order.

    Gold tables, table checks and maintenance are many small Spark jobs and Delta commits whose cost is
    mostly scheduling and storage round trips; submitted side by side they keep the cores busy.
    """
    context = SparkContext._active_spark_context
    # Each thread inherits the caller's job group and description (the Spark UI groups its jobs with them).
    inherited = {key: context.getLocalProperty(key) for key in _JOB_PROPERTIES} if context else {}

    def inherit() -> None:
        for key, value in inherited.items():
            if context is not None and value is not None:
                context.setLocalProperty(key, value)

    workers = settings.spark_concurrent_writes
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spark", initializer=inherit) as pool:
        return list(pool.map(call, items))


def _silver_table(spark: SparkSession, settings: Settings, table: str) -> DataFrame:
    return delta_io.read_delta(spark, zones.silver_url(settings, table))


class TableReads:
    """Delta tables read once and cached, for the checks and the profiles of one run to share.

    Both read every table the build changed; each read lists the table's files and rebuilds its snapshot (a
    few Spark jobs), and caching it computes it once more. Shared, a table costs that once. Threads may ask
    at once; :meth:`release` unpersists every table read.
    """

    def __init__(self) -> None:
        self._frames: dict[str, DataFrame | None] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, url: str) -> DataFrame | None:
        """The cached table at ``url``, or None when there is no Delta table there."""
        with self._guard:
            lock = self._locks.setdefault(url, threading.Lock())
        with lock:
            if url not in self._frames:
                spark = spark_session(get_settings())
                found = delta_io.is_delta_table(spark, url)
                self._frames[url] = spark.read.format("delta").load(url).cache() if found else None
            return self._frames[url]

    def table(self, url: str) -> DataFrame:
        df = self.get(url)
        if df is None:
            raise FileNotFoundError(f"no Delta table at {url}")
        return df

    def release(self) -> None:
        with self._guard:
            frames, self._frames = self._frames, {}
        for df in frames.values():
            if df is not None:
                df.unpersist()


# --- bronze -> silver ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SilverLoad:
    """One entity's load, with what the run records for it once every entity is merged."""

    load: EntityLoad
    load_id: str
    at: datetime
    files: tuple[delta_io.SourceFile, ...] = ()
    dq_rows: tuple[tuple[Any, ...], ...] = ()


def _logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The run's logger in a flow or task; this module's logger when a task runs bare (`.fn`, the bench)."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger(__name__)


@task(cache_policy=NO_CACHE, task_run_name="bronze-files")
def pending_files() -> dict[str, list[delta_io.SourceFile]]:
    """Per entity, the bronze files its processed-file log does not hold (one read of the log)."""
    settings = get_settings()
    spark = spark_session(settings)
    listed = {
        entity: delta_io.list_files(spark, zones.bronze_url(settings, entity), SILVER[entity].bronze_suffix)
        for entity in SILVER_KEYS
    }
    # Gold is rebuilt from all of silver, so the whole of bronze (not only the new files) sizes the run.
    volume = sum(f.size for files in listed.values() for f in files)
    conf = tune_for_volume(spark, volume, settings)
    tuned = ", ".join(f"{key.removeprefix('spark.sql.')}={value}" for key, value in conf.items())
    _logger().info("bronze holds %.1f MB: Spark runs with %s", volume / 2**20, tuned)
    return delta_io.unprocessed_by_source(spark, zones.ops_url(settings, "processed_files"), listed)


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10, task_run_name="silver-{entity}")
def load_silver(entity: str, run_id: str, as_of: datetime, files: list[delta_io.SourceFile]) -> SilverLoad:
    """New bronze files -> silver_<entity> (MERGE) + quarantine_<entity>; the ops rows come back."""
    settings, table = get_settings(), SILVER[entity]
    load_id, at = f"{run_id}:{entity}", datetime.now(UTC)
    if not files:
        return SilverLoad(EntityLoad(entity, 0, 0, 0, 0, 0), load_id, at)
    spark = spark_session(settings)
    urls = [f.url for f in files]
    bronze_df = delta_io.read_bronze(spark, table.bronze_format, urls, table.read_schema, load_id, at).cache()
    # The parents' keys are read once (cached): the counts, the MERGE's source and the DQ rows all use them.
    references = {
        parent: delta_io.read_delta(spark, zones.silver_url(settings, parent), SILVER[parent].schema)
        .select(key)
        .cache()
        for parent, key in table.references
    }
    result = silver.standardize(entity, bronze_df, references, as_of=as_of, run_id=run_id)
    result = silver.StandardizeResult(
        result.silver_df.cache(), result.quarantine_df.cache(), result.duplicates_df, result.dq_df
    )
    counts = silver.row_counts(bronze_df, result)
    if not counts.is_balanced:
        raise DataQualityError(
            f"{entity}: {counts.bronze} bronze rows != {counts.silver} silver + {counts.quarantined} "
            f"quarantined + {counts.duplicates} duplicates; nothing was written for these files"
        )
    if entity == "customers":
        # Every version of the load (superseded ones sit in duplicates_df) opens its SCD2 row.
        history_url = zones.silver_url(settings, SCD2_HISTORY)
        history_df = delta_io.read_delta(spark, history_url, SILVER_CUSTOMER_HISTORY_SCHEMA)
        versions_df = result.silver_df.unionByName(result.duplicates_df)
        delta_io.overwrite(
            silver.scd2_customer_history(history_df, versions_df).transform(freeze), history_url
        )
    delta_io.merge(
        result.silver_df, zones.silver_url(settings, entity), table.keys, update_when=table.update_guard
    )
    delta_io.replace_where(
        result.quarantine_df, zones.quarantine_url(settings, entity), delta_io.is_in("_source_file", urls)
    )
    dq_rows = tuple(tuple(r) for r in result.dq_df.collect())
    for df in (bronze_df, result.silver_df, result.quarantine_df, *references.values()):
        df.unpersist()
    load = EntityLoad(entity, len(files), counts.bronze, counts.silver, counts.quarantined, counts.duplicates)
    return SilverLoad(load, load_id, at, tuple(files), dq_rows)


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10, task_run_name="silver-ops")
def record_loads(run_id: str, loads: list[SilverLoad]) -> None:
    """One commit per operational table for the whole run: dq_results, load_balance, processed_files.

    Written after the entities' merges, so a crash before this point makes the next run redo those files
    (MERGE on business keys and the quarantine's replaceWhere absorb the repeat) and never records a file
    whose rows are not in silver.
    """
    done = [load for load in loads if load.files]
    if not done:
        return
    settings = get_settings()
    spark = spark_session(settings)
    entities = [load.load.table for load in done]
    dq_df = spark.createDataFrame([row for load in done for row in load.dq_rows], DQ_RESULTS_SCHEMA)
    delta_io.replace_where(
        dq_df,
        zones.ops_url(settings, "dq_results"),
        f"{delta_io.equals(run_id=run_id)} AND {delta_io.is_in('table_name', entities)}",
    )
    balance_rows = [
        (run_id, load.load.table, load.load_id, *astuple(load.load)[1:], load.at) for load in done
    ]
    delta_io.replace_where(
        spark.createDataFrame(balance_rows, LOAD_BALANCE_SCHEMA),
        zones.ops_url(settings, "load_balance"),
        delta_io.is_in("load_id", [load.load_id for load in done]),
    )
    delta_io.record_processed_loads(
        spark,
        zones.ops_url(settings, "processed_files"),
        [(load.load.table, load.files, load.load_id, load.at) for load in done],
    )


def load_all_silver(run_id: str, as_of: datetime) -> list[EntityLoad]:
    """Every entity's load, parents before children and independent entities side by side; then the ops.

    Entities whose parents are loaded run at the same time (Prefect's thread pool; Spark runs their jobs
    concurrently). The loads that completed are recorded even when another failed; then the failure is
    raised.
    """
    files = pending_files()
    futures: dict[str, PrefectFuture[SilverLoad]] = {}
    for entity in SILVER_KEYS:  # the catalog lists parents first
        parents = [futures[parent] for parent, _ in SILVER[entity].references]
        futures[entity] = load_silver.submit(
            entity, run_id, as_of, files[entity], return_state=False, wait_for=parents
        )
    wait(list(futures.values()))
    completed = [f.result() for f in futures.values() if f.state.is_completed()]
    record_loads(run_id, completed)
    for future in futures.values():
        future.result()  # raises the first failure (a child of a failed parent raises its upstream error)
    return [load.load for load in completed]


# --- silver -> gold --------------------------------------------------------------------------------------
@task(cache_policy=NO_CACHE, task_run_name="gold")
def build_gold(as_of: datetime, tables: Sequence[str] = GOLD_TABLES) -> dict[str, int]:
    """Rewrite the gold ``tables`` from silver and the other gold tables; returns their row counts.

    A table this build does not rewrite but another one reads (a dimension under a new fact, a fact under a
    missing mart) is read as stored: it is current, the build log says so. Dimension keys are kept stable.
    """
    settings = get_settings()
    spark = spark_session(settings)
    rebuilt = set(tables)

    def read_silver(table: str) -> DataFrame:
        return _silver_table(spark, settings, table)

    def stored(table: str) -> DataFrame:
        return delta_io.read_delta(spark, zones.gold_url(settings, table))

    def current(table: str) -> DataFrame | None:
        df = delta_io.read_delta_if_exists(spark, zones.gold_url(settings, table))
        return df.transform(freeze) if df is not None else None

    # Needed: the tables rewritten and what they read. Those the marts read are computed once (frozen).
    needed = rebuilt | {read for table in rebuilt for read in GOLD[table].reads}
    shared: dict[str, DataFrame] = {}
    rows_of: dict[str, int] = {}  # every table this build writes, counted as it is frozen

    def frozen(table: str, df: DataFrame) -> DataFrame:
        started = time.monotonic()
        frozen_df, rows_of[table] = freeze_counted(df)
        _logger().info(
            "gold: %s computed, %d rows in %.1f s", table, rows_of[table], time.monotonic() - started
        )
        return frozen_df

    def share(table: str, compute: Callable[[], DataFrame]) -> None:
        if table in rebuilt:
            shared[table] = frozen(table, compute())
        elif table in needed:
            shared[table] = stored(table)

    share("dim_customer", lambda: gold.dim_customer(read_silver(SCD2_HISTORY), current("dim_customer")))
    share("dim_product", lambda: gold.dim_product(read_silver("products"), current("dim_product")))
    share(
        "fact_sales",
        lambda: gold.fact_sales(
            read_silver("order_lines"), read_silver("orders"), shared["dim_customer"], shared["dim_product"]
        ),
    )
    share(
        "fact_reviews",
        lambda: gold.fact_reviews(read_silver("reviews"), shared["dim_customer"], shared["dim_product"]),
    )
    share(
        "fact_app_events",
        lambda: gold.fact_app_events(
            read_silver("app_events"), shared["dim_customer"], shared["dim_product"]
        ),
    )

    def dim_date() -> DataFrame:
        first_day, last_day = gold.dim_date_span(
            {table: read_silver(table) for table in gold.DATE_SPAN_COLUMNS}, as_of
        )
        # Power BI marks dim_date as the date table, which needs a blank-free date column: no -1 row.
        return gold.dim_date(spark, first_day, last_day, include_unknown=False)

    # The core marts that analytics marts recompute (they read facts, not another mart's write). When this
    # build rewrites one, it is computed once, frozen, and shared by its writer and the marts recomputing it.
    core_marts: dict[str, Callable[[], DataFrame]] = {
        "mart_monthly_revenue": lambda: gold.mart_monthly_revenue(shared["fact_sales"]),
        "mart_daily_region": lambda: gold.mart_daily_region(shared["fact_sales"]),
        "mart_rfm": lambda: gold.mart_rfm(shared["fact_sales"], shared["dim_customer"], as_of.date()),
    }
    frozen_marts: dict[str, DataFrame] = {}
    locks = {name: threading.Lock() for name in core_marts}

    def core(name: str) -> DataFrame:
        if name not in rebuilt:
            return core_marts[name]()
        with locks[name]:  # the writer threads may ask for it at the same time
            if name not in frozen_marts:
                frozen_marts[name] = frozen(name, core_marts[name]())
            return frozen_marts[name]

    builders: dict[str, Callable[[], DataFrame]] = {
        "dim_date": dim_date,
        "mart_product_rating": lambda: gold.mart_product_rating(
            shared["fact_reviews"], shared["dim_product"]
        ),
        "mart_funnel": lambda: gold.mart_funnel(shared["fact_app_events"]),
        "mart_customer_360": lambda: analytics.mart_customer_360(
            shared["fact_sales"], shared["fact_reviews"], shared["dim_customer"], core("mart_rfm")
        ),
        "mart_revenue_anomalies": lambda: analytics.mart_revenue_anomalies(core("mart_daily_region")),
        "mart_finance_monthly": lambda: analytics.mart_finance_monthly(
            read_silver("finance_entries"), core("mart_monthly_revenue")
        ),
    }

    def write(name: str) -> int:
        # Computed once, counted as it is frozen (the shared tables and core marts are already), then written.
        if name in shared:
            df = shared[name]
        elif name in core_marts:
            df = core(name)
        else:
            df = frozen(name, builders[name]())
        rows = rows_of[name]
        started = time.monotonic()
        files = max(1, math.ceil(rows / settings.gold_rows_per_file))  # file count from the table's size
        delta_io.overwrite(
            df.coalesce(files) if df.rdd.getNumPartitions() > files else df, zones.gold_url(settings, name)
        )
        _logger().info("gold: %s, %d rows written in %.1f s", name, rows, time.monotonic() - started)
        return rows

    order = [table for table in GOLD_TABLES if table in rebuilt]
    return dict(zip(order, _side_by_side(settings, write, order), strict=True))


@dataclass(frozen=True)
class GoldState:
    """Silver now, and what the last complete gold build recorded."""

    silver: int  # the processed-file log's Delta version (-1 before any load)
    built_from: int | None  # the silver state of the last complete gold build (None: never built)
    built_rows: dict[str, int] | None  # its row count per gold table (None: a build of older code)
    # The Delta version of each silver table now, and when that build read them (None: older code).
    versions: dict[str, int | None] = field(default_factory=dict)
    built_versions: dict[str, int | None] | None = None
    built_as_of: date | None = None  # the as_of date of that build (None: older code)
    built_run_id: str | None = None  # the run of that build: its checks and profiles describe that gold

    def changed_since_build(self, stale: Sequence[str]) -> frozenset[str] | None:
        """The silver and gold tables whose content may differ from that build's (None: any, or unknown).

        A silver table changed when its Delta version did; the gold tables that change are the ``stale``
        ones this build rewrites. The others hold what that build's checks and profiles saw.
        """
        if self.built_versions is None or self.built_run_id is None:
            return None
        silver = {t for t, version in self.versions.items() if self.built_versions.get(t, -1) != version}
        return frozenset(silver | set(stale))

    def is_current(self) -> bool:
        """Gold holds every catalog table, built from this very silver state."""
        tables_match = self.built_rows is None or set(self.built_rows) == set(GOLD_TABLES)
        return self.built_from == self.silver and tables_match

    def stale(self, as_of: datetime) -> tuple[str, ...]:
        """The gold tables to rewrite for ``as_of``: those whose inputs changed since the last build.

        A silver table changed when its Delta version did; a gold table that build did not write (a new mart
        after an upgrade) is stale itself; RFM and the like follow ``as_of``'s date, dim_date its year.
        Without a build of this code on record, every table is rewritten.
        """
        if self.built_rows is None or self.built_versions is None or self.built_as_of is None:
            return GOLD_TABLES
        changed = {t for t, version in self.versions.items() if self.built_versions.get(t, -1) != version}
        changed |= {t for t in GOLD_TABLES if t not in self.built_rows}
        moved = {"date": as_of.date() != self.built_as_of, "year": as_of.year != self.built_as_of.year}
        changed |= {t.name for t in GOLD_TABLES_SPEC if t.as_of is not None and moved[t.as_of]}
        return gold_to_rebuild(changed)

    def rows_after(self, built: dict[str, int]) -> dict[str, int]:
        """Every gold table's row count after a build that wrote ``built`` (the others as recorded)."""
        recorded = self.built_rows or {}
        return {t: built[t] if t in built else recorded[t] for t in GOLD_TABLES}


GOLD_BUILDS_SCHEMA = (
    "run_id string, silver_state long, built_at timestamp, gold_rows map<string, bigint>,"
    " silver_versions map<string, bigint>, as_of_date date"
)
GOLD_INPUTS = (*SILVER_KEYS, SCD2_HISTORY)  # the silver tables gold is built from


def silver_versions(spark: SparkSession, settings: Settings) -> dict[str, int | None]:
    """The Delta version of each silver table gold reads (None: no table yet)."""
    versions = _side_by_side(
        settings, lambda t: delta_io.table_version(spark, zones.silver_url(settings, t)), GOLD_INPUTS
    )
    return dict(zip(GOLD_INPUTS, versions, strict=True))


@task(cache_policy=NO_CACHE, task_run_name="gold-state")
def gold_state() -> GoldState:
    """The silver state now (its tables' versions) and the last complete gold build (small log reads)."""
    settings = get_settings()
    spark = spark_session(settings)
    state = delta_io.table_version(spark, zones.ops_url(settings, "processed_files"))
    versions = silver_versions(spark, settings)
    builds = delta_io.read_delta_if_exists(spark, zones.ops_url(settings, "gold_builds"))
    last = builds.orderBy(F.col("built_at").desc()).first() if builds is not None else None
    columns = set(builds.columns) if builds is not None else set()

    def recorded(column: str) -> Any:
        return last[column] if last is not None and column in columns else None

    rows, built_versions = recorded("gold_rows"), recorded("silver_versions")
    return GoldState(
        silver=-1 if state is None else state,
        built_from=None if last is None else int(last["silver_state"]),
        built_rows=None if rows is None else {table: int(n) for table, n in rows.items()},
        versions=versions,
        built_versions=None if built_versions is None else dict(built_versions),
        built_as_of=recorded("as_of_date"),
        built_run_id=None if last is None else last["run_id"],
    )


@task(cache_policy=NO_CACHE, task_run_name="nothing-new")
def recorded_gold_if_nothing_new() -> dict[str, int] | None:
    """The last gold build's row counts when no bronze file is new and that build is current; else None.

    Answered without Spark (the bronze listing through the SDK, the ops logs through delta-rs), so that a run
    with nothing to do starts no JVM. Any doubt answers None, and the Spark path decides as before.
    """
    settings = get_settings()
    if settings.storage_backend == "file":
        return None
    try:
        with Lake.quick_to_fail(settings) as lake:
            listed = {
                entity: pending.list_source_files(lake, "bronze", entity, SILVER[entity].bronze_suffix)
                for entity in SILVER_KEYS
            }
        log_url = zones.ops_url(settings, "processed_files")
        if any(pending.unprocessed_by_source(settings, log_url, listed).values()):
            return None
        log = delta_rs.open_table(settings, log_url)
        builds = delta_rs.open_table(settings, zones.ops_url(settings, "gold_builds"))
        if log is None or builds is None:
            return None
        rows = builds.to_pyarrow_table().to_pylist()
    except Exception as exc:  # a shortcut only: the Spark path gives the real answer
        get_run_logger().warning("could not check for new bronze files without Spark (%r): using Spark", exc)
        return None
    last = max(rows, key=lambda r: r["built_at"], default=None)
    if last is None or last.get("gold_rows") is None:
        return None
    state = GoldState(int(log.version()), int(last["silver_state"]), dict(last["gold_rows"]))
    return state.built_rows if state.is_current() else None


@task(cache_policy=NO_CACHE, task_run_name="gold-built")
def record_gold_build(
    run_id: str, state: GoldState, gold_rows: dict[str, int], as_of: datetime, maintained: bool = False
) -> None:
    """Remember that gold is complete for ``state``, with its row counts and inputs (after the writes).

    A run that finds gold current reports these counts instead of counting every table again; the next
    build rewrites only the tables whose inputs differ from the versions and ``as_of`` date recorded here.
    After maintenance the silver versions and the processed-file log's are read again: OPTIMIZE and VACUUM
    commit new versions of the same data, which must not make the next run rebuild gold (nor miss the
    no-Spark answer of a run with nothing new). Only the medallion writes these tables, one run at a time.
    """
    settings = get_settings()
    spark = spark_session(settings)
    silver_state, versions = state.silver, state.versions
    if maintained:
        log_version = delta_io.table_version(spark, zones.ops_url(settings, "processed_files"))
        silver_state = state.silver if log_version is None else log_version
        versions = silver_versions(spark, settings)
    row = (run_id, silver_state, datetime.now(UTC), gold_rows, versions, as_of.date())
    df = spark.createDataFrame([row], GOLD_BUILDS_SCHEMA)
    # mergeSchema: a log written by older code gains the columns it lacks.
    delta_io.append(df, zones.ops_url(settings, "gold_builds"), merge_schema=True)


# --- data quality ----------------------------------------------------------------------------------------
@task(cache_policy=NO_CACHE, task_run_name="dq-checks")
def check_quality(
    run_id: str,
    loads: list[EntityLoad],
    max_quarantine_fraction: float,
    changed: frozenset[str] | None = None,
    carry_from: str | None = None,
    reads: TableReads | None = None,
) -> tuple[list[dict], tuple[str, ...]]:
    """The catalog's table checks on silver and gold after the writes, and each load's quarantine share.

    A check whose tables are all outside ``changed`` (the tables written since the run ``carry_from``
    checked them) is not evaluated again: that run's result is recorded for this run as it stands. With
    ``changed`` None every check runs. Tables come from ``reads`` (kept cached for the profiles that follow)
    or, without it, are read and released here. Returns the results, and the checks evaluated
    (``table/check``).
    """
    settings = get_settings()
    spark = spark_session(settings)
    declared = {t.name: t.checks for t in SILVER_TABLES} | {name: GOLD[name].checks for name in GOLD_TABLES}
    unchanged = [
        (table, check.name)
        for table, table_checks in declared.items()
        for check in table_checks
        if changed is not None and not check.inputs(table) & changed
    ]
    carried = _rows_of_run(
        spark, zones.ops_url(settings, "dq_results"), DQ_RESULTS_SCHEMA, carry_from, unchanged, run_id
    )
    todo = {
        table: tuple(c for c in table_checks if (table, c.name) not in carried)
        for table, table_checks in declared.items()
    }
    needed = {name for table, cs in todo.items() for c in cs for name in c.inputs(table)}
    silver_names = {t.name for t in SILVER_TABLES}
    shared = reads or TableReads()
    try:
        tables = {
            name: shared.table(
                zones.silver_url(settings, name) if name in silver_names else zones.gold_url(settings, name)
            )
            for name in declared
            if name in needed
        }
        evaluated = checks.run_checks(
            run_id, tables, todo, map_checks=lambda evaluate, items: _side_by_side(settings, evaluate, items)
        )
    finally:
        if reads is None:
            shared.release()
    found = {(r[1], r[2]): r for r in evaluated} | {key: rows[0] for key, rows in carried.items()}
    results = [
        found[(table, c.name)] for table, cs in declared.items() for c in cs if (table, c.name) in found
    ]
    _logger().info(
        "dq: %d checks evaluated, %d unchanged since run %s", len(evaluated), len(carried), carry_from
    )
    for load in loads:
        if load.bronze:
            name, outcome = checks.quarantine_share(load.bronze, load.quarantined, max_quarantine_fraction)
            results.append((run_id, load.table, name, "error", outcome.passed, outcome.failed, []))
    df = spark.createDataFrame(results, DQ_RESULTS_SCHEMA)
    written = delta_io.is_in("concat(table_name, '/', expectation)", [f"{r[1]}/{r[2]}" for r in results])
    delta_io.replace_where(
        df, zones.ops_url(settings, "dq_results"), f"{delta_io.equals(run_id=run_id)} AND {written}"
    )
    rows = [dict(zip(DQ_RESULTS_SCHEMA.fieldNames(), r, strict=True)) for r in results]
    return rows, tuple(f"{r[1]}/{r[2]}" for r in evaluated)


def _rows_of_run(
    spark: SparkSession,
    url: str,
    schema: StructType,
    run: str | None,
    keys: Sequence[tuple[str, str]],
    run_id: str,
) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """What ``run`` wrote to the ops table at ``url`` under ``keys`` (``schema``'s 2nd and 3rd columns),
    as rows of ``schema`` restamped with ``run_id`` and grouped by key. Keys it did not write are absent."""
    previous = delta_io.read_delta_if_exists(spark, url) if run is not None and keys else None
    if previous is None:
        return {}
    first, second = schema.fieldNames()[1:3]
    wanted = delta_io.is_in(f"concat({first}, '/', {second})", [f"{a}/{b}" for a, b in keys])
    rows = previous.where(f"{delta_io.equals(run_id=run)} AND {wanted}").select(*schema.fieldNames())
    found: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in rows.collect():
        found.setdefault((row[1], row[2]), []).append((run_id, *tuple(row)[1:]))
    return found


@task(cache_policy=NO_CACHE, task_run_name="dq-results")
def read_dq_results(run_id: str) -> list[dict]:
    """Every dq_results row of this run (row-level expectations and table checks)."""
    settings = get_settings()
    spark = spark_session(settings)
    dq_df = delta_io.read_delta(spark, zones.ops_url(settings, "dq_results"), DQ_RESULTS_SCHEMA)
    rows = dq_df.where(F.col("run_id") == run_id).orderBy("table_name", "expectation")
    return [r.asDict() for r in rows.collect()]


# --- maintenance -----------------------------------------------------------------------------------------
def maintained_tables(settings: Settings) -> dict[str, str]:
    """Every Delta table the medallion writes, ``zone/table`` -> URL: gold, silver, quarantine, ``_ops``."""
    urls = {f"gold/{t}": zones.gold_url(settings, t) for t in GOLD_TABLES}
    urls |= {f"silver/{t}": zones.silver_url(settings, t) for t in (*SILVER_KEYS, SCD2_HISTORY)}
    urls |= {f"silver/quarantine_{t}": zones.quarantine_url(settings, t) for t in SILVER_KEYS}
    return urls | {f"{zone}/_ops/{t}": zones.ops_url(settings, t) for t, zone in zones.OPS_ZONE.items()}


@task(cache_policy=NO_CACHE, task_run_name="maintenance")
def maintain(retention_hours: float, max_files: int = 8) -> list[str]:
    """Compact tables with more than ``max_files`` files (Z-order on the large facts), then VACUUM them all.

    Gold is rewritten in few files (``gold_rows_per_file``), so it is compacted only when it has grown in
    pieces; silver, quarantine and the operational tables grow by a file or so per run (merges and appends
    write binned, ``delta_io.OPTIMIZED_WRITES``) and are compacted every few runs. VACUUM keeps
    ``retention_hours`` of time travel. The file count and the commits' age come from the Delta log through
    delta-rs: Spark runs only the OPTIMIZE and VACUUM that are due.
    """
    settings = get_settings()
    spark = spark_session(settings)
    urls = maintained_tables(settings)

    def maintain_table(item: tuple[str, str]) -> str | None:
        name, url = item
        facts = delta_rs.table_facts(settings, url)
        if facts is None:
            return None
        compact = facts.files > max_files
        started = time.monotonic()
        if compact:
            delta_io.optimize(spark, url, ZORDER.get(name.removeprefix("gold/"), ()))
        vacuumed = delta_io.vacuum(spark, url, retention_hours, facts.oldest_commit)
        done = ([f"compacted {facts.files} files"] if compact else []) + (["vacuumed"] if vacuumed else [])
        if done:
            _logger().info(
                "maintenance: %s %s in %.1f s", name, " and ".join(done), time.monotonic() - started
            )
        return name if compact else None

    return [name for name in _side_by_side(settings, maintain_table, list(urls.items())) if name]


# --- the flow --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MedallionResult:
    run_id: str
    loads: list[EntityLoad]
    gold_rows: dict[str, int]
    dq: list[dict]
    gold_rebuilt: bool  # the gold build ran (silver changed, or gold was not current)
    gold_written: tuple[str, ...] = ()  # the gold tables it rewrote: those whose inputs changed
    # The table checks (table/check) and profiles (zone/table) it evaluated; the others, of tables nothing
    # changed, are the last build's, recorded again for this run.
    checks_evaluated: tuple[str, ...] = ()
    tables_profiled: tuple[str, ...] = ()


@flow(name="medallion", flow_run_name="medallion", log_prints=True)
def medallion(
    as_of: datetime | None = None,
    max_quarantine_fraction: float = 0.2,
    vacuum_retention_hours: float = 168.0,
    run_maintenance: bool = True,
) -> MedallionResult:
    """Bronze -> silver -> gold with data quality and maintenance; one SparkSession, one Spark run at a time.

    Args:
        as_of: The instant "the future" starts for event checks and RFM recency (default: now, UTC).
        max_quarantine_fraction: An entity whose load quarantines more than this share of its bronze rows
            fails the run (error-severity check, alerted).
        vacuum_retention_hours: Time travel that VACUUM keeps.
        run_maintenance: OPTIMIZE (Z-order) and VACUUM after gold.
    """
    as_of = as_of or datetime.now(UTC)
    run_id = _run_id()
    logger = get_run_logger()
    recorded = recorded_gold_if_nothing_new()
    if recorded is not None:
        logger.info("no new bronze files and gold is current (checked without Spark): nothing to do")
        loads = [EntityLoad(entity, 0, 0, 0, 0, 0) for entity in SILVER_KEYS]
        publish_artifacts(run_id, loads, recorded, [])
        return MedallionResult(run_id, loads, recorded, [], False)
    with concurrency("spark", occupy=1, strict=False):
        loads = load_all_silver(run_id, as_of)
        changed = any(load.files for load in loads)
        state = gold_state()
        checks: list[dict] = []
        evaluated: tuple[str, ...] = ()
        profiled: tuple[str, ...] = ()
        # Gold is rebuilt when silver changed since the last *complete* build (also when that build
        # crashed half-way in an earlier run: the next run finds no new files but redoes gold), and when the
        # catalog names a gold table that build did not write (a new mart after an upgrade).
        # Only the gold tables whose inputs changed since that build are rewritten (all, the first time).
        rebuild = changed or not state.is_current()
        stale = state.stale(as_of) if rebuild else ()
        if rebuild:
            logger.info(
                "gold: rewriting %d of %d tables (%s)", len(stale), len(GOLD_TABLES), ", ".join(stale)
            )
            built = build_gold(as_of, stale) if stale else {}
            gold_rows = state.rows_after(built)
            # Checks and profiles of the tables nothing rewrote are the last build's, recorded again.
            changed_tables = state.changed_since_build(stale)
            reads = TableReads()  # the checks' reads of the changed tables serve the profiles too
            try:
                checks, evaluated = check_quality(
                    run_id, loads, max_quarantine_fraction, changed_tables, state.built_run_id, reads
                )
                profiled = profile_tables(run_id, changed_tables, state.built_run_id, reads)
            finally:
                reads.release()
            if run_maintenance:
                maintain(vacuum_retention_hours)
            # Last: a run that stops before this point is redone by the next (the same tables, rebuilt).
            record_gold_build(run_id, state, gold_rows, as_of, maintained=run_maintenance)
        else:
            logger.info("no new bronze files: silver and gold are unchanged")
            gold_rows = state.built_rows if state.built_rows is not None else gold_row_counts()
    # A run that loaded nothing and checked nothing wrote no dq_results rows.
    dq = read_dq_results(run_id) if changed or checks else []
    publish_artifacts(run_id, loads, gold_rows, dq)
    # Row-level failures are handled by quarantine; a failed table-level error check fails the run, in the
    # state DataQualityFailed, after one `lakehouse.dq.failed` event (the alert names the run and checks).
    breaches = [c for c in checks if c["severity"] == "error" and c["failed_count"]]
    # A flagged revenue day is a warning: one `lakehouse.revenue.anomaly` event, and the run goes on.
    anomalies = [c for c in checks if c["expectation"] == REVENUE_ANOMALY_CHECK and c["failed_count"]]
    if anomalies:
        announce_revenue_anomaly(run_id, anomalies[0])
    if breaches:
        error = DataQualityError(
            f"error-severity checks failed (see gold/_ops/dq_results, run {run_id}): {_describe(breaches)}"
        )
        announce_dq_failure(run_id, breaches)
        logger.error("%s", error)
        # Prefect ends the run in this state and raises `error` to an in-process caller.
        return Failed(name=DQ_FAILED_STATE, message=str(error), data=error)  # type: ignore[return-value]  # a State, not the annotated result
    return MedallionResult(run_id, loads, gold_rows, dq, rebuild, stale, evaluated, profiled)


def _describe(checks: list[dict]) -> str:
    return "; ".join(f"{c['table_name']}.{c['expectation']}: {c['failed_count']} failed" for c in checks)


@task(cache_policy=NO_CACHE, task_run_name="dq-alert")
def announce_dq_failure(run_id: str, breaches: list[dict]) -> None:
    """Emit ``lakehouse.dq.failed`` for this run (the ``lakehouse-dq-failed`` automation notifies)."""
    _emit_run_event(
        DQ_EVENT,
        f"lakehouse.dq.{run_id}",
        run_id,
        {
            "failed_checks": len(breaches),
            "checks": [f"{c['table_name']}.{c['expectation']}" for c in breaches],
            "summary": _describe(breaches),
        },
    )


def _emit_run_event(event: str, resource_id: str, run_id: str, payload: dict[str, Any]) -> None:
    """One event about this flow run (related to it unless ad hoc); the payload names the run too."""
    run_name = flow_run_runtime.name or run_id
    emit_event(
        event=event,
        resource={"prefect.resource.id": resource_id, "prefect.resource.name": run_name},
        related=[{"prefect.resource.id": f"prefect.flow-run.{run_id}", "prefect.resource.role": "flow-run"}]
        if not run_id.startswith("adhoc-")
        else None,
        payload={"flow_run_id": run_id, "flow_run_name": run_name, **payload},
    )


@task(cache_policy=NO_CACHE, task_run_name="revenue-anomaly-alert")
def announce_revenue_anomaly(run_id: str, result: dict) -> None:
    """Emit ``lakehouse.revenue.anomaly`` naming the flagged days (``lakehouse-revenue-anomaly`` notifies)."""
    days = list(result["sample_keys"])
    get_run_logger().warning("revenue anomaly on %s day(s): %s", result["failed_count"], "; ".join(days))
    _emit_run_event(
        REVENUE_ANOMALY_EVENT,
        f"lakehouse.revenue.{run_id}",
        run_id,
        {
            "anomalous_days": result["failed_count"],
            "days": days,
            "summary": f"{result['failed_count']} day(s) outside the expected band: {'; '.join(days)}",
        },
    )


@task(cache_policy=NO_CACHE, task_run_name="profiles")
def profile_tables(
    run_id: str,
    changed: frozenset[str] | None = None,
    carry_from: str | None = None,
    reads: TableReads | None = None,
) -> tuple[str, ...]:
    """Profile every silver and gold table into gold/_ops/profiles (this run's rows) and an artifact.

    A table outside ``changed`` keeps the profile run ``carry_from`` took of it, recorded again for this
    run; with ``changed`` None every table is profiled. Tables come from ``reads`` (those the checks read
    are cached there already) or, without it, are read and released here. Returns the tables profiled now
    (``zone/table``).
    """
    settings = get_settings()
    spark = spark_session(settings)
    urls = {("silver", t): zones.silver_url(settings, t) for t in (*SILVER_KEYS, SCD2_HISTORY)}
    urls |= {("gold", t): zones.gold_url(settings, t) for t in GOLD_TABLES}
    unchanged = [key for key in urls if changed is not None and key[1] not in changed]
    profiles_url = zones.ops_url(settings, "profiles")
    carried = _rows_of_run(spark, profiles_url, PROFILES_SCHEMA, carry_from, unchanged, run_id)

    def profile(item: tuple[tuple[str, str], str]) -> list[tuple[Any, ...]]:
        (zone, table), url = item
        if (zone, table) in carried:
            return carried[(zone, table)]
        # Cached (the checks' read, when they read it): the profile's aggregate and its top values then read
        # the table once (Delta lists its files once, not per query). The rows come back as Python values.
        df = shared.get(url)
        return [] if df is None else analytics.profile_rows(df, zone=zone, table_name=table, run_id=run_id)

    shared = reads or TableReads()
    try:
        per_table = dict(zip(urls, _side_by_side(settings, profile, list(urls.items())), strict=True))
    finally:
        if reads is None:
            shared.release()
    rows = [row for table_rows in per_table.values() for row in table_rows]
    profiled = tuple(
        f"{zone}/{table}"
        for (zone, table), found in per_table.items()
        if found and (zone, table) not in carried
    )
    profiles_df = spark.createDataFrame(rows, PROFILES_SCHEMA)
    delta_io.replace_where(profiles_df, profiles_url, delta_io.equals(run_id=run_id))
    names = PROFILES_SCHEMA.fieldNames()
    create_markdown_artifact(
        key="medallion-profiles",
        markdown=analytics.profiles_markdown([dict(zip(names, r, strict=True)) for r in rows], run_id),
        description="Per-table profiles of silver and gold (gold/_ops/profiles)",
    )
    _logger().info(
        "profiles: %d tables profiled, %d unchanged since run %s", len(profiled), len(carried), carry_from
    )
    return profiled


@task(cache_policy=NO_CACHE, task_run_name="gold-row-counts")
def gold_row_counts() -> dict[str, int]:
    settings = get_settings()
    spark = spark_session(settings)

    def count(table: str) -> int:
        return delta_io.read_delta(spark, zones.gold_url(settings, table)).count()  # from Delta's stats

    return dict(zip(GOLD_TABLES, _side_by_side(settings, count, GOLD_TABLES), strict=True))


def publish_artifacts(
    run_id: str, loads: list[EntityLoad], gold_rows: dict[str, int], dq: list[dict]
) -> None:
    """Row balance per entity, gold row counts and DQ results, as keyed artifacts (history in the UI)."""
    create_table_artifact(
        key="medallion-row-balance",
        table=[asdict(load) for load in loads],
        description=f"Bronze rows = silver + quarantined + duplicates, per entity (run {run_id})",
    )
    create_table_artifact(
        key="medallion-gold-rows",
        table=[{"table": t, "rows": n} for t, n in gold_rows.items()],
        description="Row counts of the gold tables",
    )
    failing = [r for r in dq if r["failed_count"]]
    lines = [
        f"# Data quality, run {run_id}",
        "",
        "| table | expectation | severity | passed | failed |",
        "|---|---|---|---|---|",
    ]
    for r in failing:
        cells = (r["table_name"], r["expectation"], r["severity"], r["passed_count"], r["failed_count"])
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines += ["", f"{len(dq)} checks, {len(failing)} with failures (row-level failures are quarantined)."]
    create_markdown_artifact(
        key="medallion-dq", markdown="\n".join(lines), description="Data quality results"
    )
