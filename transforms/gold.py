"""Silver -> gold: the star schema (dims, facts) and the marts Power BI reads. Pure: DataFrames in, out.

Business definitions used by every mart:

* A **net order** is an order whose status is neither ``cancelled`` nor ``returned``.
* **revenue** = sum of ``net_amount`` over the lines of net orders (EUR, ``decimal(19,4)``).
* **average order value** (AOV) = revenue / number of net orders (null when there is none).
* **cancellation rate** = cancelled orders / all orders; **return rate** = returned orders / all orders.
* Periods and days are UTC calendar dates of ``ordered_at``.

Surrogate keys are ints, stable across runs when the previous dimension is passed in; ``-1`` is the
unknown member of every dimension, used for orphan or late references so that facts never lose a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from transforms.common import conform, date_key, freeze, utc_date
from transforms.gold_schemas import (
    DIM_CUSTOMER_SCHEMA,
    DIM_DATE_SCHEMA,
    DIM_PRODUCT_SCHEMA,
    FACT_APP_EVENTS_SCHEMA,
    FACT_REVIEWS_SCHEMA,
    FACT_SALES_SCHEMA,
    MART_DAILY_REGION_SCHEMA,
    MART_FUNNEL_SCHEMA,
    MART_MONTHLY_REVENUE_SCHEMA,
    MART_PRODUCT_RATING_SCHEMA,
    MART_RFM_SCHEMA,
    RATE_TYPE,
    UNKNOWN_KEY,
)
from transforms.silver_schemas import MONEY_TYPE

MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# view -> cart -> checkout -> purchase; a search is not a funnel step (null).
FUNNEL_STEPS = {"page_view": 1, "add_to_cart": 2, "checkout": 3, "purchase": 4}
NON_NET_STATUSES = ("cancelled", "returned")
UNKNOWN = "unknown"
# The unknown customer is valid over all time.
UNKNOWN_VALID_FROM = datetime(1900, 1, 1, tzinfo=UTC)


# --- dimensions ----------------------------------------------------------------------------------------
def dim_customer(history_df: DataFrame, current_dim_df: DataFrame | None = None) -> DataFrame:
    """One row per customer version (SCD Type 2) plus the unknown member; email hashed, name left in silver.

    ``customer_key`` of a version, identified by (customer_id, valid_from), is kept from ``current_dim_df``;
    new versions get keys above the current maximum, in (valid_from, customer_id) order.
    """
    versions_df = history_df.select(
        "customer_id",
        F.sha2(F.col("email"), 256).alias("email_sha256"),
        "country",
        "region",
        "segment",
        "signup_date",
        "is_active",
        "valid_from",
        "valid_to",
        "is_current",
    )
    keyed_df = _assign_keys(versions_df, current_dim_df, "customer_key", ("customer_id", "valid_from"))
    unknown_df = _unknown_row(
        history_df.sparkSession,
        DIM_CUSTOMER_SCHEMA,
        customer_id=UNKNOWN,
        country=UNKNOWN,
        region=UNKNOWN,
        segment=UNKNOWN,
        valid_from=UNKNOWN_VALID_FROM,
        is_current=True,
    )
    return conform(keyed_df, DIM_CUSTOMER_SCHEMA).unionByName(unknown_df)


def dim_product(products_df: DataFrame, current_dim_df: DataFrame | None = None) -> DataFrame:
    """One row per product (current attributes, SCD Type 1) plus the unknown member."""
    attributes_df = products_df.select(
        "product_id",
        F.col("name").alias("product_name"),
        "category",
        "price",
        "launched_date",
    )
    keyed_df = _assign_keys(attributes_df, current_dim_df, "product_key", ("product_id",))
    unknown_df = _unknown_row(
        products_df.sparkSession,
        DIM_PRODUCT_SCHEMA,
        product_id=UNKNOWN,
        product_name=UNKNOWN,
        category=UNKNOWN,
    )
    return conform(keyed_df, DIM_PRODUCT_SCHEMA).unionByName(unknown_df)


def dim_date(
    spark: SparkSession, start_date: date, end_date: date, *, include_unknown: bool = True
) -> DataFrame:
    """One row per calendar day from ``start_date`` to ``end_date`` inclusive (plus ``date_key`` -1).

    ``day_of_week`` is ISO (1 = Monday ... 7 = Sunday); names are English, independent of the JVM locale.
    Power BI's "mark as date table" needs a gap-free, non-blank date column: pass ``include_unknown=False``
    when the model marks it.
    """
    if not isinstance(start_date, date) or not isinstance(end_date, date):
        raise ValueError("start_date and end_date must be datetime.date values")
    if isinstance(start_date, datetime) or isinstance(end_date, datetime):
        raise ValueError("start_date and end_date must be dates, not datetimes")
    if end_date < start_date:
        raise ValueError(f"end_date {end_date} is before start_date {start_date}")
    days_df = spark.range(1).select(
        F.explode(F.sequence(F.lit(start_date), F.lit(end_date), F.expr("interval 1 day"))).alias("date")
    )
    iso_day = F.weekday("date") + 1
    dates_df = days_df.select(
        date_key(F.col("date")).alias("date_key"),
        "date",
        F.year("date").alias("year"),
        F.quarter("date").alias("quarter"),
        F.month("date").alias("month"),
        F.element_at(F.array(*[F.lit(m) for m in MONTH_NAMES]), F.month("date")).alias("month_name"),
        F.dayofmonth("date").alias("day"),
        iso_day.alias("day_of_week"),
        F.element_at(F.array(*[F.lit(d) for d in DAY_NAMES]), iso_day).alias("day_name"),
        (iso_day >= 6).alias("is_weekend"),
    )
    dates_df = conform(dates_df, DIM_DATE_SCHEMA)
    if include_unknown:
        dates_df = dates_df.unionByName(
            _unknown_row(spark, DIM_DATE_SCHEMA, month_name=UNKNOWN, day_name=UNKNOWN)
        )
    return dates_df


# --- facts ---------------------------------------------------------------------------------------------
def fact_sales(
    order_lines_df: DataFrame, orders_df: DataFrame, dim_customer_df: DataFrame, dim_product_df: DataFrame
) -> DataFrame:
    """One row per order line; the customer version is the one valid at ``ordered_at``.

    A line whose order is unknown keeps its row with customer and date key -1 and no status flags set.
    """
    orders_slim_df = orders_df.select(
        "order_id",
        "customer_id",
        "ordered_at",
        F.col("status").alias("order_status"),
        "channel",
        "region",
    )
    lines_df = order_lines_df.select(
        "order_id", "line_number", "product_id", "quantity", "unit_price", "discount", "net_amount"
    ).join(orders_slim_df, "order_id", "left")
    resolved_df = _with_product_key(
        _with_customer_key_as_of(lines_df, dim_customer_df, "ordered_at"), dim_product_df
    )
    sales_df = resolved_df.select(
        "*",
        _date_key_or_unknown(F.col("ordered_at")).alias("date_key"),
        F.coalesce(F.col("order_status") == "cancelled", F.lit(False)).alias("is_cancelled"),
        F.coalesce(F.col("order_status") == "returned", F.lit(False)).alias("is_returned"),
    )
    return conform(sales_df, FACT_SALES_SCHEMA)


def fact_reviews(reviews_df: DataFrame, dim_customer_df: DataFrame, dim_product_df: DataFrame) -> DataFrame:
    """One row per review; customer version valid at ``reviewed_at``; the free text stays in silver."""
    resolved_df = _with_product_key(
        _with_customer_key_as_of(reviews_df, dim_customer_df, "reviewed_at"), dim_product_df
    )
    return conform(
        resolved_df.withColumn("date_key", _date_key_or_unknown(F.col("reviewed_at"))), FACT_REVIEWS_SCHEMA
    )


def fact_app_events(
    app_events_df: DataFrame, dim_customer_df: DataFrame, dim_product_df: DataFrame
) -> DataFrame:
    """One row per app event, with its funnel step (view 1, cart 2, checkout 3, purchase 4; search null).

    Anonymous events (null ``customer_id``) get customer key -1 and ``is_anonymous``; events without a
    product get product key -1.
    """
    resolved_df = _with_product_key(
        _with_customer_key_as_of(app_events_df, dim_customer_df, "occurred_at"), dim_product_df
    )
    events_df = resolved_df.select(
        "*",
        _date_key_or_unknown(F.col("occurred_at")).alias("date_key"),
        funnel_step(F.col("event_type")).alias("funnel_step"),
        F.col("customer_id").isNull().alias("is_anonymous"),
    )
    return conform(events_df, FACT_APP_EVENTS_SCHEMA)


def funnel_step(event_type: Column) -> Column:
    """The funnel step of an event type (null for events outside the funnel)."""
    step = F.lit(None).cast("int")
    for name, number in reversed(FUNNEL_STEPS.items()):
        step = F.when(event_type == name, F.lit(number)).otherwise(step)
    return step


# --- marts ---------------------------------------------------------------------------------------------
def mart_monthly_revenue(fact_sales_df: DataFrame) -> DataFrame:
    """One row per calendar month (UTC) of ``ordered_at``: orders, revenue, AOV, cancel and return rates."""
    orders_df = _orders_from_lines(fact_sales_df).withColumn(
        "month_start_date", F.trunc("order_date", "month")
    )
    monthly_df = orders_df.groupBy("month_start_date").agg(*_order_measures())
    return conform(
        monthly_df.select(
            "*",
            date_key(F.col("month_start_date")).alias("date_key"),
            F.year("month_start_date").alias("year"),
            F.month("month_start_date").alias("month"),
            _average_order_value().alias("average_order_value"),
            _rate(F.col("cancelled_order_count"), F.col("order_count")).alias("cancellation_rate"),
            _rate(F.col("returned_order_count"), F.col("order_count")).alias("return_rate"),
        ),
        MART_MONTHLY_REVENUE_SCHEMA,
    )


def mart_daily_region(fact_sales_df: DataFrame) -> DataFrame:
    """One row per order date (UTC) and order region: orders, units sold and revenue of net orders, AOV."""
    orders_df = _orders_from_lines(fact_sales_df)
    daily_df = orders_df.groupBy("order_date", "region").agg(
        *_order_measures(),
        F.coalesce(F.sum(F.when(F.col("is_net"), F.col("units"))), F.lit(0)).alias("units_sold"),
    )
    return conform(
        daily_df.select(
            "*",
            date_key(F.col("order_date")).alias("date_key"),
            _average_order_value().alias("average_order_value"),
        ),
        MART_DAILY_REGION_SCHEMA,
    )


def mart_rfm(fact_sales_df: DataFrame, dim_customer_df: DataFrame, as_of_date: date) -> DataFrame:
    """One row per customer with a net order on or before ``as_of_date``: RFM scores 1-5 and a segment.

    recency_days = days from the last net order to ``as_of_date``; frequency = net orders; monetary = their
    revenue. Each score is ``1 + floor(5 * percent_rank)`` (capped at 5) over all scored customers, ranking
    from worst to best (most days since the last order is worst), so equal values share a score. Segments
    (first rule that matches): Champions R>=4 & F>=4; Loyal R>=3 & F>=3; New R>=4 & F<=2; At Risk R<=2 &
    F>=3; Hibernating R<=2 & F<=2; Needs Attention otherwise (R=3, F<=2).
    """
    if isinstance(as_of_date, datetime) or not isinstance(as_of_date, date):
        raise ValueError("as_of_date must be a datetime.date")
    versions_df = dim_customer_df.filter(F.col("customer_key") != UNKNOWN_KEY)
    current_df = versions_df.filter("is_current").select("customer_id", "customer_key")
    key_to_id_df = versions_df.select(F.col("customer_key").alias("_key"), "customer_id")
    orders_df = (
        _orders_from_lines(fact_sales_df.filter(F.col("customer_key") != UNKNOWN_KEY))
        .filter(F.col("is_net") & (F.col("order_date") <= F.lit(as_of_date)))
        .join(key_to_id_df, F.col("customer_key") == F.col("_key"))
    )
    customers_df = orders_df.groupBy("customer_id").agg(
        F.max("order_date").alias("last_order_date"),
        F.count("*").alias("frequency"),
        F.sum("order_amount").alias("monetary"),
    )
    scored_df = customers_df.select(
        "*",
        F.lit(as_of_date).alias("as_of_date"),
        F.datediff(F.lit(as_of_date), F.col("last_order_date")).alias("recency_days"),
    )
    for value, score in (
        ("last_order_date", "recency_score"),
        ("frequency", "frequency_score"),
        ("monetary", "monetary_score"),
    ):
        scored_df = _with_score(scored_df, value, score)
    rfm_df = scored_df.join(current_df, "customer_id", "left").select(
        "*",
        F.concat_ws("", "recency_score", "frequency_score", "monetary_score").alias("rfm_score"),
        rfm_segment(F.col("recency_score"), F.col("frequency_score")).alias("rfm_segment"),
    )
    return conform(rfm_df, MART_RFM_SCHEMA)


def rfm_segment(recency_score: Column, frequency_score: Column) -> Column:
    """The RFM segment name for recency and frequency scores (rules in :func:`mart_rfm`)."""
    r, f = recency_score, frequency_score
    return (
        F.when((r >= 4) & (f >= 4), "Champions")
        .when((r >= 3) & (f >= 3), "Loyal")
        .when((r >= 4) & (f <= 2), "New")
        .when((r <= 2) & (f >= 3), "At Risk")
        .when((r <= 2) & (f <= 2), "Hibernating")
        .otherwise("Needs Attention")
    )


def mart_product_rating(fact_reviews_df: DataFrame, dim_product_df: DataFrame) -> DataFrame:
    """One row per known product: review count, average rating (null without reviews), last review time."""
    ratings_df = fact_reviews_df.groupBy("product_key").agg(
        F.count("*").alias("review_count"),
        F.avg("rating").alias("average_rating"),
        F.max("reviewed_at").alias("last_reviewed_at"),
    )
    products_df = dim_product_df.filter(F.col("product_key") != UNKNOWN_KEY)
    joined_df = products_df.join(ratings_df, "product_key", "left").select(
        "product_key",
        "product_id",
        "product_name",
        "category",
        F.coalesce("review_count", F.lit(0)).alias("review_count"),
        F.round("average_rating", 4).alias("average_rating"),
        "last_reviewed_at",
    )
    return conform(joined_df, MART_PRODUCT_RATING_SCHEMA)


def mart_funnel(fact_app_events_df: DataFrame) -> DataFrame:
    """One row per event date (UTC) and device: sessions reaching each funnel step and step conversions.

    A session "reaches" step k on a day and device when it has an event there with funnel_step >= k, so the
    step counts never grow down the funnel; session_count also counts sessions with searches only.
    """
    sessions_df = (
        fact_app_events_df.filter(F.col("occurred_at").isNotNull())
        .withColumn("event_date", utc_date(F.col("occurred_at")))
        .groupBy("event_date", "device", "session_id")
        .agg(F.max("funnel_step").alias("max_step"))
    )
    reached = {name: F.count_if(F.col("max_step") >= step) for name, step in _FUNNEL_COLUMNS.items()}
    funnel_df = sessions_df.groupBy("event_date", "device").agg(
        F.count("*").alias("session_count"), *[c.alias(n) for n, c in reached.items()]
    )
    return conform(
        funnel_df.select(
            "*",
            date_key(F.col("event_date")).alias("date_key"),
            _rate(F.col("cart_sessions"), F.col("view_sessions")).alias("view_to_cart_rate"),
            _rate(F.col("checkout_sessions"), F.col("cart_sessions")).alias("cart_to_checkout_rate"),
            _rate(F.col("purchase_sessions"), F.col("checkout_sessions")).alias("checkout_to_purchase_rate"),
            _rate(F.col("purchase_sessions"), F.col("view_sessions")).alias("view_to_purchase_rate"),
        ),
        MART_FUNNEL_SCHEMA,
    )


_FUNNEL_COLUMNS = {"view_sessions": 1, "cart_sessions": 2, "checkout_sessions": 3, "purchase_sessions": 4}


# Which date column of which silver table dim_date must cover.
DATE_SPAN_COLUMNS: dict[str, str] = {
    "orders": "ordered_date",
    "reviews": "reviewed_date",
    "app_events": "occurred_date",
}


def dim_date_span(silver_dfs: Mapping[str, DataFrame], as_of: datetime) -> tuple[date, date]:
    """dim_date covers every order, review and event date in whole years, up to ``as_of``'s year end."""
    firsts = []
    for table, column in DATE_SPAN_COLUMNS.items():
        row = silver_dfs[table].agg(F.min(column)).first()
        if row and row[0]:
            firsts.append(row[0])
    first = min(firsts) if firsts else as_of.date()
    return date(first.year, 1, 1), date(as_of.year, 12, 31)


