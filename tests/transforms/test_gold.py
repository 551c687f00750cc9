"""Silver -> gold: dimensions with unknown members, facts resolved as of their time, marts by hand."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType
from pyspark.testing import assertDataFrameEqual, assertSchemaEqual

from tests.transforms.conftest import frame, table, ts
from transforms.gold import (
    dim_customer,
    dim_date,
    dim_product,
    fact_app_events,
    fact_reviews,
    fact_sales,
    mart_daily_region,
    mart_funnel,
    mart_monthly_revenue,
    mart_product_rating,
    mart_rfm,
    rfm_segment,
)
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
)
from transforms.silver_schemas import (
    SILVER_APP_EVENTS_SCHEMA,
    SILVER_CUSTOMER_HISTORY_SCHEMA,
    SILVER_ORDER_LINES_SCHEMA,
    SILVER_ORDERS_SCHEMA,
    SILVER_PRODUCTS_SCHEMA,
    SILVER_REVIEWS_SCHEMA,
)

UNKNOWN_CUSTOMER = {
    "customer_key": -1,
    "customer_id": "unknown",
    "country": "unknown",
    "region": "unknown",
    "segment": "unknown",
    "valid_from": ts("1900-01-01T00:00:00"),
    "is_current": True,
}
UNKNOWN_PRODUCT = {
    "product_key": -1,
    "product_id": "unknown",
    "product_name": "unknown",
    "category": "unknown",
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def money(value: str) -> Decimal:
    return Decimal(value).quantize(Decimal("0.0001"))


# --- dimensions ----------------------------------------------------------------------------------------
def history(customer_id: str, email: str, valid_from: str, valid_to: str | None, **extra: object) -> dict:
    return {
        "customer_id": customer_id,
        "name": "Secret Name",
        "email": email,
        "country": "DE",
        "region": "EMEA",
        "segment": "consumer",
        "signup_date": date(2025, 1, 1),
        "is_active": True,
        "valid_from": ts(valid_from),
        "valid_to": ts(valid_to) if valid_to else None,
        "is_current": valid_to is None,
    } | extra


def dim_row(key: int, row: dict) -> dict:
    return {"customer_key": key, "email_sha256": sha256(row["email"])} | row


def test_dim_customer_hashes_email_and_keeps_keys_stable(spark: SparkSession) -> None:
    c1_v1 = history("C1", "ann@x.io", "2026-01-01T00:00:00", "2026-01-02T00:00:00")
    c1_v2 = history("C1", "ann@y.io", "2026-01-02T00:00:00", None)
    c2_v1 = history("C2", "bo@x.io", "2026-01-01T00:00:00", None)
    first_df = dim_customer(frame(spark, SILVER_CUSTOMER_HISTORY_SCHEMA, [c1_v1, c1_v2, c2_v1]))
    assertSchemaEqual(first_df.schema, DIM_CUSTOMER_SCHEMA)
    assertDataFrameEqual(
        first_df,
        frame(
            spark,
            DIM_CUSTOMER_SCHEMA,
            [dim_row(1, c1_v1), dim_row(2, c2_v1), dim_row(3, c1_v2), UNKNOWN_CUSTOMER],
        ),
    )

    # Next run: C2 changes (its version closes, a new one opens) and C3 arrives; old keys stay.
    c2_v1_closed = c2_v1 | {"valid_to": ts("2026-01-03T00:00:00"), "is_current": False}
    c2_v2 = history("C2", "bo@y.io", "2026-01-03T00:00:00", None)
    c3_v1 = history("C3", "cy@x.io", "2026-01-03T00:00:00", None)
    second_df = dim_customer(
        frame(spark, SILVER_CUSTOMER_HISTORY_SCHEMA, [c1_v1, c1_v2, c2_v1_closed, c2_v2, c3_v1]), first_df
    )
    assertDataFrameEqual(
        second_df,
        frame(
            spark,
            DIM_CUSTOMER_SCHEMA,
            [
                dim_row(1, c1_v1),
                dim_row(2, c2_v1_closed),
                dim_row(3, c1_v2),
                dim_row(4, c2_v2),
                dim_row(5, c3_v1),
                UNKNOWN_CUSTOMER,
            ],
        ),
    )


def test_dim_product_adds_the_unknown_member_and_keeps_keys(spark: SparkSession) -> None:
    products = [
        {"product_id": "P2", "name": "Gadget", "category": "hardware", "price": money("5")},
        {"product_id": "P1", "name": "Widget", "category": "software", "price": money("19.99")},
    ]
    first_df = dim_product(frame(spark, SILVER_PRODUCTS_SCHEMA, products))
    assertSchemaEqual(first_df.schema, DIM_PRODUCT_SCHEMA)
    expected = [
        {
            "product_key": 1,
            "product_id": "P1",
            "product_name": "Widget",
            "category": "software",
            "price": money("19.99"),
        },
        {
            "product_key": 2,
            "product_id": "P2",
            "product_name": "Gadget",
            "category": "hardware",
            "price": money("5"),
        },
        UNKNOWN_PRODUCT,
    ]
    assertDataFrameEqual(first_df, frame(spark, DIM_PRODUCT_SCHEMA, expected))
    renamed = [products[1] | {"name": "Widget 2"}, {"product_id": "P0", "name": "Old", "category": "service"}]
    second_df = dim_product(frame(spark, SILVER_PRODUCTS_SCHEMA, renamed), first_df)
    assertDataFrameEqual(
        second_df.select("product_key", "product_id", "product_name"),
        [(1, "P1", "Widget 2"), (3, "P0", "Old"), (-1, "unknown", "unknown")],
    )


def test_dim_date_covers_leap_day_weekends_and_the_unknown_member(spark: SparkSession) -> None:
    dates_df = dim_date(spark, date(2024, 2, 28), date(2024, 3, 3))
    assertSchemaEqual(dates_df.schema, DIM_DATE_SCHEMA)
    assertDataFrameEqual(
        dates_df,
        spark.createDataFrame(
            [
                (20240228, date(2024, 2, 28), 2024, 1, 2, "February", 28, 3, "Wednesday", False),
                (20240229, date(2024, 2, 29), 2024, 1, 2, "February", 29, 4, "Thursday", False),
                (20240301, date(2024, 3, 1), 2024, 1, 3, "March", 1, 5, "Friday", False),
                (20240302, date(2024, 3, 2), 2024, 1, 3, "March", 2, 6, "Saturday", True),
                (20240303, date(2024, 3, 3), 2024, 1, 3, "March", 3, 7, "Sunday", True),
                (-1, None, None, None, None, "unknown", None, None, "unknown", None),
            ],
            DIM_DATE_SCHEMA,
        ),
    )


def test_dim_date_year_boundary_and_single_day(spark: SparkSession) -> None:
    boundary_df = dim_date(spark, date(2025, 12, 31), date(2026, 1, 1), include_unknown=False)
    assertDataFrameEqual(
        boundary_df.select("date_key", "year", "quarter", "month", "day_of_week"),
        [(20251231, 2025, 4, 12, 3), (20260101, 2026, 1, 1, 4)],
    )
    one_day_df = dim_date(spark, date(2026, 1, 1), date(2026, 1, 1), include_unknown=False)
    assertDataFrameEqual(one_day_df.select("date_key"), [(20260101,)])
    with pytest.raises(ValueError, match="before start_date"):
        dim_date(spark, date(2026, 1, 2), date(2026, 1, 1))


# --- facts ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dim_customer_df(spark: SparkSession) -> DataFrame:
    """C1 changed on 2026-01-02 (keys 1 then 3); C2 has one version from 2026-01-01 (key 2)."""
    return frame(
        spark,
        DIM_CUSTOMER_SCHEMA,
        [
            {"customer_key": 1, "customer_id": "C1", "valid_from": ts("2026-01-01T00:00:00")}
            | {"valid_to": ts("2026-01-02T00:00:00"), "is_current": False},
            {
                "customer_key": 3,
                "customer_id": "C1",
                "valid_from": ts("2026-01-02T00:00:00"),
                "is_current": True,
            },
            {
                "customer_key": 2,
                "customer_id": "C2",
                "valid_from": ts("2026-01-01T00:00:00"),
                "is_current": True,
            },
            UNKNOWN_CUSTOMER,
        ],
    )


@pytest.fixture(scope="module")
def dim_product_df(spark: SparkSession) -> DataFrame:
    return frame(
        spark,
        DIM_PRODUCT_SCHEMA,
        [{"product_key": 1, "product_id": "P1"}, {"product_key": 2, "product_id": "P2"}, UNKNOWN_PRODUCT],
    )


def test_fact_sales_resolves_keys_as_of_the_order(
    spark: SparkSession, dim_customer_df: DataFrame, dim_product_df: DataFrame
) -> None:
    def order(order_id: str, customer_id: str, ordered_at: str, status: str) -> dict:
        return {
            "order_id": order_id,
            "customer_id": customer_id,
            "ordered_at": ts(ordered_at),
            "status": status,
            "region": "EMEA",
            "channel": "web",
        }

    orders_df = frame(
        spark,
        SILVER_ORDERS_SCHEMA,
        [
            order("O1", "C1", "2026-01-01T12:00:00", "placed"),  # C1's first version
            order("O2", "C1", "2026-01-02T00:00:00", "cancelled"),  # the instant C1's second version opens
            order("O3", "C2", "2025-12-31T23:00:00", "returned"),  # before C2's first version: that version
            order("O4", "C9", "2026-01-03T00:00:00", "delivered"),  # unknown customer
        ],
    )

    def line(order_id: str, line_number: int, product_id: str) -> dict:
        return {
            "order_id": order_id,
            "line_number": line_number,
            "product_id": product_id,
            "quantity": 2,
            "unit_price": money("10"),
            "discount": Decimal("0.5"),
            "net_amount": money("10"),
        }

    lines_df = frame(
        spark,
        SILVER_ORDER_LINES_SCHEMA,
        [
            line("O1", 1, "P1"),
            line("O1", 2, "P404"),
            line("O2", 1, "P2"),
            line("O3", 1, "P1"),
            line("O4", 1, "P2"),
            line("O5", 1, "P1"),  # its order is unknown
        ],
    )
    sales_df = fact_sales(lines_df, orders_df, dim_customer_df, dim_product_df)
    assertSchemaEqual(sales_df.schema, FACT_SALES_SCHEMA)
    assertDataFrameEqual(
        sales_df.select(
            "order_id",
            "line_number",
            "customer_key",
            "product_key",
            "date_key",
            "is_cancelled",
            "is_returned",
        ),
        [
            ("O1", 1, 1, 1, 20260101, False, False),
            ("O1", 2, 1, -1, 20260101, False, False),
            ("O2", 1, 3, 2, 20260102, True, False),
            ("O3", 1, 2, 1, 20251231, False, True),
            ("O4", 1, -1, 2, 20260103, False, False),
            ("O5", 1, -1, 1, -1, False, False),
        ],
    )
    assertDataFrameEqual(
        sales_df.filter("order_id = 'O1' and line_number = 1").drop("ordered_at"),
        spark.createDataFrame(
            [
                (
                    *("O1", 1, 1, 1, 20260101, "placed", "web", "EMEA", 2),
                    *(money("10"), Decimal("0.500000"), money("10"), False, False),
                )
            ],
            StructType([f for f in FACT_SALES_SCHEMA.fields if f.name != "ordered_at"]),
        ),
    )


def test_fact_reviews_one_row_per_review(
    spark: SparkSession, dim_customer_df: DataFrame, dim_product_df: DataFrame
) -> None:
    reviews_df = frame(
        spark,
        SILVER_REVIEWS_SCHEMA,
        [
            {"review_id": "R1", "product_id": "P1", "customer_id": "C1", "rating": 5, "title": "Great"}
            | {"text": "secret", "reviewed_at": ts("2026-01-01T05:00:00")},
            {"review_id": "R2", "product_id": "P9", "customer_id": "C1", "rating": 2, "title": "Meh"}
            | {"reviewed_at": ts("2026-01-03T05:00:00")},
        ],
    )
    reviews_fact_df = fact_reviews(reviews_df, dim_customer_df, dim_product_df)
    assertSchemaEqual(reviews_fact_df.schema, FACT_REVIEWS_SCHEMA)
    assertDataFrameEqual(
        reviews_fact_df,
        table(
            spark,
            ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in FACT_REVIEWS_SCHEMA.fields),
            [
                ("R1", 1, 1, 20260101, ts("2026-01-01T05:00:00"), 5, "Great"),
                ("R2", 3, -1, 20260103, ts("2026-01-03T05:00:00"), 2, "Meh"),
            ],
        ),
    )


def test_fact_app_events_funnel_steps_and_anonymous_events(
    spark: SparkSession, dim_customer_df: DataFrame, dim_product_df: DataFrame
) -> None:
    def event(event_id: str, event_type: str, customer_id: str | None, product_id: str | None) -> dict:
        return {
            "event_id": event_id,
            "session_id": "s1",
            "customer_id": customer_id,
            "event_type": event_type,
            "product_id": product_id,
            "device": "mobile",
            "occurred_at": ts("2026-01-02T10:00:00"),
        }

    events_df = frame(
        spark,
        SILVER_APP_EVENTS_SCHEMA,
        [
            event("e1", "search", None, None),
            event("e2", "page_view", "C1", "P1"),
            event("e3", "add_to_cart", "C1", "P1"),
            event("e4", "checkout", "C2", "P2"),
            event("e5", "purchase", "C2", "P2"),
        ],
    )
    facts_df = fact_app_events(events_df, dim_customer_df, dim_product_df)
    assertSchemaEqual(facts_df.schema, FACT_APP_EVENTS_SCHEMA)
    assertDataFrameEqual(
        facts_df.select("event_id", "customer_key", "product_key", "date_key", "funnel_step", "is_anonymous"),
        [
            ("e1", -1, -1, 20260102, None, True),
            ("e2", 3, 1, 20260102, 1, False),
            ("e3", 3, 1, 20260102, 2, False),
            ("e4", 2, 2, 20260102, 3, False),
            ("e5", 2, 2, 20260102, 4, False),
        ],
    )


# --- marts ---------------------------------------------------------------------------------------------
def sale(order_id: str, ordered_at: str | None, amount: str, **extra: object) -> dict:
    return {
        "order_id": order_id,
        "line_number": 1,
        "customer_key": 1,
        "ordered_at": ts(ordered_at) if ordered_at else None,
        "region": "EMEA",
        "quantity": 1,
        "net_amount": money(amount),
        "is_cancelled": False,
        "is_returned": False,
    } | extra


@pytest.fixture(scope="module")
def monthly_sales_df(spark: SparkSession) -> DataFrame:
    return frame(
        spark,
        FACT_SALES_SCHEMA,
        [
            sale("O1", "2026-01-05T10:00:00", "20", quantity=2),
            sale("O1", "2026-01-05T10:00:00", "5", line_number=2, quantity=1),
            sale("O2", "2026-01-05T11:00:00", "10", is_cancelled=True),
            sale("O3", "2026-01-06T09:00:00", "30", is_returned=True, region="AMER"),
            sale("O4", "2026-01-31T23:30:00", "15", region="APAC", quantity=4),  # still January in UTC
            sale("O5", "2026-02-01T00:00:00", "7.5"),
            sale("O6", None, "99", customer_key=-1),  # a line whose order is unknown: no month
        ],
    )


def test_mart_monthly_revenue(spark: SparkSession, monthly_sales_df: DataFrame) -> None:
    revenue_df = mart_monthly_revenue(monthly_sales_df)
    assertSchemaEqual(revenue_df.schema, MART_MONTHLY_REVENUE_SCHEMA)
    rate = Decimal
    assertDataFrameEqual(
        revenue_df,
        spark.createDataFrame(
            [
                # 4 orders: O1 (25) and O4 (15) are net -> revenue 40, AOV 20; 1 cancelled, 1 returned.
                (
                    *(20260101, date(2026, 1, 1), 2026, 1, 4, 2, 1, 1),
                    *(money("40"), money("20"), rate("0.2500"), rate("0.2500")),
                ),
                (
                    *(20260201, date(2026, 2, 1), 2026, 2, 1, 1, 0, 0),
                    *(money("7.5"), money("7.5"), rate("0.0000"), rate("0.0000")),
                ),
            ],
            MART_MONTHLY_REVENUE_SCHEMA,
        ),
    )


def test_mart_daily_region(spark: SparkSession, monthly_sales_df: DataFrame) -> None:
    daily_df = mart_daily_region(monthly_sales_df)
    assertSchemaEqual(daily_df.schema, MART_DAILY_REGION_SCHEMA)
    assertDataFrameEqual(
        daily_df,
        spark.createDataFrame(
            [
                (20260105, date(2026, 1, 5), "EMEA", 2, 1, 3, money("25"), money("25")),
                (20260106, date(2026, 1, 6), "AMER", 1, 0, 0, money("0"), None),
                (20260131, date(2026, 1, 31), "APAC", 1, 1, 4, money("15"), money("15")),
                (20260201, date(2026, 2, 1), "EMEA", 1, 1, 1, money("7.5"), money("7.5")),
            ],
            MART_DAILY_REGION_SCHEMA,
        ),
    )


def test_mart_rfm_scores_by_hand(spark: SparkSession) -> None:
    dim_df = frame(
        spark,
        DIM_CUSTOMER_SCHEMA,
        [
            {"customer_key": 1, "customer_id": "A", "is_current": False},
            {"customer_key": 5, "customer_id": "A", "is_current": True},
            {"customer_key": 2, "customer_id": "B", "is_current": True},
            {"customer_key": 3, "customer_id": "C", "is_current": True},
            {"customer_key": 4, "customer_id": "D", "is_current": True},
            {"customer_key": 6, "customer_id": "E", "is_current": True},
            UNKNOWN_CUSTOMER,
        ],
    )
    sales_df = frame(
        spark,
        FACT_SALES_SCHEMA,
        [
            sale("A1", "2026-01-01T10:00:00", "100", customer_key=1),  # A's older version counts for A
            sale("A2", "2026-02-25T10:00:00", "50", customer_key=5),
            sale("A3", "2026-02-26T10:00:00", "30", customer_key=5),
            sale("B1", "2026-02-28T23:00:00", "20", customer_key=2),
            sale("C1", "2026-01-10T10:00:00", "500", customer_key=3),
            sale("C2", "2026-01-20T10:00:00", "300", customer_key=3),
            sale("C3", "2026-02-01T10:00:00", "200", customer_key=3),
            sale("D1", "2025-12-01T10:00:00", "10", customer_key=4),
            sale("D2", "2026-02-28T10:00:00", "999", customer_key=4, is_cancelled=True),  # not a net order
            sale("D3", "2026-03-05T10:00:00", "999", customer_key=4),  # after as_of
            sale("E1", "2026-02-20T10:00:00", "60", customer_key=6),
            sale("E2", "2026-02-21T10:00:00", "40", customer_key=6),
            sale("X1", "2026-02-21T10:00:00", "40", customer_key=-1),  # unknown customer: not scored
        ],
    )
    as_of = date(2026, 3, 1)
    rfm_df = mart_rfm(sales_df, dim_df, as_of)
    assertSchemaEqual(rfm_df.schema, MART_RFM_SCHEMA)
    # Recency worst->best: D(90d) C(28) E(8) A(3) B(1) -> 1..5. Frequency: B,D=1 -> 1; E=2 -> 3; A,C=3 -> 4
    # (ties share percent_rank 0.75). Monetary: D10 B20 E100 A180 C1000 -> 1..5.
    assertDataFrameEqual(
        rfm_df,
        spark.createDataFrame(
            [
                (5, "A", as_of, date(2026, 2, 26), 3, 3, money("180"), 4, 4, 4, "444", "Champions"),
                (2, "B", as_of, date(2026, 2, 28), 1, 1, money("20"), 5, 1, 2, "512", "New"),
                (3, "C", as_of, date(2026, 2, 1), 28, 3, money("1000"), 2, 4, 5, "245", "At Risk"),
                (4, "D", as_of, date(2025, 12, 1), 90, 1, money("10"), 1, 1, 1, "111", "Hibernating"),
                (6, "E", as_of, date(2026, 2, 21), 8, 2, money("100"), 3, 3, 3, "333", "Loyal"),
            ],
            MART_RFM_SCHEMA,
        ),
    )


def test_rfm_segment_rules(spark: SparkSession) -> None:
    scores_df = spark.createDataFrame(
        [(5, 5), (4, 4), (3, 3), (5, 3), (4, 2), (5, 1), (2, 5), (1, 3), (2, 2), (1, 1), (3, 2), (3, 1)],
        "r int, f int",
    )
    assertDataFrameEqual(
        scores_df.select("r", "f", rfm_segment(F.col("r"), F.col("f")).alias("segment")),
        [
            (5, 5, "Champions"),
            (4, 4, "Champions"),
            (3, 3, "Loyal"),
            (5, 3, "Loyal"),
            (4, 2, "New"),
            (5, 1, "New"),
            (2, 5, "At Risk"),
            (1, 3, "At Risk"),
            (2, 2, "Hibernating"),
            (1, 1, "Hibernating"),
            (3, 2, "Needs Attention"),
            (3, 1, "Needs Attention"),
        ],
    )


def test_mart_product_rating(spark: SparkSession, dim_product_df: DataFrame) -> None:
    reviews_df = frame(
        spark,
        FACT_REVIEWS_SCHEMA,
        [
            {"review_id": "R1", "product_key": 1, "rating": 5, "reviewed_at": ts("2026-01-01T00:00:00")},
            {"review_id": "R2", "product_key": 1, "rating": 4, "reviewed_at": ts("2026-01-03T00:00:00")},
            {"review_id": "R3", "product_key": 1, "rating": 4, "reviewed_at": ts("2026-01-02T00:00:00")},
            {"review_id": "R4", "product_key": -1, "rating": 1, "reviewed_at": ts("2026-01-02T00:00:00")},
        ],
    )
    rating_df = mart_product_rating(reviews_df, dim_product_df)
    assertSchemaEqual(rating_df.schema, MART_PRODUCT_RATING_SCHEMA)
    assertDataFrameEqual(
        rating_df,
        frame(
            spark,
            MART_PRODUCT_RATING_SCHEMA,
            [
                {"product_key": 1, "product_id": "P1", "review_count": 3, "average_rating": Decimal("4.3333")}
                | {"last_reviewed_at": ts("2026-01-03T00:00:00")},
                {"product_key": 2, "product_id": "P2", "review_count": 0},
            ],
        ),
    )


def test_mart_funnel(spark: SparkSession) -> None:
    def events(session_id: str, device: str, day: str, *steps: int | None) -> list[dict]:
        return [
            {
                "session_id": session_id,
                "device": device,
                "occurred_at": ts(f"{day}T10:00:00"),
                "funnel_step": s,
            }
            for s in steps
        ]

    events_df = frame(
        spark,
        FACT_APP_EVENTS_SCHEMA,
        events("s1", "mobile", "2026-01-05", 1, 2, 3, 4)
        + events("s2", "mobile", "2026-01-05", 1, 2, None)
        + events("s3", "mobile", "2026-01-05", None)  # searched only
        + events("s4", "mobile", "2026-01-05", 1)
        + events("s5", "desktop", "2026-01-05", 1, 4)  # a purchase reaches every earlier step
        + events("s6", "mobile", "2026-01-06", None),
    )
    funnel_df = mart_funnel(events_df)
    assertSchemaEqual(funnel_df.schema, MART_FUNNEL_SCHEMA)
    one = Decimal("1.0000")
    assertDataFrameEqual(
        funnel_df,
        spark.createDataFrame(
            [
                (
                    *(20260105, date(2026, 1, 5), "mobile", 4, 3, 2, 1, 1),
                    *(Decimal("0.6667"), Decimal("0.5000"), one, Decimal("0.3333")),
                ),
                (20260105, date(2026, 1, 5), "desktop", 1, 1, 1, 1, 1, one, one, one, one),
                (20260106, date(2026, 1, 6), "mobile", 1, 0, 0, 0, 0, None, None, None, None),
            ],
            MART_FUNNEL_SCHEMA,
        ),
    )
