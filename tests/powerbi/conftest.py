"""Gold Delta tables built by the real gold transforms from tiny inline silver rows, written with Spark.

The Power BI drift guard and the measure helper read them with delta-rs, as Power BI would read the lake.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from infra.storage import delta_io
from transforms import analytics, gold
from transforms.catalog import GOLD
from transforms.checks import run_checks
from transforms.silver_schemas import (
    DQ_RESULTS_SCHEMA,
    SILVER_APP_EVENTS_SCHEMA,
    SILVER_CUSTOMER_HISTORY_SCHEMA,
    SILVER_FINANCE_ENTRIES_SCHEMA,
    SILVER_ORDER_LINES_SCHEMA,
    SILVER_ORDERS_SCHEMA,
    SILVER_PRODUCTS_SCHEMA,
    SILVER_REVIEWS_SCHEMA,
)

PROJECT = Path(__file__).resolve().parents[2] / "powerbi" / "Lakehouse.pbip"
SEMANTIC_MODEL = PROJECT.parent / "Lakehouse.SemanticModel"
AS_OF = date(2026, 2, 28)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def frame(spark: SparkSession, schema: StructType, rows: Sequence[Mapping[str, object]]) -> DataFrame:
    """A DataFrame of ``schema`` from dicts; missing keys (lineage included) are null."""
    return spark.createDataFrame([tuple(row.get(f.name) for f in schema.fields) for row in rows], schema)


def line(order_id: str, number: int, product_id: str, quantity: int, net: str) -> dict:
    return {
        "order_id": order_id,
        "line_number": number,
        "product_id": product_id,
        "quantity": quantity,
        "unit_price": Decimal(net) / quantity,
        "discount": Decimal("0"),
        "net_amount": Decimal(net),
    }


def event(event_id: str, session: str, customer: str | None, kind: str, product: str | None, at: str) -> dict:
    return {
        "event_id": event_id,
        "session_id": session,
        "customer_id": customer,
        "event_type": kind,
        "product_id": product,
        "device": "web",
        "occurred_at": ts(at),
    }


@pytest.fixture(scope="session")
def spark_gold(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A gold folder (``<dir>/<table>`` Delta tables) from the gold transforms, as the medallion writes it.

    Sales: O1 (C1, Jan, net 42.95), O2 (cancelled), O3 (returned), O4 (C2, Feb, net 27.00) and a line of
    an unknown order (no date); reviews rated 5, 3, 4; two app sessions, one of which purchases.
    ``_ops/dq_results`` holds the results of the gold tables' declared checks over them (run ``run-1``).
    """
    history_df = frame(
        spark,
        SILVER_CUSTOMER_HISTORY_SCHEMA,
        [
            {"customer_id": "C1", "email": "a@x.io", "country": "DE", "region": "EU", "segment": "consumer",
             "valid_from": ts("2026-01-01T00:00:00"), "valid_to": ts("2026-01-10T00:00:00"),
             "is_current": False},
            {"customer_id": "C1", "email": "a@x.io", "country": "DE", "region": "EU", "segment": "business",
             "valid_from": ts("2026-01-10T00:00:00"), "is_current": True},
            {"customer_id": "C2", "email": "b@x.io", "country": "FR", "region": "EU", "segment": "consumer",
             "valid_from": ts("2026-01-01T00:00:00"), "is_current": True},
        ],
    )  # fmt: skip
    products_df = frame(
        spark,
        SILVER_PRODUCTS_SCHEMA,
        [
            {"product_id": "P1", "name": "Mug", "category": "home", "price": Decimal("10.0000")},
            {"product_id": "P2", "name": "Lamp", "category": "home", "price": Decimal("25.5000")},
        ],
    )
    orders_df = frame(
        spark,
        SILVER_ORDERS_SCHEMA,
        [
            {
                "order_id": o,
                "customer_id": c,
                "ordered_at": ts(at),
                "status": s,
                "region": "EU",
                "channel": "web",
            }
            for o, c, at, s in (
                ("O1", "C1", "2026-01-05T10:00:00", "delivered"),
                ("O2", "C2", "2026-01-20T10:00:00", "cancelled"),
                ("O3", "C1", "2026-02-03T10:00:00", "returned"),
                ("O4", "C2", "2026-02-14T10:00:00", "delivered"),
            )
        ],
    )
    lines_df = frame(
        spark,
        SILVER_ORDER_LINES_SCHEMA,
        [
            line("O1", 1, "P1", 2, "20.0000"),
            line("O1", 2, "P2", 1, "22.9500"),
            line("O2", 1, "P1", 1, "10.0000"),
            line("O3", 1, "P2", 2, "51.0000"),
            line("O4", 1, "P1", 3, "27.0000"),
            line("O9", 1, "P1", 1, "5.0000"),
        ],
    )
    reviews_df = frame(
        spark,
        SILVER_REVIEWS_SCHEMA,
        [
            {
                "review_id": r,
                "product_id": p,
                "customer_id": c,
                "rating": n,
                "title": "t",
                "reviewed_at": ts(at),
            }
            for r, p, c, n, at in (
                ("R1", "P1", "C1", 5, "2026-01-07T09:00:00"),
                ("R2", "P2", "C2", 3, "2026-01-21T09:00:00"),
                ("R3", "P1", "C2", 4, "2026-02-15T09:00:00"),
            )
        ],
    )
    events_df = frame(
        spark,
        SILVER_APP_EVENTS_SCHEMA,
        [
            event("E1", "S1", "C1", "page_view", "P1", "2026-01-05T09:50:00"),
            event("E2", "S1", "C1", "add_to_cart", "P1", "2026-01-05T09:55:00"),
            event("E3", "S1", "C1", "purchase", "P1", "2026-01-05T10:00:00"),
            event("E4", "S2", None, "search", None, "2026-01-06T11:00:00"),
            event("E5", "S2", None, "page_view", "P2", "2026-01-06T11:01:00"),
        ],
    )
    finance_df = frame(
        spark,
        SILVER_FINANCE_ENTRIES_SCHEMA,
        [
            {"entry_id": "F1", "kind": "revenue", "category": "sales", "amount": Decimal("50.0000"),
             "booked_at": ts("2026-01-31T12:00:00"), "booked_date": date(2026, 1, 31)},
            {"entry_id": "F2", "kind": "expense", "category": "hosting", "amount": Decimal("12.5000"),
             "booked_at": ts("2026-02-01T12:00:00"), "booked_date": date(2026, 2, 1)},
        ],
    )  # fmt: skip
    root = tmp_path_factory.mktemp("gold")
    tables: dict[str, DataFrame] = {}

    def write(name: str, df: DataFrame) -> DataFrame:
        """Write one gold table; later tables read it back, as the medallion does (no plan recomputed)."""
        delta_io.overwrite(df.coalesce(1), str(root / name))
        tables[name] = delta_io.read_delta(spark, str(root / name))
        return tables[name]

    dim_customer_df = write("dim_customer", gold.dim_customer(history_df))
    dim_product_df = write("dim_product", gold.dim_product(products_df))
    # The model marks Date as its date table: no blank date, so no unknown member.
    write("dim_date", gold.dim_date(spark, date(2026, 1, 1), AS_OF, include_unknown=False))
    fact_sales_df = write("fact_sales", gold.fact_sales(lines_df, orders_df, dim_customer_df, dim_product_df))
    fact_reviews_df = write("fact_reviews", gold.fact_reviews(reviews_df, dim_customer_df, dim_product_df))
    fact_events_df = write(
        "fact_app_events", gold.fact_app_events(events_df, dim_customer_df, dim_product_df)
    )
    monthly_df = write("mart_monthly_revenue", gold.mart_monthly_revenue(fact_sales_df))
    daily_df = write("mart_daily_region", gold.mart_daily_region(fact_sales_df))
    rfm_df = write("mart_rfm", gold.mart_rfm(fact_sales_df, dim_customer_df, AS_OF))
    write("mart_product_rating", gold.mart_product_rating(fact_reviews_df, dim_product_df))
    write("mart_funnel", gold.mart_funnel(fact_events_df))
    core = dict(tables)  # the DQ rows below are the core tables' checks (test_gold_measures counts them)
    write(
        "mart_customer_360",
        analytics.mart_customer_360(fact_sales_df, fact_reviews_df, dim_customer_df, rfm_df),
    )
    write("mart_revenue_anomalies", analytics.mart_revenue_anomalies(daily_df))
    write("mart_finance_monthly", analytics.mart_finance_monthly(finance_df, monthly_df))
    dq_rows = run_checks("run-1", core, {name: GOLD[name].checks for name in core})
    dq_df = spark.createDataFrame(dq_rows, DQ_RESULTS_SCHEMA)
    delta_io.overwrite(dq_df.coalesce(1), str(root / "_ops" / "dq_results"))
    return root
