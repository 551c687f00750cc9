"""The `medallion` flow: bronze -> silver (+ quarantine), silver -> gold, data quality, maintenance.

Tasks pass table names and counts between them, never DataFrames (Prefect cannot hash them), and use one
SparkSession per flow run. Transforms come from ``transforms/`` (pure); reads and writes from
``infra.delta_io``; paths from the zone map.

Incremental and idempotent: each entity reads only the bronze files its processed-file log does not hold,
MERGEs them into silver on business keys and records them afterwards. A re-run with nothing new writes
nothing; a crash before the log is written makes the next run redo that entity, and MERGE absorbs it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.concurrency.sync import concurrency
from prefect.context import get_run_context
from prefect.events import emit_event
from prefect.runtime import flow_run as flow_run_runtime
from prefect.states import Failed
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from flows.alerts import DQ_EVENT, DQ_FAILED_STATE
from infra.settings import Settings, get_settings
from infra.spark import build_spark_session
from infra.storage import delta_io
from transforms import gold, silver
from transforms.bronze_schemas import (
    APP_EVENTS_PARQUET_SCHEMA,
    CAPTURE_AVRO_SCHEMA,
    CUSTOMERS_CSV_SCHEMA,
    ORDER_LINES_CSV_SCHEMA,
    ORDERS_CSV_SCHEMA,
    PRODUCTS_CSV_SCHEMA,
)
from transforms.silver_schemas import (
    DQ_RESULTS_SCHEMA,
    SILVER_CUSTOMER_HISTORY_SCHEMA,
    SILVER_CUSTOMERS_SCHEMA,
    SILVER_ORDERS_SCHEMA,
    SILVER_PRODUCTS_SCHEMA,
)

# Silver tables in load order (referential checks need their parents first), with business keys and the
# guard that keeps a replayed older version from overwriting a newer one.
SILVER_KEYS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "products": ("product_id",),
    "orders": ("order_id",),
    "order_lines": ("order_id", "line_number"),
    "reviews": ("review_id",),
    "app_events": ("event_id",),
}
NEWER_WINS = "s.updated_at >= t.updated_at OR t.updated_at IS NULL"
UPDATE_GUARDS = {"customers": NEWER_WINS, "products": NEWER_WINS, "orders": NEWER_WINS}
BRONZE_SUFFIX = {
    "customers": ".csv",
    "products": ".csv",
    "orders": ".csv",
    "order_lines": ".csv",
    "reviews": ".avro",
    "app_events": ".parquet",
}
CSV_SCHEMAS = {
    "customers": CUSTOMERS_CSV_SCHEMA,
    "products": PRODUCTS_CSV_SCHEMA,
    "orders": ORDERS_CSV_SCHEMA,
    "order_lines": ORDER_LINES_CSV_SCHEMA,
}
GOLD_TABLES = (
    "dim_customer",
    "dim_product",
    "dim_date",
    "fact_sales",
    "fact_reviews",
    "fact_app_events",
    "mart_monthly_revenue",
    "mart_daily_region",
    "mart_rfm",
    "mart_product_rating",
    "mart_funnel",
)
# Z-order where queries filter: the large facts by their date key.
ZORDER = {"fact_sales": ("date_key",), "fact_app_events": ("date_key",)}


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


# --- locations -------------------------------------------------------------------------------------------
def silver_url(settings: Settings, table: str) -> str:
    return settings.lake_url("silver", table)


def gold_url(settings: Settings, table: str) -> str:
    return settings.lake_url("gold", table)


def ops_url(settings: Settings, table: str) -> str:
    """Operational tables (logs, results) live beside the data, under ``_ops/``."""
    zone = "gold" if table == "dq_results" else "silver"
    return settings.lake_url(zone, "_ops", table)


def spark_session(settings: Settings) -> SparkSession:
    """The flow run's one SparkSession (created on first use, then shared)."""
    return build_spark_session(settings, app_name="medallion")


