"""Bronze read schemas: what arrived, as it arrived, plus the ingestion metadata columns.

Every read of raw data names one of these schemas (never inferred). CSV and JSON fields are all strings:
typing, cleansing and validation happen on the way to silver (``transforms.silver``), so a bad value can
never make a bronze read fail. ``_corrupt_record`` keeps a malformed CSV line (wrong number of fields) or a
Capture Body that is not JSON.

The IO layer appends the ingestion metadata columns (:data:`INGESTION_METADATA_FIELDS`): ``_source_file``
from ``_metadata.file_path`` / ``input_file_name()``, ``_load_id`` of the bronze load and ``_ingested_at``.
A bronze table is its read schema followed by those three columns (the ``BRONZE_*_SCHEMA`` constants).
"""

from __future__ import annotations

from pyspark.sql.types import (
    BinaryType,
    DoubleType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from transforms.contract import (
    APP_EVENTS,
    COLUMNS,
    CUSTOMERS,
    FINANCE_ENTRIES,
    ORDER_LINES,
    ORDERS,
    PRODUCTS,
    REVIEWS,
)

CORRUPT_RECORD_COLUMN = "_corrupt_record"

INGESTION_METADATA_FIELDS: tuple[StructField, ...] = (
    StructField("_source_file", StringType(), True),
    StructField("_load_id", StringType(), True),
    StructField("_ingested_at", TimestampType(), True),
)
INGESTION_METADATA_COLUMNS: tuple[str, ...] = tuple(f.name for f in INGESTION_METADATA_FIELDS)


def _all_strings(*names: str, corrupt_record: bool = True) -> StructType:
    fields = [StructField(name, StringType(), True) for name in names]
    if corrupt_record:
        fields.append(StructField(CORRUPT_RECORD_COLUMN, StringType(), True))
    return StructType(fields)


def _with_metadata(read_schema: StructType) -> StructType:
    return StructType([*read_schema.fields, *INGESTION_METADATA_FIELDS])


def data_columns(read_schema: StructType) -> tuple[str, ...]:
    """The contract's data columns of a read schema (no ``_corrupt_record``, no metadata)."""
    return tuple(f.name for f in read_schema.fields if not f.name.startswith("_"))


# --- batch CSV files (docs/data-contract.md, columns in file order) ---------------------------------
CUSTOMERS_CSV_SCHEMA = _all_strings(*COLUMNS[CUSTOMERS])
PRODUCTS_CSV_SCHEMA = _all_strings(*COLUMNS[PRODUCTS])
ORDERS_CSV_SCHEMA = _all_strings(*COLUMNS[ORDERS])
ORDER_LINES_CSV_SCHEMA = _all_strings(*COLUMNS[ORDER_LINES])
FINANCE_ENTRIES_CSV_SCHEMA = _all_strings(*COLUMNS[FINANCE_ENTRIES])

# --- reviews: Event Hubs Capture Avro envelope, Body = one review as JSON -----------------------------
# spark-avro maps the Capture unions [long, double, string, bytes(, null)] to structs member0..member3.
CAPTURE_PROPERTY_VALUE_TYPE = StructType(
    [
        StructField("member0", LongType(), True),
        StructField("member1", DoubleType(), True),
        StructField("member2", StringType(), True),
        StructField("member3", BinaryType(), True),
    ]
)
CAPTURE_AVRO_SCHEMA = StructType(
    [
        StructField("SequenceNumber", LongType(), True),
        StructField("Offset", StringType(), True),
        StructField("EnqueuedTimeUtc", StringType(), True),
        StructField("SystemProperties", MapType(StringType(), CAPTURE_PROPERTY_VALUE_TYPE, True), True),
        StructField("Properties", MapType(StringType(), CAPTURE_PROPERTY_VALUE_TYPE, True), True),
        StructField("Body", BinaryType(), True),
    ]
)
# Capture writes EnqueuedTimeUtc as "12/2/2021 2:58:24 PM" (UTC, no zone in the text).
CAPTURE_ENQUEUED_TIME_FORMAT = "M/d/yyyy h:mm:ss a"
# Capture paths end {PartitionId}/{Y}/{M}/{D}/{h}/{m}/{s}.avro; group 1 is the partition id.
CAPTURE_PARTITION_PATTERN = r"/([^/]+)/\d{4}/\d{1,2}/\d{1,2}/\d{1,2}/\d{1,2}/\d{1,2}\.avro$"

# Parsed with from_json(Body, REVIEW_JSON_SCHEMA, {"columnNameOfCorruptRecord": "_corrupt_record"});
# strings throughout, so a rating of 7 or "x" reaches silver's expectations instead of vanishing.
REVIEW_JSON_SCHEMA = _all_strings(*COLUMNS[REVIEWS])

# --- app_events: the API's JSON lines, landed as Parquet (all strings, as they arrived) ------------------
APP_EVENTS_PARQUET_SCHEMA = _all_strings(*COLUMNS[APP_EVENTS], corrupt_record=False)

# --- bronze tables = read schema + ingestion metadata -------------------------------------------------
BRONZE_CUSTOMERS_SCHEMA = _with_metadata(CUSTOMERS_CSV_SCHEMA)
BRONZE_PRODUCTS_SCHEMA = _with_metadata(PRODUCTS_CSV_SCHEMA)
BRONZE_ORDERS_SCHEMA = _with_metadata(ORDERS_CSV_SCHEMA)
BRONZE_ORDER_LINES_SCHEMA = _with_metadata(ORDER_LINES_CSV_SCHEMA)
BRONZE_FINANCE_ENTRIES_SCHEMA = _with_metadata(FINANCE_ENTRIES_CSV_SCHEMA)
BRONZE_REVIEWS_SCHEMA = _with_metadata(CAPTURE_AVRO_SCHEMA)
BRONZE_APP_EVENTS_SCHEMA = _with_metadata(APP_EVENTS_PARQUET_SCHEMA)

CUSTOMERS_COLUMNS = data_columns(CUSTOMERS_CSV_SCHEMA)
PRODUCTS_COLUMNS = data_columns(PRODUCTS_CSV_SCHEMA)
ORDERS_COLUMNS = data_columns(ORDERS_CSV_SCHEMA)
ORDER_LINES_COLUMNS = data_columns(ORDER_LINES_CSV_SCHEMA)
FINANCE_ENTRIES_COLUMNS = data_columns(FINANCE_ENTRIES_CSV_SCHEMA)
REVIEW_COLUMNS = data_columns(REVIEW_JSON_SCHEMA)
APP_EVENTS_COLUMNS = data_columns(APP_EVENTS_PARQUET_SCHEMA)
