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

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.events import emit_event
from prefect.runtime import flow_run as flow_run_runtime
from prefect.states import Failed
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flows.alerts import DQ_EVENT, DQ_FAILED_STATE
from infra import zones
from infra.settings import Settings, get_settings
from infra.spark import build_spark_session, freeze
from infra.storage import delta_io
from transforms import checks, gold, silver
from transforms.catalog import GOLD, GOLD_TABLES, SCD2_HISTORY, SILVER, SILVER_KEYS, SILVER_TABLES, ZORDER
from transforms.silver_schemas import DQ_RESULTS_SCHEMA, LOAD_BALANCE_SCHEMA, SILVER_CUSTOMER_HISTORY_SCHEMA

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


def _silver_table(spark: SparkSession, settings: Settings, table: str) -> DataFrame:
    return delta_io.read_delta(spark, zones.silver_url(settings, table))


# --- bronze -> silver ------------------------------------------------------------------------------------
@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10, task_run_name="silver-{entity}")
def load_silver(entity: str, run_id: str, as_of: datetime) -> EntityLoad:
    """Bronze files not processed yet -> silver_<entity> (MERGE) + quarantine_<entity> + dq_results."""
    settings, table = get_settings(), SILVER[entity]
    spark = spark_session(settings)
    log_url = zones.ops_url(settings, "processed_files")
    listed = delta_io.list_files(spark, zones.bronze_url(settings, entity), table.bronze_suffix)
    files = delta_io.unprocessed_files(spark, log_url, entity, listed)
    if not files:
        return EntityLoad(entity, 0, 0, 0, 0, 0)
    load_id, at = f"{run_id}:{entity}", datetime.now(UTC)
    urls = [f.url for f in files]
    bronze_df = delta_io.read_bronze(spark, table.bronze_format, urls, table.read_schema, load_id, at).cache()
    references = {
        parent: delta_io.read_delta(spark, zones.silver_url(settings, parent), SILVER[parent].schema).select(
            key
        )
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
    delta_io.replace_where(
        result.dq_df, zones.ops_url(settings, "dq_results"), delta_io.equals(run_id=run_id, table_name=entity)
    )
    balance = (run_id, entity, load_id, len(files), counts.bronze, counts.silver, counts.quarantined)
    balance_df = spark.createDataFrame([(*balance, counts.duplicates, at)], LOAD_BALANCE_SCHEMA)
    delta_io.replace_where(
        balance_df, zones.ops_url(settings, "load_balance"), delta_io.equals(load_id=load_id)
    )
    delta_io.record_processed(spark, log_url, entity, files, load_id, at)
    for df in (bronze_df, result.silver_df, result.quarantine_df):
        df.unpersist()
    return EntityLoad(entity, len(files), counts.bronze, counts.silver, counts.quarantined, counts.duplicates)


# --- silver -> gold --------------------------------------------------------------------------------------
@task(cache_policy=NO_CACHE, task_run_name="gold")
def build_gold(as_of: datetime) -> dict[str, int]:
    """Rebuild every gold table from silver (dimension keys are kept stable); returns row counts."""
    settings = get_settings()
    spark = spark_session(settings)

    def read_silver(table: str) -> DataFrame:
        return _silver_table(spark, settings, table)

    def current(table: str) -> DataFrame | None:
        df = delta_io.read_delta_if_exists(spark, zones.gold_url(settings, table))
        return df.transform(freeze) if df is not None else None

    orders_df, lines_df = read_silver("orders"), read_silver("order_lines")
    dim_customer_df = gold.dim_customer(read_silver(SCD2_HISTORY), current("dim_customer")).transform(freeze)
    dim_product_df = gold.dim_product(read_silver("products"), current("dim_product")).transform(freeze)
    first_day, last_day = gold.dim_date_span(
        {table: read_silver(table) for table in gold.DATE_SPAN_COLUMNS}, as_of
    )
    fact_sales_df = gold.fact_sales(lines_df, orders_df, dim_customer_df, dim_product_df).transform(freeze)
    fact_reviews_df = gold.fact_reviews(read_silver("reviews"), dim_customer_df, dim_product_df).transform(
        freeze
    )
    fact_events_df = gold.fact_app_events(
        read_silver("app_events"), dim_customer_df, dim_product_df
    ).transform(freeze)
    builders = {
        "dim_customer": lambda: dim_customer_df,
        "dim_product": lambda: dim_product_df,
        # Power BI marks dim_date as the date table, which needs a blank-free date column: no -1 row.
        "dim_date": lambda: gold.dim_date(spark, first_day, last_day, include_unknown=False),
        "fact_sales": lambda: fact_sales_df,
        "fact_reviews": lambda: fact_reviews_df,
        "fact_app_events": lambda: fact_events_df,
        "mart_monthly_revenue": lambda: gold.mart_monthly_revenue(fact_sales_df),
        "mart_daily_region": lambda: gold.mart_daily_region(fact_sales_df),
        "mart_rfm": lambda: gold.mart_rfm(fact_sales_df, dim_customer_df, as_of.date()),
        "mart_product_rating": lambda: gold.mart_product_rating(fact_reviews_df, dim_product_df),
        "mart_funnel": lambda: gold.mart_funnel(fact_events_df),
    }
    counts: dict[str, int] = {}
    for name in GOLD_TABLES:
        df = builders[name]().transform(freeze)
        delta_io.overwrite(
            df.coalesce(1) if df.rdd.getNumPartitions() > 1 else df, zones.gold_url(settings, name)
        )
        counts[name] = df.count()
    return counts


# --- data quality ----------------------------------------------------------------------------------------
@task(cache_policy=NO_CACHE, task_run_name="dq-checks")
def check_quality(run_id: str, loads: list[EntityLoad], max_quarantine_fraction: float) -> list[dict]:
    """The catalog's table checks on silver and gold after the writes, and each load's quarantine share."""
    settings = get_settings()
    spark = spark_session(settings)
    tables = {t.name: _silver_table(spark, settings, t.name) for t in SILVER_TABLES}
    tables |= {name: delta_io.read_delta(spark, zones.gold_url(settings, name)) for name in GOLD_TABLES}
    declared = {t.name: t.checks for t in SILVER_TABLES} | {name: GOLD[name].checks for name in GOLD_TABLES}
    results = checks.run_checks(run_id, tables, declared)
    for load in loads:
        if load.bronze:
            name, outcome = checks.quarantine_share(load.bronze, load.quarantined, max_quarantine_fraction)
            results.append((run_id, load.table, name, "error", outcome.passed, outcome.failed, []))
    df = spark.createDataFrame(results, DQ_RESULTS_SCHEMA)
    written = delta_io.is_in("concat(table_name, '/', expectation)", [f"{r[1]}/{r[2]}" for r in results])
    delta_io.replace_where(
        df, zones.ops_url(settings, "dq_results"), f"{delta_io.equals(run_id=run_id)} AND {written}"
    )
    return [dict(zip(DQ_RESULTS_SCHEMA.fieldNames(), r, strict=True)) for r in results]


@task(cache_policy=NO_CACHE, task_run_name="dq-results")
def read_dq_results(run_id: str) -> list[dict]:
    """Every dq_results row of this run (row-level expectations and table checks)."""
    settings = get_settings()
    spark = spark_session(settings)
    dq_df = delta_io.read_delta(spark, zones.ops_url(settings, "dq_results"), DQ_RESULTS_SCHEMA)
    rows = dq_df.where(F.col("run_id") == run_id).orderBy("table_name", "expectation")
    return [r.asDict() for r in rows.collect()]


# --- maintenance -----------------------------------------------------------------------------------------
@task(cache_policy=NO_CACHE, task_run_name="maintenance")
def maintain(retention_hours: float, max_files: int = 8) -> list[str]:
    """Compact tables with more than ``max_files`` files (Z-order on the large facts), then VACUUM them all.

    Gold is rewritten as one file per table, so it is compacted only when it has grown in pieces; VACUUM
    keeps ``retention_hours`` of time travel.
    """
    settings = get_settings()
    spark = spark_session(settings)
    urls = {f"gold/{t}": zones.gold_url(settings, t) for t in GOLD_TABLES}
    urls |= {f"silver/{t}": zones.silver_url(settings, t) for t in (*SILVER_KEYS, SCD2_HISTORY)}
    compacted = []
    for name, url in urls.items():
        if not delta_io.is_delta_table(spark, url):
            continue
        if delta_io.file_count(spark, url) > max_files:
            delta_io.optimize(spark, url, ZORDER.get(name.removeprefix("gold/"), ()))
            compacted.append(name)
        delta_io.vacuum(spark, url, retention_hours)
    return compacted


# --- the flow --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MedallionResult:
    run_id: str
    loads: list[EntityLoad]
    gold_rows: dict[str, int]
    dq: list[dict]
    gold_rebuilt: bool


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
    with concurrency("spark", occupy=1, strict=False):
        loads = [load_silver(entity, run_id, as_of) for entity in SILVER_KEYS]
        settings = get_settings()
        changed = any(load.files for load in loads)
        gold_exists = delta_io.is_delta_table(spark_session(settings), zones.gold_url(settings, "fact_sales"))
        checks: list[dict] = []
        if changed or not gold_exists:
            gold_rows = build_gold(as_of)
            checks = check_quality(run_id, loads, max_quarantine_fraction)
            if run_maintenance:
                maintain(vacuum_retention_hours)
        else:
            logger.info("no new bronze files: silver and gold are unchanged")
            gold_rows = gold_row_counts()
    dq = read_dq_results(run_id)
    publish_artifacts(run_id, loads, gold_rows, dq)
    # Row-level failures are handled by quarantine; a failed table-level error check fails the run, in the
    # state DataQualityFailed, after one `lakehouse.dq.failed` event (the alert names the run and checks).
    breaches = [c for c in checks if c["severity"] == "error" and c["failed_count"]]
    if breaches:
        error = DataQualityError(
            f"error-severity checks failed (see gold/_ops/dq_results, run {run_id}): {_describe(breaches)}"
        )
        announce_dq_failure(run_id, breaches)
        logger.error("%s", error)
        # Prefect ends the run in this state and raises `error` to an in-process caller.
        return Failed(name=DQ_FAILED_STATE, message=str(error), data=error)  # type: ignore[return-value]  # a State, not the annotated result
    return MedallionResult(run_id, loads, gold_rows, dq, changed or not gold_exists)


def _describe(checks: list[dict]) -> str:
    return "; ".join(f"{c['table_name']}.{c['expectation']}: {c['failed_count']} failed" for c in checks)


@task(cache_policy=NO_CACHE, task_run_name="dq-alert")
def announce_dq_failure(run_id: str, breaches: list[dict]) -> None:
    """Emit ``lakehouse.dq.failed`` for this run (the ``lakehouse-dq-failed`` automation notifies)."""
    run_name = flow_run_runtime.name or run_id
    emit_event(
        event=DQ_EVENT,
        resource={"prefect.resource.id": f"lakehouse.dq.{run_id}", "prefect.resource.name": run_name},
        related=[{"prefect.resource.id": f"prefect.flow-run.{run_id}", "prefect.resource.role": "flow-run"}]
        if not run_id.startswith("adhoc-")
        else None,
        payload={
            "flow_run_id": run_id,
            "flow_run_name": run_name,
            "failed_checks": len(breaches),
            "checks": [f"{c['table_name']}.{c['expectation']}" for c in breaches],
            "summary": _describe(breaches),
        },
    )


@task(cache_policy=NO_CACHE, task_run_name="gold-row-counts")
def gold_row_counts() -> dict[str, int]:
    settings = get_settings()
    spark = spark_session(settings)
    return {t: delta_io.read_delta(spark, zones.gold_url(settings, t)).count() for t in GOLD_TABLES}


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
