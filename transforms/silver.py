"""Bronze -> silver: type, cleanse, validate, deduplicate. Pure: DataFrames and explicit values in, out.

Each ``standardize_<entity>`` takes the entity's bronze rows (read schema + ``_source_file``, ``_load_id``,
``_ingested_at``) and returns a :class:`StandardizeResult`:

* ``silver_df`` — typed, cleansed rows that passed every ``error`` expectation, one per business key (the
  latest version wins: ``updated_at``, then ingestion order);
* ``quarantine_df`` — one row per rejected bronze record with the first expectation it failed
  (``QUARANTINE_SCHEMA``), never silently dropped;
* ``duplicates_df`` — the valid rows removed by deduplication (exact copies, superseded versions, Event Hubs
  redeliveries), in the silver schema;
* ``dq_df`` — passed/failed counts per expectation (``DQ_RESULTS_SCHEMA``).

So that nothing vanishes: **bronze rows = silver + quarantined + duplicates**, per call (:func:`row_counts`).

Expectation names follow the data contract's manifest (``<key>_not_null``, ``<field>_parseable``,
``quantity_positive``, ``rating_in_range``, ``<field>_exists``, ``<field>_not_in_future``);
``record_parseable`` comes first and catches malformed lines. Referential checks take the known keys as
explicit DataFrames: the flow passes the keys of the silver table *after* that table's merge (existing +
this batch).

Date keys (``*_date``) are UTC calendar dates, computed independently of the session time zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, LongType, StructType, TimestampType

from transforms import contract
from transforms.bronze_schemas import (
    APP_EVENTS_COLUMNS,
    CAPTURE_ENQUEUED_TIME_FORMAT,
    CAPTURE_PARTITION_PATTERN,
    CORRUPT_RECORD_COLUMN,
    CUSTOMERS_COLUMNS,
    FINANCE_ENTRIES_COLUMNS,
    ORDER_LINES_COLUMNS,
    ORDERS_COLUMNS,
    PRODUCTS_COLUMNS,
    REVIEW_COLUMNS,
    REVIEW_JSON_SCHEMA,
)
from transforms.common import conform, utc_date
from transforms.expectations import (
    Expectation,
    apply_expectations,
    dq_summary,
    expect,
    expect_accepted_values,
    expect_exists,
    expect_not_in_future,
    expect_not_null,
    require_aware,
)
from transforms.silver_schemas import (
    DISCOUNT_TYPE,
    MONEY_TYPE,
    SILVER_APP_EVENTS_SCHEMA,
    SILVER_CUSTOMER_HISTORY_SCHEMA,
    SILVER_CUSTOMERS_SCHEMA,
    SILVER_FINANCE_ENTRIES_SCHEMA,
    SILVER_ORDER_LINES_SCHEMA,
    SILVER_ORDERS_SCHEMA,
    SILVER_PRODUCTS_SCHEMA,
    SILVER_REVIEWS_SCHEMA,
)

# --- accepted values: the data contract's (transforms.contract) --------------------------------------------
SEGMENTS = contract.SEGMENTS
CATEGORIES = contract.CATEGORIES
ORDER_STATUSES = contract.STATUSES
CHANNELS = contract.CHANNELS
REGIONS = contract.REGIONS
EVENT_TYPES = contract.EVENT_TYPES
DEVICES = contract.DEVICES
FINANCE_KINDS = contract.FINANCE_KINDS
FINANCE_CATEGORIES = tuple(sorted({c for cats in contract.FINANCE_CATEGORIES.values() for c in cats}))

# ISO 8601 UTC as the contract writes it (2025-03-04T05:06:07Z); fractions and offsets are tolerated.
ISO_TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]XXX"
# A change of any of these opens a new customer version (SCD Type 2); other attributes are overwritten.
SCD2_TRACKED_COLUMNS = ("segment", "country", "email")

_RAW = "_raw"
_RECORD = "_record"
# Columns every typed frame keeps besides the typed ones: lineage, raw values, raw record, corrupt marker.
_CARRIED_COLUMNS = ("_source_file", "_load_id", "_ingested_at", _RAW, _RECORD, CORRUPT_RECORD_COLUMN)


@dataclass(frozen=True)
class StandardizeResult:
    """What one ``standardize_<entity>`` call produced (see the module docstring)."""

    silver_df: DataFrame
    quarantine_df: DataFrame
    duplicates_df: DataFrame
    dq_df: DataFrame


@dataclass(frozen=True)
class RowCounts:
    """Row counts of one standardize call; ``is_balanced`` is the no-row-vanishes identity."""

    bronze: int
    silver: int
    quarantined: int
    duplicates: int

    @property
    def is_balanced(self) -> bool:
        return self.bronze == self.silver + self.quarantined + self.duplicates


def row_counts(bronze_df: DataFrame, result: StandardizeResult) -> RowCounts:
    """Count bronze, silver, quarantined and duplicate rows, in one Spark job."""
    parts = {
        "bronze": bronze_df,
        "silver": result.silver_df,
        "quarantined": result.quarantine_df,
        "duplicates": result.duplicates_df,
    }
    tagged = [df.select(F.lit(name).alias("_part")) for name, df in parts.items()]
    union_df = tagged[0].unionByName(tagged[1]).unionByName(tagged[2]).unionByName(tagged[3])
    counted: dict[str, int] = {r[0]: r[1] for r in union_df.groupBy("_part").count().collect()}
    return RowCounts(**{name: int(counted.get(name, 0)) for name in parts})


# --- entities ------------------------------------------------------------------------------------------
def customer_expectations() -> list[Expectation]:
    """Checks of silver customers, in evaluation order."""
    return [
        _expect_record_parseable(),
        expect_not_null("customer_id"),
        _expect_parseable("signup_at"),
        _expect_parseable("updated_at", required=False),
        _expect_parseable("is_active"),
        expect(
            "country_is_alpha2",
            "country",
            F.col("country").rlike("^[A-Z]{2}$"),
            "country is not an ISO 3166 alpha-2 code",
        ),
        expect_accepted_values("region", REGIONS),
        expect_accepted_values("segment", SEGMENTS),
    ]


def standardize_customers(bronze_df: DataFrame, *, run_id: str) -> StandardizeResult:
    """One row per customer_id: the latest version (by updated_at) of each valid customer."""
    typed_df = _prepare(bronze_df, CUSTOMERS_COLUMNS).select(
        _text("customer_id").alias("customer_id"),
        _text("name").alias("name"),
        F.lower(_text("email")).alias("email"),
        F.upper(_text("country")).alias("country"),
        F.upper(_text("region")).alias("region"),
        F.lower(_text("segment")).alias("segment"),
        _timestamp("signup_at").alias("signup_at"),
        utc_date(_timestamp("signup_at")).alias("signup_date"),
        _boolean("is_active").alias("is_active"),
        _timestamp("updated_at").alias("updated_at"),
        *_CARRIED_COLUMNS,
    )
    return _finish(
        typed_df,
        table_name="customers",
        expectations=customer_expectations(),
        key_columns=("customer_id",),
        latest_first=(F.col("updated_at").desc_nulls_last(),),
        run_id=run_id,
        schema=SILVER_CUSTOMERS_SCHEMA,
    )


def product_expectations() -> list[Expectation]:
    """Checks of silver products, in evaluation order."""
    return [
        _expect_record_parseable(),
        expect_not_null("product_id"),
        _expect_parseable("price"),
        expect("price_not_negative", "price", F.col("price") >= 0, "price is negative"),
        expect_accepted_values("category", CATEGORIES),
        _expect_parseable("launched_at", required=False),
        _expect_parseable("updated_at", required=False),
    ]


def standardize_products(bronze_df: DataFrame, *, run_id: str) -> StandardizeResult:
    """One row per product_id: the latest version (by updated_at) of each valid product."""
    typed_df = _prepare(bronze_df, PRODUCTS_COLUMNS).select(
        _text("product_id").alias("product_id"),
        _text("name").alias("name"),
        F.lower(_text("category")).alias("category"),
        _text("price").try_cast(MONEY_TYPE).alias("price"),
        _timestamp("launched_at").alias("launched_at"),
        utc_date(_timestamp("launched_at")).alias("launched_date"),
        _timestamp("updated_at").alias("updated_at"),
        *_CARRIED_COLUMNS,
    )
    return _finish(
        typed_df,
        table_name="products",
        expectations=product_expectations(),
        key_columns=("product_id",),
        latest_first=(F.col("updated_at").desc_nulls_last(),),
        run_id=run_id,
        schema=SILVER_PRODUCTS_SCHEMA,
    )


def order_expectations(customer_keys_df: DataFrame) -> list[Expectation]:
    """Checks of silver orders; ``customer_keys_df`` holds every known ``customer_id``."""
    return [
        _expect_record_parseable(),
        expect_not_null("order_id"),
        expect_not_null("customer_id"),
        _expect_parseable("ordered_at"),
        _expect_parseable("updated_at", required=False),
        expect_accepted_values("status", ORDER_STATUSES),
        expect_accepted_values("region", REGIONS),
        expect_accepted_values("channel", CHANNELS),
        expect_exists("customer_id", customer_keys_df),
    ]


def standardize_orders(
    bronze_df: DataFrame, *, customer_keys_df: DataFrame, run_id: str
) -> StandardizeResult:
    """One row per order_id: the latest version (by updated_at) of each valid order."""
    typed_df = _prepare(bronze_df, ORDERS_COLUMNS).select(
        _text("order_id").alias("order_id"),
        _text("customer_id").alias("customer_id"),
        _timestamp("ordered_at").alias("ordered_at"),
        utc_date(_timestamp("ordered_at")).alias("ordered_date"),
        F.lower(_text("status")).alias("status"),
        F.upper(_text("region")).alias("region"),
        F.lower(_text("channel")).alias("channel"),
        _timestamp("updated_at").alias("updated_at"),
        *_CARRIED_COLUMNS,
    )
    return _finish(
        typed_df,
        table_name="orders",
        expectations=order_expectations(customer_keys_df),
        key_columns=("order_id",),
        latest_first=(F.col("updated_at").desc_nulls_last(),),
        run_id=run_id,
        schema=SILVER_ORDERS_SCHEMA,
    )


def order_line_expectations(product_keys_df: DataFrame, order_keys_df: DataFrame) -> list[Expectation]:
    """Checks of silver order lines; a line of an unknown order is kept but counted (warn)."""
    return [
        _expect_record_parseable(),
        expect_not_null("order_id"),
        expect(
            "line_number_parseable",
            "line_number",
            F.col("line_number") >= 1,
            "line_number is missing or not a positive integer",
        ),
        expect_not_null("product_id"),
        expect("quantity_positive", "quantity", F.col("quantity") > 0, "quantity is missing or not > 0"),
        _expect_parseable("unit_price"),
        expect("unit_price_not_negative", "unit_price", F.col("unit_price") >= 0, "unit_price is negative"),
        expect(
            "discount_in_range",
            "discount",
            (F.col("discount") >= 0) & (F.col("discount") < 1),
            "discount is missing or not a fraction 0 <= d < 1",
        ),
        expect_exists("product_id", product_keys_df),
        expect_exists("order_id", order_keys_df, severity="warn"),
    ]


def standardize_order_lines(
    bronze_df: DataFrame, *, product_keys_df: DataFrame, order_keys_df: DataFrame, run_id: str
) -> StandardizeResult:
    """One row per (order_id, line_number); net_amount = round(quantity * unit_price * (1 - discount), 4)."""
    typed_df = (
        _prepare(bronze_df, ORDER_LINES_COLUMNS)
        .select(
            _text("order_id").alias("order_id"),
            _text("line_number").try_cast(IntegerType()).alias("line_number"),
            _text("product_id").alias("product_id"),
            _text("quantity").try_cast(IntegerType()).alias("quantity"),
            _text("unit_price").try_cast(MONEY_TYPE).alias("unit_price"),
            _text("discount").try_cast(DISCOUNT_TYPE).alias("discount"),
            *_CARRIED_COLUMNS,
        )
        .withColumn("net_amount", net_amount(F.col("quantity"), F.col("unit_price"), F.col("discount")))
    )
    return _finish(
        typed_df,
        table_name="order_lines",
        expectations=order_line_expectations(product_keys_df, order_keys_df),
        key_columns=("order_id", "line_number"),
        latest_first=(),
        run_id=run_id,
        schema=SILVER_ORDER_LINES_SCHEMA,
    )


def net_amount(quantity: Column, unit_price: Column, discount: Column) -> Column:
    """The contract's net line amount, ``quantity * unit_price * (1 - discount)`` rounded to 4 places."""
    return F.round(quantity * unit_price * (F.lit(1) - discount), 4).cast(MONEY_TYPE)


