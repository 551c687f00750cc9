"""Gold analytics marts and table profiles, built on the star schema. Pure: DataFrames in, DataFrames out.

The business definitions are :mod:`transforms.gold`'s (a net order is neither cancelled nor returned,
revenue is the sum of net line amounts of net orders, days are UTC dates of ``ordered_at``). These marts
read the facts, dimensions and the core marts, never silver (except the finance ledger, which has no star):

* ``mart_customer_360`` — one row per customer: lifetime value, purchases, reviews and RFM segment.
* ``mart_revenue_anomalies`` — one row per day: revenue against a robust trailing expectation.
* ``mart_finance_monthly`` — one row per month: booked revenue, expenses, margin, and the sales revenue.
* :func:`profile_rows` — per column of any table: nulls, distinct values, min/max, top values.

No window here runs over a whole large table: the per-customer figures are ``groupBy`` aggregates, and the
anomaly windows are computed from daily totals (a few hundred rows) by an equi-join on the trailing dates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, BinaryType, BooleanType, MapType, StringType, StructType

from transforms.common import conform, date_key, utc_date
from transforms.gold_schemas import (
    MART_CUSTOMER_360_SCHEMA,
    MART_FINANCE_MONTHLY_SCHEMA,
    MART_REVENUE_ANOMALIES_SCHEMA,
    UNKNOWN_KEY,
)
from transforms.silver_schemas import MONEY_TYPE

# A normal distribution's standard deviation is 1.4826 x its median absolute deviation (MAD).
MAD_TO_SIGMA = 1.4826
TRAILING_DAYS = 28
MIN_HISTORY_DAYS = 14
# Daily revenue is right-skewed (a few large orders a day at small scales): at 4 robust sigmas a quiet
# synthetic year already has a natural day flagged (4.8 at SF0.01, seed 7), the injected x10 spike is ~17.
ANOMALY_SIGMAS = 6.0
# A floor for the band, as a share of the expected revenue: a flat history (MAD 0) would flag every cent.
MIN_BAND_SHARE = 0.1
TOP_VALUES = 5
MAX_TOP_DISTINCT = 100
NULL_LABEL = "<null>"


# --- customer 360 --------------------------------------------------------------------------------------
def mart_customer_360(
    fact_sales_df: DataFrame,
    fact_reviews_df: DataFrame,
    dim_customer_df: DataFrame,
    mart_rfm_df: DataFrame,
) -> DataFrame:
    """One row per customer (their current version in dim_customer; the unknown member left out).

    ``lifetime_value`` = revenue of the customer's net orders over all time (every version of the customer
    counts), ``purchase_count`` = those net orders, first/last order dates are theirs (null without one),
    ``average_order_value`` = lifetime value / purchases. ``rfm_segment`` comes from ``mart_rfm`` (null for
    a customer without a net order up to its as-of date); reviews are every review the customer wrote.
    """
    versions_df = dim_customer_df.where(F.col("customer_key") != UNKNOWN_KEY).select(
        "customer_key", "customer_id"
    )
    current_df = dim_customer_df.where((F.col("customer_key") != UNKNOWN_KEY) & F.col("is_current")).select(
        "customer_key", "customer_id", "segment", "region"
    )
    orders_df = (
        fact_sales_df.where(F.col("ordered_at").isNotNull() & (F.col("customer_key") != UNKNOWN_KEY))
        .groupBy("order_id")
        .agg(
            F.min("customer_key").alias("customer_key"),  # every line of an order has the same customer
            utc_date(F.min("ordered_at")).alias("order_date"),
            (~F.bool_or(F.col("is_cancelled") | F.col("is_returned"))).alias("is_net"),
            F.sum("net_amount").alias("order_amount"),
        )
        .where("is_net")
    )
    purchases_df = (
        orders_df.join(versions_df, "customer_key")
        .groupBy("customer_id")
        .agg(
            F.sum("order_amount").alias("lifetime_value"),
            F.count("*").alias("purchase_count"),
            F.min("order_date").alias("first_order_date"),
            F.max("order_date").alias("last_order_date"),
        )
    )
    reviews_df = (
        fact_reviews_df.where(F.col("customer_key") != UNKNOWN_KEY)
        .join(versions_df, "customer_key")
        .groupBy("customer_id")
        .agg(F.count("*").alias("review_count"), F.round(F.avg("rating"), 4).alias("average_rating"))
    )
    rfm_df = mart_rfm_df.select("customer_id", "rfm_segment")
    purchases = F.coalesce(F.col("purchase_count"), F.lit(0))
    result_df = (
        current_df.join(purchases_df, "customer_id", "left")
        .join(reviews_df, "customer_id", "left")
        .join(rfm_df, "customer_id", "left")
        .withColumn("lifetime_value", F.coalesce(F.col("lifetime_value"), F.lit(0)))
        .withColumn("purchase_count", purchases)
        .withColumn("review_count", F.coalesce(F.col("review_count"), F.lit(0)))
        .withColumn(
            "average_order_value",
            F.when(purchases > 0, F.round(F.col("lifetime_value") / purchases, 4)),
        )
    )
    return conform(result_df, MART_CUSTOMER_360_SCHEMA).orderBy("customer_id")


# --- revenue anomalies ---------------------------------------------------------------------------------
def mart_revenue_anomalies(
    mart_daily_region_df: DataFrame,
    trailing_days: int = TRAILING_DAYS,
    min_history_days: int = MIN_HISTORY_DAYS,
    sigmas: float = ANOMALY_SIGMAS,
) -> DataFrame:
    """One row per day from the first to the last order date (a day without orders has revenue 0).

    ``expected_revenue`` is the **median** revenue of the ``trailing_days`` days before the day (the day
    itself excluded), and the band is that median +/- ``sigmas`` x 1.4826 x the **MAD** (median absolute
    deviation) of the same days, at least +/- 10 % of the median. A day outside the band is an anomaly once
    its window holds ``min_history_days`` days; before that, expectation and band are null and it is not.

    Why median/MAD and not a weekday-seasonal model: the sources have no weekly pattern to model, and a
    seasonal baseline needs several weeks per weekday before it says anything; median and MAD ignore up to
    half the window being odd, so one spike neither hides itself nor inflates the band of the days after it
    (a mean and standard deviation would do both). Daily totals are aggregated first (one row per day), and
    the trailing window is an equi-join of each day with its ``trailing_days`` earlier dates, so no window
    function runs over an unpartitioned table.
    """
    if trailing_days < 1 or not 1 <= min_history_days <= trailing_days:
        raise ValueError(
            f"need trailing_days >= 1 and 1 <= min_history_days <= trailing_days, got {trailing_days} "
            f"and {min_history_days}"
        )
    daily_df = mart_daily_region_df.groupBy("order_date").agg(F.sum("revenue").alias("revenue"))
    span_df = daily_df.agg(F.min("order_date").alias("_first"), F.max("order_date").alias("_last"))
    days_df = (
        span_df.where(F.col("_first").isNotNull())
        .select(F.explode(F.sequence("_first", "_last")).alias("order_date"))
        .join(daily_df, "order_date", "left")
        .withColumn("revenue", F.coalesce(F.col("revenue"), F.lit(0)).cast(MONEY_TYPE))
    )
    history_df = (
        days_df.select("order_date", F.explode(F.sequence(F.lit(1), F.lit(trailing_days))).alias("_back"))
        .withColumn("_history_date", F.date_sub("order_date", F.col("_back")))
        .join(
            days_df.select(
                F.col("order_date").alias("_history_date"), F.col("revenue").cast("double").alias("_value")
            ),
            "_history_date",
        )
        .select("order_date", "_value")
    )
    median_df = history_df.groupBy("order_date").agg(
        F.median("_value").alias("_median"), F.count("*").cast("int").alias("window_days")
    )
    mad_df = (
        history_df.join(median_df, "order_date")
        .groupBy("order_date")
        .agg(F.median(F.abs(F.col("_value") - F.col("_median"))).alias("_mad"))
    )
    enough = F.col("window_days") >= min_history_days
    half_width = F.greatest(
        F.lit(sigmas * MAD_TO_SIGMA) * F.col("_mad"), F.lit(MIN_BAND_SHARE) * F.abs(F.col("_median"))
    )
    result_df = (
        days_df.join(median_df, "order_date", "left")
        .join(mad_df, "order_date", "left")
        .withColumn("window_days", F.coalesce(F.col("window_days"), F.lit(0)))
        .withColumn("expected_revenue", F.when(enough, _money(F.col("_median"))))
        .withColumn(
            "lower_bound", F.when(enough, _money(F.greatest(F.col("_median") - half_width, F.lit(0))))
        )
        .withColumn("upper_bound", F.when(enough, _money(F.col("_median") + half_width)))
        .withColumn(
            "is_anomaly",
            F.coalesce(
                enough
                & ((F.col("revenue") < F.col("lower_bound")) | (F.col("revenue") > F.col("upper_bound"))),
                F.lit(False),
            ),
        )
        .withColumn("date_key", date_key(F.col("order_date")))
    )
    return conform(result_df, MART_REVENUE_ANOMALIES_SCHEMA).orderBy("order_date")


# --- finance -------------------------------------------------------------------------------------------
def mart_finance_monthly(finance_entries_df: DataFrame, mart_monthly_revenue_df: DataFrame) -> DataFrame:
    """One row per month with a finance entry or a sale: booked revenue, expenses, margin, reconciliation.

    ``margin`` = revenue - expenses; ``margin_rate`` = margin / revenue (null without revenue). The ledger
    is reconciled against sales by showing both, not by a check: ``sales_revenue`` is the month's
    ``mart_monthly_revenue.revenue`` and ``revenue_difference`` = booked revenue - sales revenue. The
    ledger books revenue other than sales (services, licensing) and books it when invoiced, so a difference
    is information for finance, not a data error that should stop a run.
    """
    month = F.trunc(F.col("booked_date"), "month")
    booked_df = (
        finance_entries_df.where(F.col("booked_date").isNotNull())
        .groupBy(month.alias("month_start_date"))
        .agg(
            F.count("*").alias("entry_count"),
            F.sum(F.when(F.col("kind") == "revenue", F.col("amount"))).alias("revenue"),
            F.sum(F.when(F.col("kind") == "expense", F.col("amount"))).alias("expenses"),
        )
    )
    sales_df = mart_monthly_revenue_df.select("month_start_date", F.col("revenue").alias("sales_revenue"))
    zero = F.lit(0).cast(MONEY_TYPE)
    result_df = (
        booked_df.join(sales_df, "month_start_date", "full_outer")
        .withColumn("entry_count", F.coalesce(F.col("entry_count"), F.lit(0)))
        .withColumn("revenue", F.coalesce(F.col("revenue"), zero))
        .withColumn("expenses", F.coalesce(F.col("expenses"), zero))
        .withColumn("sales_revenue", F.coalesce(F.col("sales_revenue"), zero))
        .withColumn("margin", F.col("revenue") - F.col("expenses"))
        .withColumn(
            "margin_rate", F.when(F.col("revenue") > 0, F.round(F.col("margin") / F.col("revenue"), 4))
        )
        .withColumn("revenue_difference", F.col("revenue") - F.col("sales_revenue"))
        .withColumn("date_key", date_key(F.col("month_start_date")))
        .withColumn("year", F.year("month_start_date"))
        .withColumn("month", F.month("month_start_date"))
    )
    return conform(result_df, MART_FINANCE_MONTHLY_SCHEMA).orderBy("month_start_date")


# --- profiles ------------------------------------------------------------------------------------------
def profile_rows(
    df: DataFrame,
    *,
    zone: str,
    table_name: str,
    run_id: str,
    top_values: int = TOP_VALUES,
    max_top_distinct: int = MAX_TOP_DISTINCT,
) -> list[tuple[Any, ...]]:
    """One row per column of ``df`` (``PROFILES_SCHEMA``): rows, nulls, distinct values, min/max, top values.

    Two Spark jobs per table: one aggregation computes every column's null count, distinct count, min and
    max together; a second counts the values of the text and boolean columns that have at most
    ``max_top_distinct`` distinct values (ids would only list counts of 1) and keeps the ``top_values`` most
    frequent, as ``"value: count"`` (ties by value, nulls as ``<null>``). Distinct counts are
    ``approx_count_distinct`` (HyperLogLog++, about 5 % relative error; exact below a few hundred values)
    so that a profile never holds a column's values in memory. Min and max are left null for arrays, maps,
    structs and binary columns, and are the values as text (timestamps in the session time zone).
    """
    fields = list(df.schema.fields)
    orderable = [
        f for f in fields if not isinstance(f.dataType, ArrayType | MapType | StructType | BinaryType)
    ]
    aggregates: list[Column] = [F.count(F.lit(1)).alias("_rows")]
    for i, f in enumerate(fields):
        aggregates.append(F.count_if(F.col(f.name).isNull()).alias(f"_nulls_{i}"))
        if f in orderable:
            aggregates += [
                F.approx_count_distinct(f.name).alias(f"_distinct_{i}"),
                F.min(f.name).cast("string").alias(f"_min_{i}"),
                F.max(f.name).cast("string").alias(f"_max_{i}"),
            ]
    stats = df.agg(*aggregates).first()
    if stats is None:  # pragma: no cover - an aggregate without grouping always yields one row
        raise RuntimeError(f"profiling {table_name}: the aggregate returned no row")
    countable = [
        f.name
        for i, f in enumerate(fields)
        if isinstance(f.dataType, StringType | BooleanType)
        and (stats[f"_distinct_{i}"] or 0) <= max_top_distinct
    ]
    tops = _top_values(df, countable, top_values)
    rows: list[tuple[Any, ...]] = []
    for i, f in enumerate(fields):
        ordered = f in orderable
        rows.append(
            (
                run_id,
                zone,
                table_name,
                f.name,
                f.dataType.simpleString(),
                stats["_rows"],
                stats[f"_nulls_{i}"],
                stats[f"_distinct_{i}"] if ordered else None,
                stats[f"_min_{i}"] if ordered else None,
                stats[f"_max_{i}"] if ordered else None,
                tops.get(f.name),
            )
        )
    return rows


def profiles_markdown(rows: Sequence[Mapping[str, Any]], run_id: str) -> str:
    """The profile rows (``PROFILES_SCHEMA`` as dicts) as a Markdown report: one table per profiled table."""
    lines = [f"# Table profiles, run {run_id}", ""]
    tables: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        tables.setdefault((row["zone"], row["table_name"]), []).append(row)
    for (zone, table), columns in tables.items():
        lines += [
            f"## {zone}/{table}: {columns[0]['row_count']:,} rows",
            "",
            "| column | type | nulls | distinct (approx.) | min | max | top values |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in columns:
            cells = (
                c["column_name"],
                c["data_type"],
                c["null_count"],
                _cell(c["approx_distinct_count"]),
                _cell(c["min_value"]),
                _cell(c["max_value"]),
                ", ".join(_cell(v) for v in c["top_values"] or ()),
            )
            lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _cell(value: object, width: int = 40) -> str:
    """A value for a Markdown cell, cut to ``width`` characters (free text would flood the report)."""
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _top_values(df: DataFrame, columns: Sequence[str], limit: int) -> dict[str, list[str]]:
    """The ``limit`` most frequent values of each of ``columns``, counted in one job (values as text)."""
    if not columns:
        return {}
    pairs = F.array(*[F.struct(F.lit(c).alias("c"), F.col(c).cast("string").alias("v")) for c in columns])
    counted = df.select(F.explode(pairs).alias("_p")).groupBy("_p.c", "_p.v").count().collect()
    by_column: dict[str, list[tuple[int, str]]] = {c: [] for c in columns}
    for row in counted:
        label = NULL_LABEL if row["v"] is None else row["v"]
        by_column[row["c"]].append((-row["count"], label))
    return {c: [f"{label}: {-n}" for n, label in sorted(values)[:limit]] for c, values in by_column.items()}


def _money(value: Column) -> Column:
    return F.round(value, 4).cast(MONEY_TYPE)