# --- helpers -------------------------------------------------------------------------------------------
def _assign_keys(
    df: DataFrame, current_dim_df: DataFrame | None, key_column: str, natural_key: tuple[str, ...]
) -> DataFrame:
    """``df`` plus ``key_column``: kept from ``current_dim_df`` by ``natural_key``, else max + 1, 2, ..."""
    if current_dim_df is None:
        joined_df = df.withColumn(key_column, F.lit(None).cast("int"))
        max_key_df = df.sparkSession.range(1).select(F.lit(0).alias("_max_key"))
    else:
        known_df = current_dim_df.filter(F.col(key_column) != UNKNOWN_KEY).select(key_column, *natural_key)
        joined_df = df.join(known_df, list(natural_key), "left")
        max_key_df = known_df.agg(F.coalesce(F.max(key_column), F.lit(0)).alias("_max_key"))
    numbered_df = _running_total(
        joined_df.filter(F.col(key_column).isNull()), list(reversed(natural_key)), F.lit(1), "_row_number"
    )
    new_df = (
        numbered_df.crossJoin(max_key_df)
        .withColumn(key_column, (F.col("_max_key") + F.col("_row_number")).cast("int"))
        .drop("_max_key", "_row_number")
    )
    return joined_df.filter(F.col(key_column).isNotNull()).unionByName(new_df)