def review_expectations(
    product_keys_df: DataFrame, customer_keys_df: DataFrame, as_of: datetime
) -> list[Expectation]:
    """Checks of silver reviews; ``as_of`` is the instant after which a review is "from the future"."""
    return [
        _expect_record_parseable(),
        expect_not_null("review_id"),
        expect_not_null("product_id"),
        expect_not_null("customer_id"),
        expect(
            "rating_in_range",
            "rating",
            F.col("rating").between(1, 5),
            "rating is missing or not an integer 1-5",
        ),
        _expect_parseable("reviewed_at"),
        expect_not_in_future("reviewed_at", as_of),
        expect_exists("product_id", product_keys_df),
        expect_exists("customer_id", customer_keys_df),
    ]


def standardize_reviews(
    bronze_df: DataFrame,
    *,
    product_keys_df: DataFrame,
    customer_keys_df: DataFrame,
    as_of: datetime,
    run_id: str,
) -> StandardizeResult:
    """One row per review_id, decoded from Capture Avro rows; Event Hubs redeliveries are removed.

    A redelivery (the same event captured twice, or re-sent under a new sequence number) carries the same
    ``review_id``; the copy enqueued last wins, ties broken by (partition, sequence number).
    """
    require_aware(as_of, "as_of")
    typed_df = _prepare_capture(bronze_df).select(
        _text("review_id").alias("review_id"),
        _text("product_id").alias("product_id"),
        _text("customer_id").alias("customer_id"),
        _text("rating").try_cast(IntegerType()).alias("rating"),
        _text("title").alias("title"),
        F.col(f"{_RAW}.text").alias("text"),
        _timestamp("reviewed_at").alias("reviewed_at"),
        utc_date(_timestamp("reviewed_at")).alias("reviewed_date"),
        "partition_id",
        "sequence_number",
        "offset",
        "enqueued_at",
        *_CARRIED_COLUMNS,
    )
    return _finish(
        typed_df,
        table_name="reviews",
        expectations=review_expectations(product_keys_df, customer_keys_df, as_of),
        key_columns=("review_id",),
        latest_first=(
            F.col("enqueued_at").desc_nulls_last(),
            F.col("partition_id").desc_nulls_last(),
            F.col("sequence_number").desc_nulls_last(),
        ),
        run_id=run_id,
        schema=SILVER_REVIEWS_SCHEMA,
    )