def _run_id() -> str:
    try:
        return str(get_run_context().flow_run.id)  # type: ignore[union-attr]
    except Exception:  # outside a flow run (e.g. a notebook)
        return f"adhoc-{uuid.uuid4()}"


# --- bronze -> silver ------------------------------------------------------------------------------------
def read_bronze(
    spark: SparkSession, entity: str, files: list[delta_io.SourceFile], load_id: str, at: datetime
) -> DataFrame:
    urls = [f.url for f in files]
    if entity in CSV_SCHEMAS:
        return delta_io.read_csv(spark, urls, CSV_SCHEMAS[entity], load_id, at)
    if entity == "reviews":
        return delta_io.read_avro(spark, urls, CAPTURE_AVRO_SCHEMA, load_id, at)
    return delta_io.read_parquet(spark, urls, APP_EVENTS_PARQUET_SCHEMA, load_id, at)


def standardize(
    spark: SparkSession, settings: Settings, entity: str, bronze_df: DataFrame, run_id: str, as_of: datetime
) -> silver.StandardizeResult:
    """Call the entity's pure transform with the reference keys it checks against (parents come first)."""

    def keys(table: str, column: str) -> DataFrame:
        return delta_io.read_delta(spark, silver_url(settings, table), SCHEMAS_FOR_KEYS[table]).select(column)

    if entity == "customers":
        return silver.standardize_customers(bronze_df, run_id=run_id)
    if entity == "products":
        return silver.standardize_products(bronze_df, run_id=run_id)
    if entity == "orders":
        return silver.standardize_orders(
            bronze_df, customer_keys_df=keys("customers", "customer_id"), run_id=run_id
        )
    if entity == "order_lines":
        return silver.standardize_order_lines(
            bronze_df,
            product_keys_df=keys("products", "product_id"),
            order_keys_df=keys("orders", "order_id"),
            run_id=run_id,
        )
    if entity == "reviews":
        return silver.standardize_reviews(
            bronze_df,
            product_keys_df=keys("products", "product_id"),
            customer_keys_df=keys("customers", "customer_id"),
            as_of=as_of,
            run_id=run_id,
        )
    return silver.standardize_app_events(bronze_df, as_of=as_of, run_id=run_id)


SCHEMAS_FOR_KEYS = {
    "customers": SILVER_CUSTOMERS_SCHEMA,
    "products": SILVER_PRODUCTS_SCHEMA,
    "orders": SILVER_ORDERS_SCHEMA,
}