def _running_total(df: DataFrame, order_by: list[str], amount: Column, column: str) -> DataFrame:
    """``df`` plus ``column``: the sum of ``amount`` over every row up to this one in ``order_by`` order.

    A window ordered over the whole table would send every row through one task; here the sorted rows keep
    their partitions, each partition sums its own rows, and a per-partition offset (one small row per
    partition, collected) adds what the partitions before it hold. ``order_by`` must order rows totally.
    """
    sorted_df = (
        df.withColumn("_amount", amount.cast("long"))
        .orderBy(*order_by)
        .withColumn("_part", F.spark_partition_id())
        .withColumn("_pos", F.monotonically_increasing_id())
        # Freeze the sorted partitions: the offsets below must describe the very rows they are added to.
        .transform(freeze)
    )
    totals = sorted(
        (row["_part"], row["_total"] or 0)
        for row in sorted_df.groupBy("_part").agg(F.sum("_amount").alias("_total")).collect()
    )
    offsets, running = [], 0
    for part, total in totals:
        offsets.append((part, running))
        running += total
    offsets_df = df.sparkSession.createDataFrame(offsets, "_part int, _offset long")
    in_partition = Window.partitionBy("_part").orderBy("_pos").rowsBetween(Window.unboundedPreceding, 0)
    return (
        sorted_df.join(F.broadcast(offsets_df), "_part", "left")
        .withColumn(column, F.coalesce(F.col("_offset"), F.lit(0)) + F.sum("_amount").over(in_partition))
        .drop("_amount", "_part", "_pos", "_offset")
    )