def capture_partition_id(path: Column) -> Column:
    """The Event Hubs partition id from a Capture path ``.../{PartitionId}/{Y}/{M}/{D}/{h}/{m}/{s}.avro``."""
    return F.nullif(F.regexp_extract(path, CAPTURE_PARTITION_PATTERN, 1), F.lit(""))


def capture_enqueued_at(enqueued_time_utc: Column) -> Column:
    """Capture's ``EnqueuedTimeUtc`` text (``12/2/2021 2:58:24 PM``, UTC) as a timestamp."""
    return F.try_to_timestamp(
        F.concat(F.trim(enqueued_time_utc), F.lit(" +0000")), F.lit(CAPTURE_ENQUEUED_TIME_FORMAT + " Z")
    ).cast(TimestampType())


def app_event_expectations(as_of: datetime) -> list[Expectation]:
    """Checks of silver app events; late events (occurred on an earlier day) are valid and kept."""
    return [
        expect_not_null("event_id"),
        expect_not_null("session_id"),
        expect_accepted_values("event_type", EVENT_TYPES),
        expect_accepted_values("device", DEVICES),
        _expect_parseable("occurred_at"),
        expect_not_in_future("occurred_at", as_of),
    ]


def standardize_app_events(bronze_df: DataFrame, *, as_of: datetime, run_id: str) -> StandardizeResult:
    """One row per event_id (anonymous events keep a null customer_id)."""
    require_aware(as_of, "as_of")
    typed_df = _prepare(bronze_df, APP_EVENTS_COLUMNS).select(
        _text("event_id").alias("event_id"),
        _text("session_id").alias("session_id"),
        _text("customer_id").alias("customer_id"),
        F.lower(_text("event_type")).alias("event_type"),
        _text("product_id").alias("product_id"),
        F.lower(_text("device")).alias("device"),
        _timestamp("occurred_at").alias("occurred_at"),
        utc_date(_timestamp("occurred_at")).alias("occurred_date"),
        *_CARRIED_COLUMNS,
    )
    return _finish(
        typed_df,
        table_name="app_events",
        expectations=app_event_expectations(as_of),
        key_columns=("event_id",),
        latest_first=(),
        run_id=run_id,
        schema=SILVER_APP_EVENTS_SCHEMA,
    )