@task(cache_policy=NO_CACHE, retries=1, retry_delay_seconds=10, task_run_name="silver-{entity}")
def load_silver(entity: str, run_id: str, as_of: datetime) -> EntityLoad:
    """Bronze files not processed yet -> silver_<entity> (MERGE) + quarantine_<entity> + dq_results."""
    settings = get_settings()
    spark = spark_session(settings)
    log_url = ops_url(settings, "processed_files")
    listed = delta_io.list_files(spark, settings.lake_url("bronze", entity), BRONZE_SUFFIX[entity])
    files = delta_io.unprocessed_files(spark, log_url, entity, listed)
    if not files:
        return EntityLoad(entity, 0, 0, 0, 0, 0)
    load_id = f"{run_id}:{entity}"
    at = datetime.now(UTC)
    bronze_df = read_bronze(spark, entity, files, load_id, at).cache()
    result = standardize(spark, settings, entity, bronze_df, run_id, as_of)
    silver_df = result.silver_df.cache()
    quarantine_df = result.quarantine_df.cache()
    counts = silver.row_counts(
        bronze_df, silver.StandardizeResult(silver_df, quarantine_df, result.duplicates_df, result.dq_df)
    )
    if not counts.is_balanced:
        raise DataQualityError(
            f"{entity}: {counts.bronze} bronze rows != {counts.silver} silver + {counts.quarantined} "
            f"quarantined + {counts.duplicates} duplicates; nothing was written for these files"
        )
    if entity == "customers":
        history_url = silver_url(settings, "customer_history")
        history_df = delta_io.read_delta(spark, history_url, SILVER_CUSTOMER_HISTORY_SCHEMA)
        # Every version of the load (superseded ones sit in duplicates_df) opens its SCD2 row.
        versions_df = silver_df.unionByName(result.duplicates_df)
        new_history_df = silver.scd2_customer_history(history_df, versions_df).localCheckpoint()
        delta_io.overwrite(new_history_df, history_url)
    delta_io.merge(
        silver_df, silver_url(settings, entity), SILVER_KEYS[entity], update_when=UPDATE_GUARDS.get(entity)
    )
    file_list = ", ".join("'" + f.url.replace("'", "''") + "'" for f in files)
    delta_io.replace_where(
        quarantine_df, silver_url(settings, f"quarantine_{entity}"), f"_source_file IN ({file_list})"
    )
    delta_io.replace_where(
        result.dq_df,
        ops_url(settings, "dq_results"),
        f"run_id = '{run_id}' AND table_name = '{entity}'",
    )
    balance = spark.createDataFrame(
        [
            (
                run_id,
                entity,
                load_id,
                len(files),
                counts.bronze,
                counts.silver,
                counts.quarantined,
                counts.duplicates,
                at,
            )
        ],
        "run_id string, table_name string, load_id string, files int, bronze_rows long, silver_rows long, "
        "quarantined_rows long, duplicate_rows long, loaded_at timestamp",
    )
    delta_io.replace_where(balance, ops_url(settings, "load_balance"), f"load_id = '{load_id}'")
    delta_io.record_processed(spark, log_url, entity, files, load_id, at)
    for df in (bronze_df, silver_df, quarantine_df):
        df.unpersist()
    return EntityLoad(entity, len(files), counts.bronze, counts.silver, counts.quarantined, counts.duplicates)


