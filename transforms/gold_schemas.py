"""Gold schemas: the star schema and marts that Power BI reads.

Power BI's Delta connector sets the rules: snake_case names (no column mapping), UTC ``timestamp`` plus an int
``date_key`` (never ``timestamp_ntz``), money as ``decimal(19,4)`` (its fixed decimal has 4 places), rates and
averages as ``decimal(9,4)``. Surrogate keys are ints; ``-1`` is the unknown member of every dimension.
"""

from __future__ import annotations

from pyspark.sql.types import (
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from transforms.silver_schemas import DISCOUNT_TYPE, MONEY_TYPE

RATE_TYPE = DecimalType(9, 4)
UNKNOWN_KEY = -1


def _schema(*fields: tuple[str, DataType]) -> StructType:
    return StructType([StructField(name, data_type, True) for name, data_type in fields])


# --- dimensions ----------------------------------------------------------------------------------------
DIM_CUSTOMER_SCHEMA = _schema(
    ("customer_key", IntegerType()),
    ("customer_id", StringType()),
    ("email_sha256", StringType()),
    ("country", StringType()),
    ("region", StringType()),
    ("segment", StringType()),
    ("signup_date", DateType()),
    ("is_active", BooleanType()),
    ("valid_from", TimestampType()),
    ("valid_to", TimestampType()),
    ("is_current", BooleanType()),
)
DIM_PRODUCT_SCHEMA = _schema(
    ("product_key", IntegerType()),
    ("product_id", StringType()),
    ("product_name", StringType()),
    ("category", StringType()),
    ("price", MONEY_TYPE),
    ("launched_date", DateType()),
)
DIM_DATE_SCHEMA = _schema(
    ("date_key", IntegerType()),
    ("date", DateType()),
    ("year", IntegerType()),
    ("quarter", IntegerType()),
    ("month", IntegerType()),
    ("month_name", StringType()),
    ("day", IntegerType()),
    ("day_of_week", IntegerType()),
    ("day_name", StringType()),
    ("is_weekend", BooleanType()),
)

# --- facts ---------------------------------------------------------------------------------------------
FACT_SALES_SCHEMA = _schema(
    ("order_id", StringType()),
    ("line_number", IntegerType()),
    ("customer_key", IntegerType()),
    ("product_key", IntegerType()),
    ("date_key", IntegerType()),
    ("ordered_at", TimestampType()),
    ("order_status", StringType()),
    ("channel", StringType()),
    ("region", StringType()),
    ("quantity", IntegerType()),
    ("unit_price", MONEY_TYPE),
    ("discount", DISCOUNT_TYPE),
    ("net_amount", MONEY_TYPE),
    ("is_cancelled", BooleanType()),
    ("is_returned", BooleanType()),
)
FACT_REVIEWS_SCHEMA = _schema(
    ("review_id", StringType()),
    ("customer_key", IntegerType()),
    ("product_key", IntegerType()),
    ("date_key", IntegerType()),
    ("reviewed_at", TimestampType()),
    ("rating", IntegerType()),
    ("title", StringType()),
)
FACT_APP_EVENTS_SCHEMA = _schema(
    ("event_id", StringType()),
    ("session_id", StringType()),
    ("customer_key", IntegerType()),
    ("product_key", IntegerType()),
    ("date_key", IntegerType()),
    ("occurred_at", TimestampType()),
    ("event_type", StringType()),
    ("device", StringType()),
    ("funnel_step", IntegerType()),
    ("is_anonymous", BooleanType()),
)

# --- marts ---------------------------------------------------------------------------------------------
MART_MONTHLY_REVENUE_SCHEMA = _schema(
    ("date_key", IntegerType()),  # first day of the month
    ("month_start_date", DateType()),
    ("year", IntegerType()),
    ("month", IntegerType()),
    ("order_count", LongType()),
    ("net_order_count", LongType()),
    ("cancelled_order_count", LongType()),
    ("returned_order_count", LongType()),
    ("revenue", MONEY_TYPE),
    ("average_order_value", MONEY_TYPE),
    ("cancellation_rate", RATE_TYPE),
    ("return_rate", RATE_TYPE),
)
MART_DAILY_REGION_SCHEMA = _schema(
    ("date_key", IntegerType()),
    ("order_date", DateType()),
    ("region", StringType()),
    ("order_count", LongType()),
    ("net_order_count", LongType()),
    ("units_sold", LongType()),
    ("revenue", MONEY_TYPE),
    ("average_order_value", MONEY_TYPE),
)
MART_RFM_SCHEMA = _schema(
    ("customer_key", IntegerType()),  # the customer's current version in dim_customer
    ("customer_id", StringType()),
    ("as_of_date", DateType()),
    ("last_order_date", DateType()),
    ("recency_days", IntegerType()),
    ("frequency", LongType()),
    ("monetary", MONEY_TYPE),
    ("recency_score", IntegerType()),
    ("frequency_score", IntegerType()),
    ("monetary_score", IntegerType()),
    ("rfm_score", StringType()),
    ("rfm_segment", StringType()),
)
MART_PRODUCT_RATING_SCHEMA = _schema(
    ("product_key", IntegerType()),
    ("product_id", StringType()),
    ("product_name", StringType()),
    ("category", StringType()),
    ("review_count", LongType()),
    ("average_rating", RATE_TYPE),
    ("last_reviewed_at", TimestampType()),
)
MART_FUNNEL_SCHEMA = _schema(
    ("date_key", IntegerType()),
    ("event_date", DateType()),
    ("device", StringType()),
    ("session_count", LongType()),
    ("view_sessions", LongType()),
    ("cart_sessions", LongType()),
    ("checkout_sessions", LongType()),
    ("purchase_sessions", LongType()),
    ("view_to_cart_rate", RATE_TYPE),
    ("cart_to_checkout_rate", RATE_TYPE),
    ("checkout_to_purchase_rate", RATE_TYPE),
    ("view_to_purchase_rate", RATE_TYPE),
)

# --- analytics marts (transforms/analytics.py) ---------------------------------------------------------
MART_CUSTOMER_360_SCHEMA = _schema(
    ("customer_key", IntegerType()),  # the customer's current version in dim_customer
    ("customer_id", StringType()),
    ("segment", StringType()),
    ("region", StringType()),
    ("lifetime_value", MONEY_TYPE),
    ("purchase_count", LongType()),
    ("first_order_date", DateType()),
    ("last_order_date", DateType()),
    ("average_order_value", MONEY_TYPE),
    ("rfm_segment", StringType()),
    ("review_count", LongType()),
    ("average_rating", RATE_TYPE),
)
MART_REVENUE_ANOMALIES_SCHEMA = _schema(
    ("date_key", IntegerType()),
    ("order_date", DateType()),
    ("revenue", MONEY_TYPE),
    ("window_days", IntegerType()),  # days of history in the trailing window
    ("expected_revenue", MONEY_TYPE),
    ("lower_bound", MONEY_TYPE),
    ("upper_bound", MONEY_TYPE),
    ("is_anomaly", BooleanType()),
)
MART_FINANCE_MONTHLY_SCHEMA = _schema(
    ("date_key", IntegerType()),  # first day of the month
    ("month_start_date", DateType()),
    ("year", IntegerType()),
    ("month", IntegerType()),
    ("entry_count", LongType()),
    ("revenue", MONEY_TYPE),
    ("expenses", MONEY_TYPE),
    ("margin", MONEY_TYPE),
    ("margin_rate", RATE_TYPE),
    ("sales_revenue", MONEY_TYPE),  # mart_monthly_revenue.revenue of the month (0 if none)
    ("revenue_difference", MONEY_TYPE),  # revenue - sales_revenue: booked vs. sold
)

GOLD_SCHEMAS: dict[str, StructType] = {
    "dim_customer": DIM_CUSTOMER_SCHEMA,
    "dim_product": DIM_PRODUCT_SCHEMA,
    "dim_date": DIM_DATE_SCHEMA,
    "fact_sales": FACT_SALES_SCHEMA,
    "fact_reviews": FACT_REVIEWS_SCHEMA,
    "fact_app_events": FACT_APP_EVENTS_SCHEMA,
    "mart_monthly_revenue": MART_MONTHLY_REVENUE_SCHEMA,
    "mart_daily_region": MART_DAILY_REGION_SCHEMA,
    "mart_rfm": MART_RFM_SCHEMA,
    "mart_product_rating": MART_PRODUCT_RATING_SCHEMA,
    "mart_funnel": MART_FUNNEL_SCHEMA,
    "mart_customer_360": MART_CUSTOMER_360_SCHEMA,
    "mart_revenue_anomalies": MART_REVENUE_ANOMALIES_SCHEMA,
    "mart_finance_monthly": MART_FINANCE_MONTHLY_SCHEMA,
}