def finance_entry_expectations() -> list[Expectation]:
    """Checks of silver finance entries, in evaluation order; a category must belong to its kind."""
    category_of_kind = F.lit(False)
    for kind, categories in contract.FINANCE_CATEGORIES.items():
        category_of_kind = category_of_kind | ((F.col("kind") == kind) & F.col("category").isin(*categories))
    return [
        _expect_record_parseable(),
        expect_not_null("entry_id"),
        expect_accepted_values("kind", FINANCE_KINDS),
        expect(
            "category_of_kind",
            ("kind", "category"),
            category_of_kind,
            "category is missing or not a category of the entry's kind",
        ),
        _expect_parseable("amount"),
        expect("amount_not_negative", "amount", F.col("amount") >= 0, "amount is negative"),
        _expect_parseable("booked_at"),
    ]


def standardize_finance_entries(bronze_df: DataFrame, *, run_id: str) -> StandardizeResult:
    """One row per entry_id: revenue and expense ledger entries (a re-sent entry: the latest ingestion)."""
    typed_df = _prepare(bronze_df, FINANCE_ENTRIES_COLUMNS).select(
        _text("entry_id").alias("entry_id"),
        F.lower(_text("kind")).alias("kind"),
        F.lower(_text("category")).alias("category"),
        _text("amount").try_cast(MONEY_TYPE).alias("amount"),
        F.col(f"{_RAW}.note").alias("note"),
        _timestamp("booked_at").alias("booked_at"),
        utc_date(_timestamp("booked_at")).alias("booked_date"),
        *_CARRIED_COLUMNS,
    )
    return _finish(
        typed_df,
        table_name="finance_entries",
        expectations=finance_entry_expectations(),
        key_columns=("entry_id",),
        latest_first=(),
        run_id=run_id,
        schema=SILVER_FINANCE_ENTRIES_SCHEMA,
    )