# --- silver -> gold --------------------------------------------------------------------------------------
@task(cache_policy=NO_CACHE, task_run_name="gold")
def build_gold(as_of: datetime) -> dict[str, int]:
    """Rebuild every gold table from silver (dimension keys are kept stable); returns row counts."""
    settings = get_settings()
    spark = spark_session(settings)

    def read_silver(table: str) -> DataFrame:
        return spark.read.format("delta").load(silver_url(settings, table))

    def current(table: str) -> DataFrame | None:
        url = gold_url(settings, table)
        return (
            spark.read.format("delta").load(url).localCheckpoint()
            if delta_io.is_delta_table(spark, url)
            else None
        )

    orders_df, lines_df = read_silver("orders"), read_silver("order_lines")
    dim_customer_df = gold.dim_customer(
        read_silver("customer_history"), current("dim_customer")
    ).localCheckpoint()
    dim_product_df = gold.dim_product(read_silver("products"), current("dim_product")).localCheckpoint()
    first_day, last_day = _date_span(spark, settings, as_of)
    tables: dict[str, Callable[[], DataFrame]] = {
        "dim_customer": lambda: dim_customer_df,
        "dim_product": lambda: dim_product_df,
        # Power BI marks dim_date as the date table, which needs a blank-free date column: no -1 row.
        "dim_date": lambda: gold.dim_date(spark, first_day, last_day, include_unknown=False),
    }
    fact_sales_df = gold.fact_sales(lines_df, orders_df, dim_customer_df, dim_product_df).localCheckpoint()
    fact_reviews_df = gold.fact_reviews(
        read_silver("reviews"), dim_customer_df, dim_product_df
    ).localCheckpoint()
    fact_events_df = gold.fact_app_events(
        read_silver("app_events"), dim_customer_df, dim_product_df
    ).localCheckpoint()
    tables |= {
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
        df = tables[name]().localCheckpoint()
        delta_io.overwrite(df.coalesce(1) if df.rdd.getNumPartitions() > 1 else df, gold_url(settings, name))
        counts[name] = df.count()
    return counts


def _date_span(spark: SparkSession, settings: Settings, as_of: datetime) -> tuple[date, date]:
    """dim_date covers every order, review and event date, whole years, up to ``as_of``'s year end."""
    dates = []
    for table, column in (
        ("orders", "ordered_date"),
        ("reviews", "reviewed_date"),
        ("app_events", "occurred_date"),
    ):
        row = spark.read.format("delta").load(silver_url(settings, table)).agg(F.min(column)).first()
        if row and row[0]:
            dates.append(row[0])
    first = min(dates) if dates else as_of.date()
    return date(first.year, 1, 1), date(as_of.year, 12, 31)


# --- data quality ----------------------------------------------------------------------------------------
@task(cache_policy=NO_CACHE, task_run_name="dq-checks")
def check_quality(run_id: str, loads: list[EntityLoad], max_quarantine_fraction: float) -> list[dict]:
    """Table-level checks after the writes: keys unique in silver, facts keyed, quarantine under threshold."""
    settings = get_settings()
    spark = spark_session(settings)
    results: list[tuple] = []

    def record(table: str, name: str, severity: str, passed: int, failed: int, samples: list[str]) -> None:
        results.append((run_id, table, name, severity, passed, failed, samples[:5]))

    for table, keys in SILVER_KEYS.items():
        df = spark.read.format("delta").load(silver_url(settings, table))
        dupes = df.groupBy(*keys).count().where("count > 1")
        samples = [" | ".join(str(v) for v in r[: len(keys)]) for r in dupes.limit(5).collect()]
        total, failed = df.count(), dupes.count()
        record(table, "keys_unique", "error", total - failed, failed, samples)
    for fact, key in (
        ("fact_sales", "customer_key"),
        ("fact_sales", "product_key"),
        ("fact_reviews", "product_key"),
    ):
        df = spark.read.format("delta").load(gold_url(settings, fact))
        failed = df.where(F.col(key).isNull()).count()
        record(fact, f"{key}_not_null", "error", df.count() - failed, failed, [])
        unknown = df.where(F.col(key) == -1).count()
        record(fact, f"{key}_known", "warn", df.count() - unknown, unknown, [])
    for load in loads:
        if load.bronze:
            too_many = load.quarantined > max_quarantine_fraction * load.bronze
            record(
                load.table,
                f"quarantine_at_most_{max_quarantine_fraction:g}",
                "error",
                load.bronze - load.quarantined,
                load.quarantined if too_many else 0,
                [],
            )
    df = spark.createDataFrame(results, DQ_RESULTS_SCHEMA)
    written = ", ".join(f"'{r[1]}/{r[2]}'" for r in results)
    predicate = f"run_id = '{run_id}' AND concat(table_name, '/', expectation) IN ({written})"
    delta_io.replace_where(df, ops_url(settings, "dq_results"), predicate)
    return [dict(zip(DQ_RESULTS_SCHEMA.fieldNames(), r, strict=True)) for r in results]


@task(cache_policy=NO_CACHE, task_run_name="dq-results")
def read_dq_results(run_id: str) -> list[dict]:
    """Every dq_results row of this run (row-level expectations and table checks)."""
    settings = get_settings()
    spark = spark_session(settings)
    url = ops_url(settings, "dq_results")
    if not delta_io.is_delta_table(spark, url):
        return []
    rows = (
        spark.read.format("delta")
        .load(url)
        .where(F.col("run_id") == run_id)
        .orderBy("table_name", "expectation")
    )
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
    urls = {f"gold/{t}": gold_url(settings, t) for t in GOLD_TABLES}
    urls |= {f"silver/{t}": silver_url(settings, t) for t in (*SILVER_KEYS, "customer_history")}
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
        gold_exists = delta_io.is_delta_table(spark_session(settings), gold_url(settings, "fact_sales"))
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
    return {t: spark.read.format("delta").load(gold_url(settings, t)).count() for t in GOLD_TABLES}


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