def _unknown_row(spark: SparkSession, schema: StructType, **values: object) -> DataFrame:
    """The unknown member (key -1) of a dimension, other columns null unless given."""
    key_name = schema.fields[0].name
    row = {f.name: values.get(f.name) for f in schema.fields} | {key_name: UNKNOWN_KEY}
    return spark.createDataFrame([tuple(row[f.name] for f in schema.fields)], schema)


def _with_customer_key_as_of(df: DataFrame, dim_customer_df: DataFrame, at_column: str) -> DataFrame:
    """``df`` plus ``customer_key`` of the version valid at ``at_column`` (-1 if none).

    A time before a customer's first version resolves to that first version: the customer existed, their
    first record just arrived later.
    """
    first_from = F.min("valid_from").over(Window.partitionBy("customer_id"))
    versions_df = dim_customer_df.filter(F.col("customer_key") != UNKNOWN_KEY).select(
        F.col("customer_id").alias("_dim_customer_id"),
        F.col("customer_key").alias("_dim_customer_key"),
        F.when(F.col("valid_from") == first_from, F.lit(None)).otherwise(F.col("valid_from")).alias("_from"),
        F.col("valid_to").alias("_to"),
    )
    at = F.col(at_column)
    matches = (
        (F.col("customer_id") == F.col("_dim_customer_id"))
        & (F.col("_from").isNull() | (at >= F.col("_from")))
        & (F.col("_to").isNull() | (at < F.col("_to")))
    )
    return (
        df.join(versions_df, matches, "left")
        .withColumn("customer_key", F.coalesce("_dim_customer_key", F.lit(UNKNOWN_KEY)))
        .drop("_dim_customer_id", "_dim_customer_key", "_from", "_to")
    )