# --- customers, SCD Type 2 -----------------------------------------------------------------------------
def standardize(
    entity: str,
    bronze_df: DataFrame,
    reference_keys: Mapping[str, DataFrame],
    *,
    as_of: datetime,
    run_id: str,
) -> StandardizeResult:
    """The entity's standardize transform; ``reference_keys`` holds the parent keys it checks against,
    by silver table name (the catalog's ``references``)."""
    refs = reference_keys
    if entity == contract.CUSTOMERS:
        return standardize_customers(bronze_df, run_id=run_id)
    if entity == contract.PRODUCTS:
        return standardize_products(bronze_df, run_id=run_id)
    if entity == contract.ORDERS:
        return standardize_orders(bronze_df, customer_keys_df=refs["customers"], run_id=run_id)
    if entity == contract.ORDER_LINES:
        return standardize_order_lines(
            bronze_df, product_keys_df=refs["products"], order_keys_df=refs["orders"], run_id=run_id
        )
    if entity == contract.REVIEWS:
        return standardize_reviews(
            bronze_df,
            product_keys_df=refs["products"],
            customer_keys_df=refs["customers"],
            as_of=as_of,
            run_id=run_id,
        )
    if entity == contract.APP_EVENTS:
        return standardize_app_events(bronze_df, as_of=as_of, run_id=run_id)
    if entity == contract.FINANCE_ENTRIES:
        return standardize_finance_entries(bronze_df, run_id=run_id)
    known = ", ".join(contract.ENTITIES)
    raise ValueError(f"no standardize transform for {entity!r}; expected one of {known}")


