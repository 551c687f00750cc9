"""Table checks on tiny tables: exact passed/failed counts and samples."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from pyspark.sql import SparkSession

from tests.transforms.conftest import ts
from transforms import checks

pytestmark = pytest.mark.spark


def test_keys_unique_counts_keys_held_twice_and_samples_them(spark: SparkSession) -> None:
    df = spark.createDataFrame([("a", 1), ("a", 2), ("b", 3), ("c", 4), ("c", 5)], "id string, v int")
    outcome = checks.keys_unique(["id"]).evaluate(df, {})
    assert (outcome.passed, outcome.failed, sorted(outcome.samples)) == (3, 2, ["a", "c"])


def test_key_not_null_and_key_known(spark: SparkSession) -> None:
    df = spark.createDataFrame([(1,), (None,), (-1,), (-1,)], "customer_key int")
    assert checks.key_not_null("customer_key").evaluate(df, {}) == checks.CheckOutcome(3, 1)
    known = checks.key_known("customer_key")
    assert (known.severity, known.evaluate(df, {})) == ("warn", checks.CheckOutcome(2, 2))


def test_relationship_finds_orphans_and_ignores_null_keys(spark: SparkSession) -> None:
    facts = spark.createDataFrame([(1,), (2,), (9,), (9,), (None,)], "product_key int")
    dims = {"dim_product": spark.createDataFrame([(1,), (2,), (2,), (-1,)], "product_key int")}
    outcome = checks.relationship("product_key", "dim_product", "product_key").evaluate(facts, dims)
    assert outcome == checks.CheckOutcome(passed=2, failed=2, samples=("9",))


def test_revenue_matches_net_lines_names_the_wrong_month(spark: SparkSession) -> None:
    at = {
        "jan5": ts("2026-01-05T10:00:00"),
        "jan20": ts("2026-01-20T10:00:00"),
        "feb1": ts("2026-02-01T00:00:00"),
    }
    lines = spark.createDataFrame(
        [
            ("o1", at["jan5"], False, False, 10),
            ("o1", at["jan5"], False, False, 5),
            ("o2", at["jan20"], False, True, 7),  # a returned line: o2 is not net
            ("o3", at["feb1"], False, False, 4),
        ],
        "order_id string, ordered_at timestamp, is_cancelled boolean, is_returned boolean, net_amount int",
    )
    mart = spark.createDataFrame(
        [(date(2026, 1, 1), 15), (date(2026, 2, 1), 5)], "month_start_date date, revenue bigint"
    )
    outcome = checks.revenue_matches_net_lines("fact_sales").evaluate(mart, {"fact_sales": lines})
    assert outcome == checks.CheckOutcome(passed=1, failed=1, samples=("2026-02-01: 5 != 4",))


def test_run_checks_in_threads_keeps_the_declared_order(spark: SparkSession) -> None:
    df = spark.createDataFrame([("a",), ("a",), (None,)], "id string")
    declared = {
        "t": [checks.keys_unique(["id"]), checks.key_not_null("id")],
        "missing": [checks.key_known("k")],
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        rows = checks.run_checks("run-1", {"t": df}, declared, map_checks=pool.map)
    assert rows == [
        ("run-1", "t", "keys_unique", "error", 2, 1, ["a"]),  # 3 rows, key "a" held twice
        ("run-1", "t", "id_not_null", "error", 2, 1, []),
    ]
