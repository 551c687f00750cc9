"""Bronze -> silver: typing, cleansing, quarantine with the contract's expectation names, dedup, SCD2."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual, assertSchemaEqual

from tests.transforms.conftest import INGESTED_AT, LOAD_ID, bronze, frame, table, ts
from transforms.bronze_schemas import (
    BRONZE_APP_EVENTS_SCHEMA,
    BRONZE_CUSTOMERS_SCHEMA,
    BRONZE_FINANCE_ENTRIES_SCHEMA,
    BRONZE_ORDER_LINES_SCHEMA,
    BRONZE_ORDERS_SCHEMA,
    BRONZE_PRODUCTS_SCHEMA,
    BRONZE_REVIEWS_SCHEMA,
)
from transforms.silver import (
    RowCounts,
    StandardizeResult,
    capture_enqueued_at,
    capture_partition_id,
    row_counts,
    scd2_customer_history,
    standardize,
    standardize_app_events,
    standardize_customers,
    standardize_order_lines,
    standardize_orders,
    standardize_products,
    standardize_reviews,
)
from transforms.silver_schemas import (
    DQ_RESULTS_SCHEMA,
    QUARANTINE_SCHEMA,
    SILVER_APP_EVENTS_SCHEMA,
    SILVER_CUSTOMER_HISTORY_SCHEMA,
    SILVER_CUSTOMERS_SCHEMA,
    SILVER_FINANCE_ENTRIES_SCHEMA,
    SILVER_ORDER_LINES_SCHEMA,
    SILVER_ORDERS_SCHEMA,
    SILVER_PRODUCTS_SCHEMA,
    SILVER_REVIEWS_SCHEMA,
)

AS_OF = datetime(2026, 1, 3, tzinfo=UTC)
RUN_ID = "run-1"


def quarantined(result: StandardizeResult) -> DataFrame:
    return result.quarantine_df.select("record_key", "expectation")


def keys_df(spark: SparkSession, name: str, *values: str) -> DataFrame:
    return spark.createDataFrame([(v,) for v in values], f"{name} string")


def assert_shapes(result: StandardizeResult, silver_schema) -> None:
    assertSchemaEqual(result.silver_df.schema, silver_schema)
    assertSchemaEqual(result.duplicates_df.schema, silver_schema)
    assertSchemaEqual(result.quarantine_df.schema, QUARANTINE_SCHEMA)
    assertSchemaEqual(result.dq_df.schema, DQ_RESULTS_SCHEMA)


# --- customers --------------------------------------------------------------------------------------
CLEAN_C1 = {
    "customer_id": " C1 ",
    "name": " Ann ",
    "email": " Ann@Example.COM ",
    "country": " de",
    "region": "emea",
    "segment": "Consumer",
    "signup_at": "2025-01-01T10:00:00Z",
    "is_active": "TRUE",
    "updated_at": "2026-01-01T00:00:00Z",
}
C2_V1 = {
    "customer_id": "C2",
    "name": "Bo",
    "email": "bo@x.io",
    "country": "US",
    "region": "AMER",
    "segment": "consumer",
    "signup_at": "2025-06-30T23:30:00Z",
    "is_active": "false",
    "updated_at": "2026-01-01T00:00:00Z",
}
C2_V2 = C2_V1 | {"segment": "enterprise", "updated_at": "2026-01-02T00:00:00Z"}


@pytest.fixture(scope="module")
def customers_bronze_df(spark: SparkSession) -> DataFrame:
    """8 bronze rows: 2 valid customers, 2 removable duplicates, 4 bad rows (one per expectation)."""
    return bronze(
        spark,
        BRONZE_CUSTOMERS_SCHEMA,
        [
            CLEAN_C1,
            CLEAN_C1,  # exact duplicate
            C2_V2,  # the later version wins whatever the file order
            C2_V1,
            C2_V1 | {"customer_id": "  "},  # blank key
            C2_V1 | {"customer_id": "C3", "signup_at": "yesterday"},
            {"customer_id": "x", "name": "y", "_corrupt_record": "x,y"},  # a line with 2 fields
            C2_V1 | {"customer_id": "C5", "segment": "vip"},
        ],
        source_file="customers/2026-01-02/customers.csv",
    )


@pytest.fixture(scope="module")
def customers_result(customers_bronze_df: DataFrame) -> StandardizeResult:
    return standardize_customers(customers_bronze_df, run_id=RUN_ID)


def test_customers_are_typed_cleansed_and_latest_wins(spark: SparkSession, customers_result) -> None:
    lineage = {
        "_source_file": "customers/2026-01-02/customers.csv",
        "_load_id": LOAD_ID,
        "_ingested_at": INGESTED_AT,
    }
    expected = frame(
        spark,
        SILVER_CUSTOMERS_SCHEMA,
        [
            {
                "customer_id": "C1",
                "name": "Ann",
                "email": "ann@example.com",
                "country": "DE",
                "region": "EMEA",
                "segment": "consumer",
                "signup_at": ts("2025-01-01T10:00:00"),
                "signup_date": date(2025, 1, 1),
                "is_active": True,
                "updated_at": ts("2026-01-01T00:00:00"),
            }
            | lineage,
            {
                "customer_id": "C2",
                "name": "Bo",
                "email": "bo@x.io",
                "country": "US",
                "region": "AMER",
                "segment": "enterprise",
                "signup_at": ts("2025-06-30T23:30:00"),
                "signup_date": date(2025, 6, 30),
                "is_active": False,
                "updated_at": ts("2026-01-02T00:00:00"),
            }
            | lineage,
        ],
    )
    assert_shapes(customers_result, SILVER_CUSTOMERS_SCHEMA)
    assertDataFrameEqual(customers_result.silver_df, expected)


def test_customers_quarantine_one_row_per_bad_record(customers_result: StandardizeResult) -> None:
    assertDataFrameEqual(
        quarantined(customers_result),
        [
            (None, "customer_id_not_null"),
            ("C3", "signup_at_parseable"),
            ("x", "record_parseable"),
            ("C5", "segment_accepted_values"),
        ],
    )
    malformed = customers_result.quarantine_df.filter("expectation = 'record_parseable'")
    assertDataFrameEqual(
        malformed.select("table_name", "reason", "record", "_source_file", "_load_id"),
        [
            (
                "customers",
                "the record does not have the contract's fields",
                "x,y",
                "customers/2026-01-02/customers.csv",
                LOAD_ID,
            )
        ],
    )


def test_customers_duplicates_are_the_copy_and_the_superseded_version(
    spark: SparkSession, customers_result: StandardizeResult
) -> None:
    assertDataFrameEqual(
        customers_result.duplicates_df.select("customer_id", "segment", "updated_at"),
        table(
            spark,
            "customer_id string, segment string, updated_at timestamp",
            [("C1", "consumer", ts("2026-01-01T00:00:00")), ("C2", "consumer", ts("2026-01-01T00:00:00"))],
        ),
    )


def test_customers_row_balance(customers_bronze_df: DataFrame, customers_result: StandardizeResult) -> None:
    counts = row_counts(customers_bronze_df, customers_result)
    assert counts == RowCounts(bronze=8, silver=2, quarantined=4, duplicates=2)
    assert counts.is_balanced


def test_customers_dq_summary(spark: SparkSession, customers_result: StandardizeResult) -> None:
    rows = [
        ("record_parseable", 7, 1, ["x"]),
        ("customer_id_not_null", 6, 1, []),
        ("signup_at_parseable", 5, 1, ["C3"]),
        ("updated_at_parseable", 5, 0, []),
        ("is_active_parseable", 5, 0, []),
        ("country_is_alpha2", 5, 0, []),
        ("region_accepted_values", 5, 0, []),
        ("segment_accepted_values", 4, 1, ["C5"]),
    ]
    expected = spark.createDataFrame(
        [(RUN_ID, "customers", name, "error", p, f, s) for name, p, f, s in rows], DQ_RESULTS_SCHEMA
    )
    assertDataFrameEqual(customers_result.dq_df, expected)


# --- products ---------------------------------------------------------------------------------------
def test_products_parse_price_and_quarantine_bad_ones(spark: SparkSession) -> None:
    base = {
        "product_id": "P1",
        "name": "Widget",
        "category": "Hardware",
        "price": "19.99",
        "launched_at": "2025-02-03T04:05:06Z",
        "updated_at": "2026-01-01T00:00:00Z",
    }
    bronze_df = bronze(
        spark,
        BRONZE_PRODUCTS_SCHEMA,
        [
            base,
            base | {"price": "21.5", "updated_at": "2026-01-02T00:00:00Z"},
            base | {"product_id": "P2", "price": "12,50"},
            base | {"product_id": None},
            base | {"product_id": "P3", "price": "-1"},
            base | {"product_id": "P4", "category": "food"},
            base | {"product_id": "P5", "launched_at": "", "updated_at": None},
        ],
    )
    result = standardize_products(bronze_df, run_id=RUN_ID)
    assert_shapes(result, SILVER_PRODUCTS_SCHEMA)
    assertDataFrameEqual(
        result.silver_df.select("product_id", "category", "price", "launched_date", "updated_at"),
        table(
            spark,
            "product_id string, category string, price decimal(19,4), launched_date date,"
            " updated_at timestamp",
            [
                ("P1", "hardware", Decimal("21.5000"), date(2025, 2, 3), ts("2026-01-02T00:00:00")),
                ("P5", "hardware", Decimal("19.9900"), None, None),
            ],
        ),
    )
    assertDataFrameEqual(
        quarantined(result),
        [
            ("P2", "price_parseable"),
            (None, "product_id_not_null"),
            ("P3", "price_not_negative"),
            ("P4", "category_accepted_values"),
        ],
    )
    assert row_counts(bronze_df, result) == RowCounts(bronze=7, silver=2, quarantined=4, duplicates=1)


# --- orders -----------------------------------------------------------------------------------------
def test_orders_check_customer_reference_and_accepted_values(spark: SparkSession) -> None:
    base = {
        "order_id": "O1",
        "customer_id": "C1",
        "ordered_at": "2026-01-01T23:59:59Z",
        "status": "Placed",
        "region": "emea",
        "channel": "web",
        "updated_at": "2026-01-01T23:59:59Z",
    }
    bronze_df = bronze(
        spark,
        BRONZE_ORDERS_SCHEMA,
        [
            base,
            base | {"status": "shipped", "updated_at": "2026-01-02T08:00:00Z"},
            base | {"order_id": "O2", "customer_id": "C404"},
            base | {"order_id": "O3", "ordered_at": "2026-02-30T00:00:00Z"},
            base | {"order_id": "O4", "status": "lost"},
            base | {"order_id": "O5", "channel": "fax"},
            base | {"order_id": None},
        ],
    )
    result = standardize_orders(
        bronze_df, customer_keys_df=keys_df(spark, "customer_id", "C1"), run_id=RUN_ID
    )
    assert_shapes(result, SILVER_ORDERS_SCHEMA)
    assertDataFrameEqual(
        result.silver_df.select("order_id", "ordered_at", "ordered_date", "status", "region", "channel"),
        table(
            spark,
            "order_id string, ordered_at timestamp, ordered_date date, status string, region string,"
            " channel string",
            [("O1", ts("2026-01-01T23:59:59"), date(2026, 1, 1), "shipped", "EMEA", "web")],
        ),
    )
    assertDataFrameEqual(
        quarantined(result),
        [
            ("O2", "customer_id_exists"),
            ("O3", "ordered_at_parseable"),
            ("O4", "status_accepted_values"),
            ("O5", "channel_accepted_values"),
            (None, "order_id_not_null"),
        ],
    )
    assert row_counts(bronze_df, result).is_balanced


# --- order lines ------------------------------------------------------------------------------------
def test_order_lines_compute_net_amount_and_quarantine_bad_lines(spark: SparkSession) -> None:
    base = {
        "order_id": "O1",
        "line_number": "1",
        "product_id": "P1",
        "quantity": "3",
        "unit_price": "19.99",
        "discount": "0.15",
    }
    bronze_df = bronze(
        spark,
        BRONZE_ORDER_LINES_SCHEMA,
        [
            base,
            base,  # exact duplicate
            base | {"line_number": "2", "quantity": "1", "unit_price": "0.333", "discount": "0"},
            base | {"line_number": "3", "order_id": "O9"},  # unknown order: kept, counted as a warning
            base | {"line_number": "4", "quantity": "-2"},
            base | {"line_number": "5", "unit_price": "abc"},
            base | {"line_number": "6", "product_id": "P404"},
            base | {"line_number": "7", "discount": "1"},
        ],
    )
    result = standardize_order_lines(
        bronze_df,
        product_keys_df=keys_df(spark, "product_id", "P1"),
        order_keys_df=keys_df(spark, "order_id", "O1"),
        run_id=RUN_ID,
    )
    assert_shapes(result, SILVER_ORDER_LINES_SCHEMA)
    assertDataFrameEqual(
        result.silver_df.select(
            "order_id", "line_number", "quantity", "unit_price", "discount", "net_amount"
        ),
        [
            # 3 * 19.99 * 0.85 = 50.9745
            ("O1", 1, 3, Decimal("19.9900"), Decimal("0.150000"), Decimal("50.9745")),
            ("O1", 2, 1, Decimal("0.3330"), Decimal("0.000000"), Decimal("0.3330")),
            ("O9", 3, 3, Decimal("19.9900"), Decimal("0.150000"), Decimal("50.9745")),
        ],
    )
    assertDataFrameEqual(
        quarantined(result),
        [
            ("O1#4", "quantity_positive"),
            ("O1#5", "unit_price_parseable"),
            ("O1#6", "product_id_exists"),
            ("O1#7", "discount_in_range"),
        ],
    )
    warning = result.dq_df.filter("expectation = 'order_id_exists'")
    assertDataFrameEqual(
        warning.select("severity", "passed_count", "failed_count", "sample_keys"), [("warn", 3, 1, ["O9#3"])]
    )
    assert row_counts(bronze_df, result) == RowCounts(bronze=8, silver=3, quarantined=4, duplicates=1)


# --- reviews (Event Hubs Capture) ---------------------------------------------------------------------
def capture_row(
    sequence_number: int, body: str | None, partition: str = "0", enqueued: str = "1/2/2026 3:04:05 PM"
) -> dict[str, object]:
    return {
        "SequenceNumber": sequence_number,
        "Offset": str(sequence_number * 100),
        "EnqueuedTimeUtc": enqueued,
        "SystemProperties": {},
        "Properties": {},
        "Body": None if body is None else bytearray(body.encode()),
        "_source_file": f"abfs://bronze@acct.dfs.core.windows.net/reviews/ns/hub/{partition}/2026/01/02/15/04/05.avro",
    }


def review_body(review_id: str, **overrides: object) -> str:
    import json

    review = {
        "review_id": review_id,
        "product_id": "P1",
        "customer_id": "C1",
        "rating": 4,
        "title": "Good",
        "text": " Works well ",
        "reviewed_at": "2026-01-02T12:00:00Z",
    }
    return json.dumps(review | overrides)


def test_capture_path_and_enqueued_time_are_parsed(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("x/hub/3/2026/01/02/03/04/05.avro", "12/2/2021 2:58:24 PM"), ("no-partition.avro", "garbage")],
        "path string, enqueued string",
    )
    assertDataFrameEqual(
        df.select(
            capture_partition_id(F.col("path")).alias("partition_id"),
            capture_enqueued_at(F.col("enqueued")).alias("enqueued_at"),
        ),
        table(
            spark,
            "partition_id string, enqueued_at timestamp",
            [("3", ts("2021-12-02T14:58:24")), (None, None)],
        ),
    )


def test_reviews_decode_capture_drop_redeliveries_and_quarantine(spark: SparkSession) -> None:
    bronze_df = bronze(
        spark,
        BRONZE_REVIEWS_SCHEMA,
        [
            capture_row(10, review_body("R1")),
            capture_row(10, review_body("R1")),  # the same event captured twice
            capture_row(11, review_body("R1"), enqueued="1/2/2026 3:05:00 PM"),  # a producer re-send
            capture_row(5, review_body("R2", rating=7), partition="1"),
            capture_row(6, review_body("R3", reviewed_at="2099-01-01T00:00:00Z"), partition="1"),
            capture_row(7, review_body("R4", product_id="P404"), partition="1"),
            capture_row(8, review_body(None), partition="1"),
            capture_row(9, "not json", partition="1"),
            capture_row(12, None, partition="1"),
        ],
    )
    result = standardize_reviews(
        bronze_df,
        product_keys_df=keys_df(spark, "product_id", "P1"),
        customer_keys_df=keys_df(spark, "customer_id", "C1"),
        as_of=AS_OF,
        run_id=RUN_ID,
    )
    assert_shapes(result, SILVER_REVIEWS_SCHEMA)
    assertDataFrameEqual(
        result.silver_df.drop("_source_file", "_load_id", "_ingested_at"),
        frame(
            spark,
            SILVER_REVIEWS_SCHEMA,
            [
                {
                    "review_id": "R1",
                    "product_id": "P1",
                    "customer_id": "C1",
                    "rating": 4,
                    "title": "Good",
                    "text": " Works well ",
                    "reviewed_at": ts("2026-01-02T12:00:00"),
                    "reviewed_date": date(2026, 1, 2),
                    "partition_id": "0",
                    "sequence_number": 11,
                    "offset": "1100",
                    "enqueued_at": ts("2026-01-02T15:05:00"),
                }
            ],
        ).drop("_source_file", "_load_id", "_ingested_at"),
    )
    assertDataFrameEqual(
        quarantined(result),
        [
            ("R2", "rating_in_range"),
            ("R3", "reviewed_at_not_in_future"),
            ("R4", "product_id_exists"),
            (None, "review_id_not_null"),
            (None, "record_parseable"),
            (None, "record_parseable"),
        ],
    )
    not_json = result.quarantine_df.filter("record like '%not json%'").select("record")
    assertDataFrameEqual(
        not_json,
        [
            (
                '{"partition_id":"1","sequence_number":9,"offset":"900",'
                '"enqueued_time_utc":"1/2/2026 3:04:05 PM","body":"not json"}',
            )
        ],
    )
    assert row_counts(bronze_df, result) == RowCounts(bronze=9, silver=1, quarantined=6, duplicates=2)


def test_reviews_need_an_aware_as_of(spark: SparkSession) -> None:
    empty_df = frame(spark, BRONZE_REVIEWS_SCHEMA, [])
    with pytest.raises(ValueError, match="timezone-aware"):
        standardize_reviews(
            empty_df,
            product_keys_df=empty_df,
            customer_keys_df=empty_df,
            as_of=datetime(2026, 1, 3),
            run_id=RUN_ID,
        )


# --- app events ---------------------------------------------------------------------------------------
def test_app_events_keep_late_and_anonymous_events_and_drop_future_ones(spark: SparkSession) -> None:
    base = {
        "event_id": "e1",
        "session_id": "s1",
        "customer_id": "C1",
        "event_type": "page_view",
        "product_id": "P1",
        "device": "Mobile",
        "occurred_at": "2026-01-02T10:00:00Z",
    }
    bronze_df = bronze(
        spark,
        BRONZE_APP_EVENTS_SCHEMA,
        [
            base,
            base,
            base | {"event_id": "e2", "customer_id": None, "event_type": "search", "product_id": None},
            base | {"event_id": "e3", "occurred_at": "2025-12-30T10:00:00Z"},  # late: kept
            base | {"event_id": "e4", "occurred_at": "2099-01-01T00:00:00Z"},
            base | {"event_id": "e5", "event_type": "click"},
            base | {"event_id": "e6", "device": "watch"},
            base | {"event_id": None},
        ],
    )
    result = standardize_app_events(bronze_df, as_of=AS_OF, run_id=RUN_ID)
    assert_shapes(result, SILVER_APP_EVENTS_SCHEMA)
    assertDataFrameEqual(
        result.silver_df.select(
            "event_id", "customer_id", "event_type", "product_id", "device", "occurred_date"
        ),
        [
            ("e1", "C1", "page_view", "P1", "mobile", date(2026, 1, 2)),
            ("e2", None, "search", None, "mobile", date(2026, 1, 2)),
            ("e3", "C1", "page_view", "P1", "mobile", date(2025, 12, 30)),
        ],
    )
    assertDataFrameEqual(
        quarantined(result),
        [
            ("e4", "occurred_at_not_in_future"),
            ("e5", "event_type_accepted_values"),
            ("e6", "device_accepted_values"),
            (None, "event_id_not_null"),
        ],
    )
    assert row_counts(bronze_df, result) == RowCounts(bronze=8, silver=3, quarantined=4, duplicates=1)


def test_standardize_rejects_bronze_without_lineage(spark: SparkSession) -> None:
    df = spark.createDataFrame([("e1",)], "event_id string")
    with pytest.raises(ValueError, match="lack column"):
        standardize_app_events(df, as_of=AS_OF, run_id=RUN_ID)


# --- customers SCD Type 2 -----------------------------------------------------------------------------
def customer_version(customer_id: str, updated_at: str, **attributes: object) -> dict[str, object]:
    values = {
        "customer_id": customer_id,
        "name": "Ann",
        "email": "ann@x.io",
        "country": "DE",
        "region": "EMEA",
        "segment": "consumer",
        "signup_at": ts("2025-01-01T00:00:00"),
        "signup_date": date(2025, 1, 1),
        "is_active": True,
        "updated_at": ts(updated_at),
        "_load_id": "load-" + updated_at[:10],
    }
    return values | attributes


def history_row(version: dict[str, object], valid_from: str, valid_to: str | None) -> dict[str, object]:
    return version | {
        "valid_from": ts(valid_from),
        "valid_to": ts(valid_to) if valid_to else None,
        "is_current": valid_to is None,
    }


def test_scd2_opens_and_closes_versions(spark: SparkSession) -> None:
    day0 = [
        customer_version("C1", "2026-01-01T00:00:00"),
        customer_version("C2", "2026-01-01T00:00:00", email="bo@x.io"),
    ]
    empty_history_df = frame(spark, SILVER_CUSTOMER_HISTORY_SCHEMA, [])
    history_df = scd2_customer_history(empty_history_df, frame(spark, SILVER_CUSTOMERS_SCHEMA, day0))
    assertSchemaEqual(history_df.schema, SILVER_CUSTOMER_HISTORY_SCHEMA)
    assertDataFrameEqual(
        history_df,
        frame(
            spark,
            SILVER_CUSTOMER_HISTORY_SCHEMA,
            [
                history_row(day0[0], "2026-01-01T00:00:00", None),
                history_row(day0[1], "2026-01-01T00:00:00", None),
            ],
        ),
    )

    # Day 1: C1 changes segment (new version); C2 is re-sent with only its name changed (no new version).
    c1_v2 = customer_version("C1", "2026-01-02T00:00:00", segment="enterprise")
    c2_resend = customer_version("C2", "2026-01-02T00:00:00", email="bo@x.io", name="Bo B.")
    history_df = scd2_customer_history(history_df, frame(spark, SILVER_CUSTOMERS_SCHEMA, [c1_v2, c2_resend]))
    expected_day1 = [
        history_row(day0[0], "2026-01-01T00:00:00", "2026-01-02T00:00:00"),
        history_row(c1_v2, "2026-01-02T00:00:00", None),
        history_row(c2_resend, "2026-01-01T00:00:00", None),
    ]
    assertDataFrameEqual(history_df, frame(spark, SILVER_CUSTOMER_HISTORY_SCHEMA, expected_day1))

    # Replaying day 1 changes nothing.
    replayed_df = scd2_customer_history(history_df, frame(spark, SILVER_CUSTOMERS_SCHEMA, [c1_v2, c2_resend]))
    assertDataFrameEqual(replayed_df, frame(spark, SILVER_CUSTOMER_HISTORY_SCHEMA, expected_day1))


def test_scd2_builds_several_versions_from_one_batch(spark: SparkSession) -> None:
    v1 = customer_version("C1", "2026-01-01T00:00:00")
    v2 = customer_version("C1", "2026-01-02T00:00:00", country="FR")
    v3 = customer_version("C1", "2026-01-03T00:00:00", country="FR")  # unchanged re-send of v2
    v4 = customer_version("C1", "2026-01-04T00:00:00", country="DE")  # back to DE: a new version again
    history_df = scd2_customer_history(
        frame(spark, SILVER_CUSTOMER_HISTORY_SCHEMA, []),
        frame(spark, SILVER_CUSTOMERS_SCHEMA, [v3, v1, v4, v2]),
    )
    assertDataFrameEqual(
        history_df.select("country", "updated_at", "valid_from", "valid_to", "is_current"),
        table(
            spark,
            "country string, updated_at timestamp, valid_from timestamp, valid_to timestamp,"
            " is_current boolean",
            [
                (
                    "DE",
                    ts("2026-01-01T00:00:00"),
                    ts("2026-01-01T00:00:00"),
                    ts("2026-01-02T00:00:00"),
                    False,
                ),
                (
                    "FR",
                    ts("2026-01-03T00:00:00"),
                    ts("2026-01-02T00:00:00"),
                    ts("2026-01-04T00:00:00"),
                    False,
                ),
                ("DE", ts("2026-01-04T00:00:00"), ts("2026-01-04T00:00:00"), None, True),
            ],
        ),
    )


# --- finance entries --------------------------------------------------------------------------------
def test_finance_entries_check_kind_category_amount_and_date(spark: SparkSession) -> None:
    base = {
        "entry_id": "F1",
        "kind": "Revenue",
        "category": "Sales",
        "amount": "2500.10",
        "note": "sales 2026-01, ref 1",
        "booked_at": "2026-01-01T23:59:59Z",
    }
    bronze_df = bronze(
        spark,
        BRONZE_FINANCE_ENTRIES_SCHEMA,
        [
            base,
            base,  # an exact copy
            base | {"entry_id": "F2", "kind": "expense", "category": "hosting", "amount": "40"},
            base | {"entry_id": None},
            base | {"entry_id": "F3", "amount": "12,50"},
            base | {"entry_id": "F4", "booked_at": "2025-02-30T10:00:00Z"},
            base | {"entry_id": "F5", "kind": "refund"},
            base | {"entry_id": "F6", "kind": "expense"},  # sales is not an expense category
            base | {"entry_id": "F7", "amount": "-3"},
        ],
    )
    result = standardize("finance_entries", bronze_df, {}, as_of=ts("2026-01-02T00:00:00"), run_id=RUN_ID)
    assert_shapes(result, SILVER_FINANCE_ENTRIES_SCHEMA)
    assertDataFrameEqual(
        result.silver_df.select("entry_id", "kind", "category", "amount", "note", "booked_date"),
        table(
            spark,
            "entry_id string, kind string, category string, amount decimal(19,4), note string,"
            " booked_date date",
            [
                ("F1", "revenue", "sales", Decimal("2500.1000"), "sales 2026-01, ref 1", date(2026, 1, 1)),
                ("F2", "expense", "hosting", Decimal("40.0000"), "sales 2026-01, ref 1", date(2026, 1, 1)),
            ],
        ),
    )
    assertDataFrameEqual(
        result.quarantine_df.select("record_key", "expectation", "reason"),
        [
            (None, "entry_id_not_null", "entry_id is missing"),
            ("F3", "amount_parseable", "amount is missing or not parseable"),
            ("F4", "booked_at_parseable", "booked_at is missing or not parseable"),
            ("F5", "kind_accepted_values", "kind is not one of expense, revenue"),
            ("F6", "category_of_kind", "category is missing or not a category of the entry's kind"),
            ("F7", "amount_not_negative", "amount is negative"),
        ],
    )
    assert row_counts(bronze_df, result) == RowCounts(bronze=9, silver=2, quarantined=6, duplicates=1)