def scd2_customer_history(history_df: DataFrame, versions_df: DataFrame) -> DataFrame:
    """One row per customer version (``SILVER_CUSTOMER_HISTORY_SCHEMA``): the history after ``versions_df``.

    ``history_df`` is the current history (empty on the first run); ``versions_df`` holds silver customer
    rows, any number per customer. Versions are ordered by their change time (``valid_from`` of a history
    row, ``updated_at`` of a new one). A change of ``segment``, ``country`` or ``email`` opens a version
    (``valid_from`` = its ``updated_at``) and closes the previous one (``valid_to`` = that same instant); a
    re-send with those unchanged opens nothing but overwrites the other attributes of the version it belongs
    to (the copy with the latest ``updated_at`` wins). The flow overwrites the history table with the result.
    """
    history_rows_df = conform(history_df, SILVER_CUSTOMER_HISTORY_SCHEMA).select(
        *SILVER_CUSTOMERS_SCHEMA.fieldNames(),
        F.col("valid_from").alias("_change_at"),
        F.lit(0).alias("_source_rank"),
    )
    new_rows_df = conform(versions_df, SILVER_CUSTOMERS_SCHEMA).select(
        *SILVER_CUSTOMERS_SCHEMA.fieldNames(),
        F.coalesce("updated_at", "signup_at").alias("_change_at"),
        F.lit(1).alias("_source_rank"),
    )
    rows_df = history_rows_df.unionByName(new_rows_df)
    by_change = Window.partitionBy("customer_id").orderBy(
        "_change_at", "_source_rank", "updated_at", "_ingested_at", "_load_id", "_source_file"
    )
    changed = F.lit(False)
    for column in SCD2_TRACKED_COLUMNS:
        changed = changed | ~F.col(column).eqNullSafe(F.lag(column).over(by_change))
    versioned_df = rows_df.withColumn(
        "_opens", F.when(F.lag("customer_id").over(by_change).isNull() | changed, 1).otherwise(0)
    ).withColumn("_version", F.sum("_opens").over(by_change.rowsBetween(Window.unboundedPreceding, 0)))
    in_version = Window.partitionBy("customer_id", "_version")
    latest_in_version = in_version.orderBy(
        F.col("updated_at").desc_nulls_last(),
        F.col("_source_rank").asc(),
        F.col("_ingested_at").desc_nulls_last(),
        F.col("_load_id").desc_nulls_last(),
        F.col("_source_file").desc_nulls_last(),
    )
    versions_only_df = (
        versioned_df.withColumn("valid_from", F.min("_change_at").over(in_version))
        .withColumn("_rank", F.row_number().over(latest_in_version))
        .filter(F.col("_rank") == 1)
    )
    by_version = Window.partitionBy("customer_id").orderBy("_version")
    history_out_df = versions_only_df.withColumn(
        "valid_to", F.lead("valid_from").over(by_version)
    ).withColumn("is_current", F.col("valid_to").isNull())
    return conform(history_out_df, SILVER_CUSTOMER_HISTORY_SCHEMA)


# --- shared steps --------------------------------------------------------------------------------------
def deduplicate(
    df: DataFrame, key_columns: Sequence[str], order_by: Sequence[Column]
) -> tuple[DataFrame, DataFrame]:
    """Split ``df`` into (the first row per key under ``order_by``, every other row)."""
    if not key_columns:
        raise ValueError("key_columns must name at least one column")
    window = Window.partitionBy(*key_columns).orderBy(*order_by)
    ranked_df = df.withColumn("_dedup_rank", F.row_number().over(window))
    kept_df = ranked_df.filter(F.col("_dedup_rank") == 1).drop("_dedup_rank")
    removed_df = ranked_df.filter(F.col("_dedup_rank") > 1).drop("_dedup_rank")
    return kept_df, removed_df


def _finish(
    typed_df: DataFrame,
    *,
    table_name: str,
    expectations: list[Expectation],
    key_columns: tuple[str, ...],
    latest_first: tuple[Column, ...],
    run_id: str,
    schema: StructType,
) -> StandardizeResult:
    good_df, quarantine_df = apply_expectations(
        typed_df, expectations, table_name=table_name, key_columns=key_columns, record=F.col(_RECORD)
    )
    # Latest version first, then the latest ingestion; the raw record makes the order total (deterministic).
    order_by = (
        *latest_first,
        F.col("_ingested_at").desc_nulls_last(),
        F.col("_load_id").desc_nulls_last(),
        F.col("_source_file").desc_nulls_last(),
        F.col(_RECORD).desc_nulls_last(),
    )
    silver_df, duplicates_df = deduplicate(good_df, key_columns, order_by)
    dq_df = dq_summary(typed_df, expectations, run_id=run_id, table_name=table_name, key_columns=key_columns)
    return StandardizeResult(conform(silver_df, schema), quarantine_df, conform(duplicates_df, schema), dq_df)


