"""The expectation framework: first failure only, referential checks, DQ summary, clear errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual, assertSchemaEqual

from transforms.expectations import (
    Expectation,
    apply_expectations,
    dq_summary,
    expect,
    expect_accepted_values,
    expect_exists,
    expect_not_in_future,
    expect_not_null,
)
from transforms.silver_schemas import DQ_RESULTS_SCHEMA, QUARANTINE_SCHEMA


@pytest.fixture(scope="module")
def lines_df(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(
        [
            ("a", 1, "P1", "f1.csv", "L1"),
            ("b", -1, "P1", "f1.csv", "L1"),
            (None, -5, "P404", "f2.csv", "L1"),  # fails three checks; quarantined once, on the first
            ("c", None, "P1", "f2.csv", "L1"),  # null counts as a failure
            ("d", 2, "P404", "f2.csv", "L1"),
            ("e", 3, None, "f2.csv", "L1"),  # a null foreign key passes the relationship check
        ],
        "id string, quantity int, product_id string, _source_file string, _load_id string",
    )


@pytest.fixture(scope="module")
def checks(spark: SparkSession) -> list[Expectation]:
    product_keys_df = spark.createDataFrame([("P1",), ("P1",), ("P2",)], "product_id string")
    return [
        expect_not_null("id"),
        expect("quantity_positive", "quantity", F.col("quantity") > 0, "quantity is not > 0"),
        expect_exists("product_id", product_keys_df),
        expect("quantity_small", "quantity", F.col("quantity") < 3, "quantity is 3 or more", severity="warn"),
    ]


def test_apply_expectations_splits_good_and_quarantine(
    spark: SparkSession, lines_df: DataFrame, checks: list[Expectation]
) -> None:
    good_df, quarantine_df = apply_expectations(lines_df, checks, table_name="lines", key_columns=["id"])
    assertDataFrameEqual(
        good_df,
        spark.createDataFrame(
            [("a", 1, "P1", "f1.csv", "L1"), ("e", 3, None, "f2.csv", "L1")], lines_df.schema
        ),
    )
    expected_quarantine = spark.createDataFrame(
        [
            (
                "lines",
                "b",
                "quantity_positive",
                "quantity is not > 0",
                '{"id":"b","quantity":-1,"product_id":"P1"}',
            ),
            ("lines", None, "id_not_null", "id is missing", '{"quantity":-5,"product_id":"P404"}'),
            ("lines", "c", "quantity_positive", "quantity is not > 0", '{"id":"c","product_id":"P1"}'),
            (
                "lines",
                "d",
                "product_id_exists",
                "product_id refers to no known product_id",
                '{"id":"d","quantity":2,"product_id":"P404"}',
            ),
        ],
        "table_name string, record_key string, expectation string, reason string, record string",
    )
    assertSchemaEqual(quarantine_df.schema, QUARANTINE_SCHEMA)
    assertDataFrameEqual(quarantine_df.drop("_source_file", "_load_id", "_ingested_at"), expected_quarantine)
    assertDataFrameEqual(
        quarantine_df.select("record_key", "_source_file", "_load_id", "_ingested_at"),
        spark.createDataFrame(
            [
                ("b", "f1.csv", "L1", None),
                (None, "f2.csv", "L1", None),
                ("c", "f2.csv", "L1", None),
                ("d", "f2.csv", "L1", None),
            ],
            "record_key string, _source_file string, _load_id string, _ingested_at timestamp",
        ),
    )


def test_dq_summary_counts_each_expectation(
    spark: SparkSession, lines_df: DataFrame, checks: list[Expectation]
) -> None:
    summary_df = dq_summary(
        lines_df, checks, run_id="r1", table_name="lines", key_columns=["id"], sample_size=1
    )
    expected = spark.createDataFrame(
        [
            ("r1", "lines", "id_not_null", "error", 5, 1, []),
            ("r1", "lines", "quantity_positive", "error", 3, 2, ["b"]),  # one sample of ["b", "c"]
            ("r1", "lines", "product_id_exists", "error", 2, 1, ["d"]),
            ("r1", "lines", "quantity_small", "warn", 1, 1, ["e"]),
        ],
        DQ_RESULTS_SCHEMA,
    )
    assertSchemaEqual(summary_df.schema, DQ_RESULTS_SCHEMA)
    assertDataFrameEqual(summary_df, expected)


def test_composite_record_key(spark: SparkSession) -> None:
    df = spark.createDataFrame([("O1", 2, None), (None, 1, None)], "order_id string, line_number int, x int")
    _, quarantine_df = apply_expectations(
        df, [expect_not_null("x")], table_name="order_lines", key_columns=["order_id", "line_number"]
    )
    assertDataFrameEqual(quarantine_df.select("record_key"), [("O1#2",), (None,)])


def test_accepted_values_and_not_in_future(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [
            ("web", datetime(2026, 1, 1, tzinfo=UTC)),
            ("fax", datetime(2026, 1, 1, tzinfo=UTC)),
            ("web", datetime(2099, 1, 1, tzinfo=UTC)),
        ],
        "channel string, at timestamp",
    )
    as_of = datetime(2026, 1, 2, tzinfo=UTC)
    good_df, quarantine_df = apply_expectations(
        df,
        [expect_accepted_values("channel", ["web", "mobile"]), expect_not_in_future("at", as_of)],
        table_name="t",
        key_columns=["channel"],
    )
    assertDataFrameEqual(good_df.select("channel"), [("web",)])
    assertDataFrameEqual(
        quarantine_df.select("expectation", "reason"),
        [
            ("channel_accepted_values", "channel is not one of mobile, web"),
            ("at_not_in_future", "at is after 2026-01-02T00:00:00+00:00"),
        ],
    )


def test_bad_declarations_raise_clear_errors(spark: SparkSession, lines_df: DataFrame) -> None:
    with pytest.raises(ValueError, match="snake_case"):
        expect("Bad Name", "id", F.lit(True), "r")
    with pytest.raises(ValueError, match="severity"):
        expect("x", "id", F.lit(True), "r", severity="fatal")
    with pytest.raises(ValueError, match="timezone-aware"):
        expect_not_in_future("at", datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="unique"):
        apply_expectations(
            lines_df, [expect_not_null("id"), expect_not_null("id")], table_name="t", key_columns=["id"]
        )
    with pytest.raises(ValueError, match="missing column"):
        apply_expectations(lines_df, [expect_not_null("nope")], table_name="t", key_columns=["id"])
    keys_df = spark.createDataFrame([("P1",)], "sku string")
    with pytest.raises(ValueError, match="no column 'product_id'"):
        apply_expectations(
            lines_df, [expect_exists("product_id", keys_df)], table_name="t", key_columns=["id"]
        )
    with pytest.raises(ValueError, match="sample_size"):
        dq_summary(lines_df, [], run_id="r", table_name="t", key_columns=["id"], sample_size=0)