def _with_product_key(df: DataFrame, dim_product_df: DataFrame) -> DataFrame:
    """``df`` plus ``product_key`` (-1 for a null or unknown product_id)."""
    products_df = dim_product_df.filter(F.col("product_key") != UNKNOWN_KEY).select(
        F.col("product_id").alias("_dim_product_id"), F.col("product_key").alias("_dim_product_key")
    )
    return (
        df.join(products_df, F.col("product_id") == F.col("_dim_product_id"), "left")
        .withColumn("product_key", F.coalesce("_dim_product_key", F.lit(UNKNOWN_KEY)))
        .drop("_dim_product_id", "_dim_product_key")
    )


def _date_key_or_unknown(timestamp: Column) -> Column:
    return F.coalesce(date_key(utc_date(timestamp)), F.lit(UNKNOWN_KEY))


def _orders_from_lines(fact_sales_df: DataFrame) -> DataFrame:
    """One row per order of known date: date, region, customer key, flags, net amount and units."""
    return (
        fact_sales_df.filter(F.col("ordered_at").isNotNull())
        .groupBy("order_id")
        .agg(
            utc_date(F.first("ordered_at")).alias("order_date"),
            F.first("region").alias("region"),
            F.first("customer_key").alias("customer_key"),
            F.bool_or("is_cancelled").alias("is_cancelled"),
            F.bool_or("is_returned").alias("is_returned"),
            F.sum("net_amount").alias("order_amount"),
            F.sum("quantity").alias("units"),
        )
        .withColumn("is_net", ~F.col("is_cancelled") & ~F.col("is_returned"))
    )