def _prepare(bronze_df: DataFrame, raw_columns: Sequence[str]) -> DataFrame:
    """Bronze rows plus ``_raw`` (the data columns as they arrived) and ``_record`` (them as JSON)."""
    missing = [
        c for c in (*raw_columns, "_source_file", "_load_id", "_ingested_at") if c not in bronze_df.columns
    ]
    if missing:
        raise ValueError(f"bronze rows lack column(s) {', '.join(missing)}")
    if CORRUPT_RECORD_COLUMN not in bronze_df.columns:  # Parquet sources have no malformed lines
        bronze_df = bronze_df.withColumn(CORRUPT_RECORD_COLUMN, F.lit(None).cast("string"))
    raw = F.struct(*[F.col(c) for c in raw_columns])
    record = F.coalesce(F.col(CORRUPT_RECORD_COLUMN), F.to_json(raw))
    return bronze_df.withColumn(_RAW, raw).withColumn(_RECORD, record)


def _prepare_capture(bronze_df: DataFrame) -> DataFrame:
    """Capture rows as the decoded review (``_raw``), Event Hubs lineage and ``_record`` (envelope + body)."""
    missing = [
        c
        for c in (
            "SequenceNumber",
            "Offset",
            "EnqueuedTimeUtc",
            "Body",
            "_source_file",
            "_load_id",
            "_ingested_at",
        )
        if c not in bronze_df.columns
    ]
    if missing:
        raise ValueError(f"bronze capture rows lack column(s) {', '.join(missing)}")
    body = F.col("Body").cast("string")
    review = F.from_json(body, REVIEW_JSON_SCHEMA, {"columnNameOfCorruptRecord": CORRUPT_RECORD_COLUMN})
    partition_id = capture_partition_id(F.col("_source_file"))
    record = F.to_json(
        F.struct(
            partition_id.alias("partition_id"),
            F.col("SequenceNumber").alias("sequence_number"),
            F.col("Offset").alias("offset"),
            F.col("EnqueuedTimeUtc").alias("enqueued_time_utc"),
            body.alias("body"),
        )
    )
    # A missing Body or one that is not a JSON object counts as a malformed record.
    corrupt = F.when(F.col("Body").isNull(), F.lit("")).otherwise(review.getField(CORRUPT_RECORD_COLUMN))
    return bronze_df.select(
        partition_id.alias("partition_id"),
        F.col("SequenceNumber").cast(LongType()).alias("sequence_number"),
        F.col("Offset").alias("offset"),
        capture_enqueued_at(F.col("EnqueuedTimeUtc")).alias("enqueued_at"),
        F.struct(*[review.getField(c).alias(c) for c in REVIEW_COLUMNS]).alias(_RAW),
        corrupt.alias(CORRUPT_RECORD_COLUMN),
        record.alias(_RECORD),
        "_source_file",
        "_load_id",
        "_ingested_at",
    )


def _text(column: str) -> Column:
    """The raw value trimmed; an empty string becomes null."""
    return F.nullif(F.trim(F.col(f"{_RAW}.{column}")), F.lit(""))


def _timestamp(column: str) -> Column:
    return F.try_to_timestamp(_text(column), F.lit(ISO_TIMESTAMP_FORMAT)).cast(TimestampType())


def _boolean(column: str) -> Column:
    value = F.lower(_text(column))
    return F.when(value == "true", F.lit(True)).when(value == "false", F.lit(False))


def _expect_parseable(column: str, *, required: bool = True) -> Expectation:
    """``<column>_parseable``: the typed value exists (or, when optional, the raw value was blank)."""
    parsed = F.col(column).isNotNull()
    if required:
        return expect(f"{column}_parseable", column, parsed, f"{column} is missing or not parseable")
    return expect(
        f"{column}_parseable", column, parsed | _text(column).isNull(), f"{column} is not parseable"
    )


def _expect_record_parseable() -> Expectation:
    return expect(
        "record_parseable",
        CORRUPT_RECORD_COLUMN,
        F.col(CORRUPT_RECORD_COLUMN).isNull(),
        "the record does not have the contract's fields",
    )
