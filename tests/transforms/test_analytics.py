"""The analytics marts and table profiles (transforms/analytics.py) on tiny inline tables, exactly."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from ingestion.synthetic import generate
from tests.support.expected import daily_revenue
from tests.transforms.conftest import frame, table, ts
from transforms import analytics
from transforms.checks import no_revenue_anomaly
from transforms.gold_schemas import (
    DIM_CUSTOMER_SCHEMA,
    FACT_REVIEWS_SCHEMA,
    FACT_SALES_SCHEMA,
    MART_DAILY_REGION_SCHEMA,
    MART_MONTHLY_REVENUE_SCHEMA,
    MART_REVENUE_ANOMALIES_SCHEMA,
    MART_RFM_SCHEMA,
)
from transforms.silver_schemas import PROFILES_SCHEMA, SILVER_FINANCE_ENTRIES_SCHEMA

pytestmark = pytest.mark.spark
D = Decimal


def _daily(spark: SparkSession, revenue: dict[date, list[str]]):
    rows = [
        {"order_date": day, "region": f"R{i}", "revenue": D(amount)}
        for day, amounts in revenue.items()
        for i, amount in enumerate(amounts)
    ]
    return frame(spark, MART_DAILY_REGION_SCHEMA, rows)


def test_revenue_anomalies_flag_a_spike_and_a_drop_against_the_trailing_median(spark: SparkSession) -> None:
    day = [date(2026, 3, d) for d in range(1, 8)]
    # Day 6 has no order at all (revenue 0); day 1 sums two regions.
    daily_df = _daily(
        spark, {day[0]: ["60", "40"], day[1]: ["110"], day[2]: ["90"], day[3]: ["100"], day[4]: ["500"],
                day[6]: ["105"]},
    )  # fmt: skip
    result_df = analytics.mart_revenue_anomalies(daily_df, trailing_days=4, min_history_days=3, sigmas=4)
    assert [(f.name, f.dataType) for f in result_df.schema] == [
        (f.name, f.dataType) for f in MART_REVENUE_ANOMALIES_SCHEMA
    ]
    ddl = (
        "date_key int, order_date date, revenue decimal(19,4), window_days int,"
        " expected_revenue decimal(19,4), lower_bound decimal(19,4), upper_bound decimal(19,4),"
        " is_anomaly boolean"
    )
    expected_df = table(
        spark,
        ddl,
        [
            (20260301, day[0], D(100), 0, None, None, None, False),
            (20260302, day[1], D(110), 1, None, None, None, False),
            (20260303, day[2], D(90), 2, None, None, None, False),
            # median 100, MAD 10: 100 +/- 4 x 1.4826 x 10
            (20260304, day[3], D(100), 3, D(100), D("40.6960"), D("159.3040"), False),
            # median 100, MAD 5: the spike
            (20260305, day[4], D(500), 4, D(100), D("70.3480"), D("129.6520"), True),
            # median 105, MAD 10: the spike does not widen the band, so the empty day is a drop
            (20260306, day[5], D(0), 4, D(105), D("45.6960"), D("164.3040"), True),
            # median 95, MAD 50 (the spike and the drop are both in the window), lower bound floored at 0
            (20260307, day[6], D(105), 4, D(95), D(0), D("391.5200"), False),
        ],
    )
    assertDataFrameEqual(result_df, expected_df, checkRowOrder=True)
    outcome = no_revenue_anomaly().evaluate(result_df, {})
    assert (outcome.passed, outcome.failed) == (5, 2)
    assert outcome.samples == (
        "2026-03-05: 500.0000 outside [70.3480, 129.6520]",
        "2026-03-06: 0.0000 outside [45.6960, 164.3040]",
    )


def test_revenue_anomalies_refuse_a_window_without_history(spark: SparkSession) -> None:
    with pytest.raises(ValueError, match="min_history_days <= trailing_days"):
        analytics.mart_revenue_anomalies(_daily(spark, {}), trailing_days=3, min_history_days=5)


def test_the_generators_anomalous_day_is_the_only_day_flagged(spark: SparkSession, tmp_path: Path) -> None:
    spike = date(2025, 7, 15)
    generate(tmp_path, sf=0.01, seed=7, days=1, anomaly_date=spike)
    revenue = daily_revenue(tmp_path, ["2026-01-01"])
    daily_df = frame(
        spark,
        MART_DAILY_REGION_SCHEMA,
        [{"order_date": d, "region": "ALL", "revenue": r} for d, r in revenue.items()],
    )
    result_df = analytics.mart_revenue_anomalies(daily_df)
    flagged = [r.order_date for r in result_df.where("is_anomaly").orderBy("order_date").collect()]
    assert flagged == [spike]
    first = min(revenue)
    assert result_df.count() == (max(revenue) - first).days + 1
    assert result_df.where("expected_revenue IS NOT NULL").first()["order_date"] == first + timedelta(days=14)


def test_finance_monthly_sums_kinds_and_shows_the_difference_to_sales(spark: SparkSession) -> None:
    entries_df = frame(
        spark,
        SILVER_FINANCE_ENTRIES_SCHEMA,
        [
            {"entry_id": "F1", "kind": "revenue", "amount": D("100.5000"), "booked_date": date(2026, 1, 3)},
            {"entry_id": "F2", "kind": "revenue", "amount": D("50.0000"), "booked_date": date(2026, 1, 31)},
            {"entry_id": "F3", "kind": "expense", "amount": D("30.2500"), "booked_date": date(2026, 1, 15)},
            {"entry_id": "F4", "kind": "expense", "amount": D("20.0000"), "booked_date": date(2026, 2, 1)},
        ],
    )
    monthly_df = frame(
        spark,
        MART_MONTHLY_REVENUE_SCHEMA,
        [
            {"month_start_date": date(2026, 1, 1), "revenue": D("140.0000")},
            {"month_start_date": date(2026, 3, 1), "revenue": D("10.0000")},
        ],
    )
    result_df = analytics.mart_finance_monthly(entries_df, monthly_df)
    ddl = (
        "date_key int, month_start_date date, year int, month int, entry_count long, revenue decimal(19,4),"
        " expenses decimal(19,4), margin decimal(19,4), margin_rate decimal(9,4),"
        " sales_revenue decimal(19,4), revenue_difference decimal(19,4)"
    )
    expected_df = table(
        spark,
        ddl,
        [
            (20260101, date(2026, 1, 1), 2026, 1, 3, D("150.5"), D("30.25"), D("120.25"), D("0.799"), D(140),
             D("10.5")),
            (20260201, date(2026, 2, 1), 2026, 2, 1, D(0), D(20), D(-20), None, D(0), D(0)),
            (20260301, date(2026, 3, 1), 2026, 3, 0, D(0), D(0), D(0), None, D(10), D(-10)),
        ],
    )  # fmt: skip
    assertDataFrameEqual(result_df, expected_df, checkRowOrder=True)


def test_customer_360_joins_purchases_reviews_and_rfm_per_customer(spark: SparkSession) -> None:
    dim_df = frame(
        spark,
        DIM_CUSTOMER_SCHEMA,
        [
            {"customer_key": -1, "customer_id": "unknown", "is_current": True},
            {"customer_key": 1, "customer_id": "C1", "segment": "consumer", "region": "EMEA",
             "is_current": False},
            {"customer_key": 3, "customer_id": "C1", "segment": "enterprise", "region": "EMEA",
             "is_current": True},
            {"customer_key": 2, "customer_id": "C2", "segment": "consumer", "region": "AMER",
             "is_current": True},
        ],
    )  # fmt: skip

    def sale(order: str, line: int, key: int, at: str, net: str, cancelled: bool = False) -> dict:
        return {"order_id": order, "line_number": line, "customer_key": key, "ordered_at": ts(at),
                "net_amount": D(net), "is_cancelled": cancelled, "is_returned": False}  # fmt: skip

    sales_df = frame(
        spark,
        FACT_SALES_SCHEMA,
        [
            sale("O1", 1, 1, "2026-01-05T10:00:00", "20"),  # C1's first version
            sale("O1", 2, 1, "2026-01-05T10:00:00", "5.5"),
            sale("O2", 1, 3, "2026-02-01T23:30:00", "14.5"),  # C1's current version
            sale("O3", 1, 2, "2026-02-02T10:00:00", "99", cancelled=True),  # not a purchase
            sale("O4", 1, -1, "2026-02-03T10:00:00", "7"),  # unknown customer
        ],
    )
    reviews_df = frame(
        spark,
        FACT_REVIEWS_SCHEMA,
        [
            {"review_id": "R1", "customer_key": 1, "rating": 5},
            {"review_id": "R2", "customer_key": 3, "rating": 2},
            {"review_id": "R3", "customer_key": 2, "rating": 4},
        ],
    )
    rfm_df = frame(spark, MART_RFM_SCHEMA, [{"customer_id": "C1", "rfm_segment": "Champions"}])
    result_df = analytics.mart_customer_360(sales_df, reviews_df, dim_df, rfm_df)
    ddl = (
        "customer_key int, customer_id string, segment string, region string, lifetime_value decimal(19,4),"
        " purchase_count long, first_order_date date, last_order_date date,"
        " average_order_value decimal(19,4), rfm_segment string, review_count long,"
        " average_rating decimal(9,4)"
    )
    expected_df = table(
        spark,
        ddl,
        [
            (3, "C1", "enterprise", "EMEA", D(40), 2, date(2026, 1, 5), date(2026, 2, 1), D(20),
             "Champions", 2, D("3.5")),
            (2, "C2", "consumer", "AMER", D(0), 0, None, None, None, None, 1, D(4)),
        ],
    )  # fmt: skip
    assertDataFrameEqual(result_df, expected_df, checkRowOrder=True)


def test_a_profile_counts_nulls_distincts_extremes_and_top_values(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("a", 3, ["x"]), ("b", 1, None), ("a", None, ["y"]), (None, 2, None)],
        "code string, amount int, tags array<string>",
    )
    rows = analytics.profile_rows(df, zone="silver", table_name="t", run_id="r1")
    result_df = spark.createDataFrame(rows, PROFILES_SCHEMA)
    expected_df = table(
        spark,
        "run_id string, zone string, table_name string, column_name string, data_type string, row_count long,"
        " null_count long, approx_distinct_count long, min_value string, max_value string,"
        " top_values array<string>",
        [
            ("r1", "silver", "t", "code", "string", 4, 1, 2, "a", "b", ["a: 2", "<null>: 1", "b: 1"]),
            ("r1", "silver", "t", "amount", "int", 4, 1, 3, "1", "3", None),
            ("r1", "silver", "t", "tags", "array<string>", 4, 2, None, None, None, None),
        ],
    )
    assertDataFrameEqual(result_df, expected_df, checkRowOrder=True)
    markdown = analytics.profiles_markdown([r.asDict() for r in result_df.collect()], "r1")
    assert markdown.splitlines()[:6] == [
        "# Table profiles, run r1",
        "",
        "## silver/t: 4 rows",
        "",
        "| column | type | nulls | distinct (approx.) | min | max | top values |",
        "|---|---|---|---|---|---|---|",
    ]
    assert "| code | string | 1 | 2 | a | b | a: 2, <null>: 1, b: 1 |" in markdown