def _order_measures() -> list[Column]:
    return [
        F.count("*").alias("order_count"),
        F.count_if("is_net").alias("net_order_count"),
        F.count_if("is_cancelled").alias("cancelled_order_count"),
        F.count_if("is_returned").alias("returned_order_count"),
        F.coalesce(F.sum(F.when(F.col("is_net"), F.col("order_amount"))), F.lit(0)).alias("revenue"),
    ]


def _average_order_value() -> Column:
    return F.when(F.col("net_order_count") > 0, F.round(F.col("revenue") / F.col("net_order_count"), 4)).cast(
        MONEY_TYPE
    )


def _rate(numerator: Column, denominator: Column) -> Column:
    """numerator / denominator rounded to 4 places; null when the denominator is 0."""
    return F.when(denominator > 0, F.round(numerator / denominator, 4)).cast(RATE_TYPE)


def _with_score(df: DataFrame, value: str, score: str) -> DataFrame:
    """``df`` plus ``score``: 1-5 by quintile of the percent rank of ``value`` (ascending = worst first).

    percent rank = (rows with a smaller value) / (rows - 1), so ties share a score; it is computed over the
    distinct values and their counts with a distributed running total, not a window over the whole table.
    """
    counts_df = df.groupBy(value).agg(F.count("*").alias("_n"))
    ranked_df = _running_total(counts_df, [value], F.col("_n"), "_up_to").crossJoin(
        counts_df.agg(F.sum("_n").alias("_rows"))
    )
    smaller = F.col("_up_to") - F.col("_n")
    percent_rank = F.when(F.col("_rows") > 1, smaller / (F.col("_rows") - 1)).otherwise(F.lit(0.0))
    scores_df = ranked_df.select(
        value, F.least(F.lit(5), F.lit(1) + F.floor(percent_rank * 5)).cast("int").alias(score)
    )
    return df.join(scores_df, value, "left")
