"""Silver schemas: typed, cleansed, validated, deduplicated; plus the quarantine and DQ-result tables.

Conventions: ``*_at`` are UTC ``timestamp`` (never ``timestamp_ntz``), ``*_date`` their UTC calendar date,
money is ``decimal(19,4)`` (EUR), ids stay strings as the contract writes them. Every silver row keeps its
bronze lineage (``_source_file``, ``_load_id``, ``_ingested_at``).
"""

from __future__ import annotations

from pyspark.sql.types import (
    ArrayType,
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

from transforms.bronze_schemas import INGESTION_METADATA_FIELDS

MONEY_TYPE = DecimalType(19, 4)
# A discount is a fraction 0 <= d < 1 of the line amount, kept with 6 places so that the 4-place net
# amount is computed from the value as sent.
DISCOUNT_TYPE = DecimalType(9, 6)

LINEAGE_COLUMNS: tuple[str, ...] = tuple(f.name for f in INGESTION_METADATA_FIELDS)


def _schema(*fields: tuple[str, DataType], lineage: bool = True) -> StructType:
    struct_fields = [StructField(name, data_type, True) for name, data_type in fields]
    if lineage:
        struct_fields.extend(INGESTION_METADATA_FIELDS)
    return StructType(struct_fields)


def columns(schema: StructType) -> tuple[str, ...]:
    """Column names of ``schema`` in order."""
    return tuple(schema.fieldNames())


SILVER_CUSTOMERS_SCHEMA = _schema(
    ("customer_id", StringType()),
    ("name", StringType()),
    ("email", StringType()),
    ("country", StringType()),
    ("region", StringType()),
    ("segment", StringType()),
    ("signup_at", TimestampType()),
    ("signup_date", DateType()),
    ("is_active", BooleanType()),
    ("updated_at", TimestampType()),
)
# SCD Type 2: one row per customer version; valid_to is null on the current version.
SILVER_CUSTOMER_HISTORY_SCHEMA = StructType(
    [
        *SILVER_CUSTOMERS_SCHEMA.fields,
        StructField("valid_from", TimestampType(), True),
        StructField("valid_to", TimestampType(), True),
        StructField("is_current", BooleanType(), True),
    ]
)
SILVER_PRODUCTS_SCHEMA = _schema(
    ("product_id", StringType()),
    ("name", StringType()),
    ("category", StringType()),
    ("price", MONEY_TYPE),
    ("launched_at", TimestampType()),
    ("launched_date", DateType()),
    ("updated_at", TimestampType()),
)
SILVER_ORDERS_SCHEMA = _schema(
    ("order_id", StringType()),
    ("customer_id", StringType()),
    ("ordered_at", TimestampType()),
    ("ordered_date", DateType()),
    ("status", StringType()),
    ("region", StringType()),
    ("channel", StringType()),
    ("updated_at", TimestampType()),
)
SILVER_ORDER_LINES_SCHEMA = _schema(
    ("order_id", StringType()),
    ("line_number", IntegerType()),
    ("product_id", StringType()),
    ("quantity", IntegerType()),
    ("unit_price", MONEY_TYPE),
    ("discount", DISCOUNT_TYPE),
    ("net_amount", MONEY_TYPE),
)
SILVER_REVIEWS_SCHEMA = _schema(
    ("review_id", StringType()),
    ("product_id", StringType()),
    ("customer_id", StringType()),
    ("rating", IntegerType()),
    ("title", StringType()),
    ("text", StringType()),
    ("reviewed_at", TimestampType()),
    ("reviewed_date", DateType()),
    # Event Hubs lineage: which partition, where in it, and when the hub accepted the event.
    ("partition_id", StringType()),
    ("sequence_number", LongType()),
    ("offset", StringType()),
    ("enqueued_at", TimestampType()),
)
SILVER_APP_EVENTS_SCHEMA = _schema(
    ("event_id", StringType()),
    ("session_id", StringType()),
    ("customer_id", StringType()),
    ("event_type", StringType()),
    ("product_id", StringType()),
    ("device", StringType()),
    ("occurred_at", TimestampType()),
    ("occurred_date", DateType()),
)
# Finance ledger entries (EUR): ``amount`` is not negative, ``kind`` says whether it is revenue or an expense.
SILVER_FINANCE_ENTRIES_SCHEMA = _schema(
    ("entry_id", StringType()),
    ("kind", StringType()),
    ("category", StringType()),
    ("amount", MONEY_TYPE),
    ("note", StringType()),
    ("booked_at", TimestampType()),
    ("booked_date", DateType()),
)

# One row per rejected bronze record: the first expectation it failed and the record as it arrived.
QUARANTINE_SCHEMA = StructType(
    [
        StructField("table_name", StringType(), True),
        StructField("record_key", StringType(), True),
        StructField("expectation", StringType(), True),
        StructField("reason", StringType(), True),
        StructField("record", StringType(), True),
        *INGESTION_METADATA_FIELDS,
    ]
)
# One row per (run, table, expectation).
DQ_RESULTS_SCHEMA = StructType(
    [
        StructField("run_id", StringType(), True),
        StructField("table_name", StringType(), True),
        StructField("expectation", StringType(), True),
        StructField("severity", StringType(), True),
        StructField("passed_count", LongType(), True),
        StructField("failed_count", LongType(), True),
        StructField("sample_keys", ArrayType(StringType(), True), True),
    ]
)

# One row per (run, profiled table, column): gold/_ops/profiles (transforms.analytics.profile_rows).
PROFILES_SCHEMA = _schema(
    ("run_id", StringType()),
    ("zone", StringType()),
    ("table_name", StringType()),
    ("column_name", StringType()),
    ("data_type", StringType()),
    ("row_count", LongType()),
    ("null_count", LongType()),
    ("approx_distinct_count", LongType()),
    ("min_value", StringType()),
    ("max_value", StringType()),
    ("top_values", ArrayType(StringType(), True)),
    lineage=False,
)

# One row per load of an entity: bronze rows = silver + quarantined + duplicates (silver/_ops/load_balance).
LOAD_BALANCE_SCHEMA = StructType(
    [
        StructField("run_id", StringType(), True),
        StructField("table_name", StringType(), True),
        StructField("load_id", StringType(), True),
        StructField("files", IntegerType(), True),
        StructField("bronze_rows", LongType(), True),
        StructField("silver_rows", LongType(), True),
        StructField("quarantined_rows", LongType(), True),
        StructField("duplicate_rows", LongType(), True),
        StructField("loaded_at", TimestampType(), True),
    ]
)

SILVER_CUSTOMERS_COLUMNS = columns(SILVER_CUSTOMERS_SCHEMA)
SILVER_CUSTOMER_HISTORY_COLUMNS = columns(SILVER_CUSTOMER_HISTORY_SCHEMA)
SILVER_PRODUCTS_COLUMNS = columns(SILVER_PRODUCTS_SCHEMA)
SILVER_ORDERS_COLUMNS = columns(SILVER_ORDERS_SCHEMA)
SILVER_ORDER_LINES_COLUMNS = columns(SILVER_ORDER_LINES_SCHEMA)
SILVER_REVIEWS_COLUMNS = columns(SILVER_REVIEWS_SCHEMA)
SILVER_APP_EVENTS_COLUMNS = columns(SILVER_APP_EVENTS_SCHEMA)
SILVER_FINANCE_ENTRIES_COLUMNS = columns(SILVER_FINANCE_ENTRIES_SCHEMA)
QUARANTINE_COLUMNS = columns(QUARANTINE_SCHEMA)
DQ_RESULTS_COLUMNS = columns(DQ_RESULTS_SCHEMA)
