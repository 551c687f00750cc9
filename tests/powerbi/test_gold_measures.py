"""The core measures computed from gold Delta tables with delta-rs, following the model's DAX."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from powerbi.gold_measures import (
    CoreMeasures,
    DqMeasures,
    core_measures,
    core_measures_from_gold,
    dq_measures,
    dq_measures_from_gold,
)

AT = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
SALES_SCHEMA = pa.schema(
    [
        ("order_id", pa.string()),
        ("ordered_at", pa.timestamp("us", tz="UTC")),
        ("net_amount", pa.decimal128(19, 4)),
        ("is_cancelled", pa.bool_()),
        ("is_returned", pa.bool_()),
    ]
)


def write_gold(root: Path, sales: list[tuple], ratings: list[int | None]) -> Path:
    rows = [dict(zip(SALES_SCHEMA.names, row, strict=True)) for row in sales]
    write_deltalake(str(root / "fact_sales"), pa.Table.from_pylist(rows, SALES_SCHEMA))
    reviews = pa.table(
        {"review_id": [f"R{i}" for i in range(len(ratings))], "rating": pa.array(ratings, pa.int32())}
    )
    write_deltalake(str(root / "fact_reviews"), reviews)
    return root


def test_core_measures_follow_the_dax(tmp_path: Path) -> None:
    gold = write_gold(
        tmp_path,
        [
            ("O1", AT, Decimal("20.0000"), False, False),
            ("O1", AT, Decimal("22.9500"), False, False),
            ("O2", AT, Decimal("10.0000"), True, False),  # cancelled: an order, not revenue
            ("O3", AT, Decimal("51.0000"), False, True),  # returned
            ("O4", AT, Decimal("27.0000"), None, None),  # blank flags count as FALSE
            ("O5", AT, None, False, False),  # a net order without amount
            ("O9", None, Decimal("5.0000"), False, False),  # unknown order: no date, not counted
        ],
        [5, 3, None, 4],
    )
    assert core_measures_from_gold(gold) == CoreMeasures(
        revenue=Decimal("69.9500"),
        orders=5,
        net_orders=3,
        cancelled_orders=1,
        returned_orders=1,
        average_order_value=Decimal("69.9500") / 3,
        cancellation_rate=0.2,
        return_rate=0.2,
        review_count=4,
        average_rating=4.0,
    )


def test_empty_tables_give_blanks_and_no_cancellations_give_zero(tmp_path: Path) -> None:
    assert core_measures([], []) == CoreMeasures(None, None, None, None, None, None, None, None, None, None)
    only_net = core_measures(
        [
            {
                "order_id": "O1",
                "ordered_at": AT,
                "net_amount": Decimal("1"),
                "is_cancelled": False,
                "is_returned": False,
            }
        ],
        [],
    )
    assert (only_net.cancellation_rate, only_net.return_rate, only_net.average_order_value) == (
        0.0,
        0.0,
        Decimal(1),
    )


def test_missing_gold_table_is_an_error(tmp_path: Path) -> None:
    write_deltalake(str(tmp_path / "fact_sales"), pa.Table.from_pylist([], SALES_SCHEMA))
    with pytest.raises(FileNotFoundError, match="fact_reviews"):
        core_measures_from_gold(tmp_path)


@pytest.mark.spark
def test_core_measures_agree_with_the_spark_built_marts(spark_gold: Path) -> None:
    measures = core_measures_from_gold(spark_gold)
    monthly = DeltaTable(str(spark_gold / "mart_monthly_revenue")).to_pyarrow_table().to_pylist()
    ratings = DeltaTable(str(spark_gold / "mart_product_rating")).to_pyarrow_table().to_pylist()
    assert measures.revenue == sum(m["revenue"] for m in monthly) == Decimal("69.9500")
    assert measures.orders == sum(m["order_count"] for m in monthly) == 4
    assert measures.net_orders == sum(m["net_order_count"] for m in monthly) == 2
    assert measures.returned_orders == sum(m["returned_order_count"] for m in monthly) == 1
    assert (measures.cancellation_rate, measures.return_rate) == (0.25, 0.25)
    assert measures.average_order_value == Decimal("34.975")
    assert measures.review_count == sum(r["review_count"] for r in ratings) == 3
    assert measures.average_rating == 4.0


def write_dq(root: Path, rows: list[tuple[str, str, str, int | None]]) -> Path:
    """``gold/_ops/dq_results`` rows (run, table, expectation, failed_count), as the medallion writes them."""
    columns = ("run_id", "table_name", "expectation", "failed_count")
    table = pa.Table.from_pylist(
        [dict(zip(columns, row, strict=True)) for row in rows],
        pa.schema([("run_id", pa.string()), ("table_name", pa.string()), ("expectation", pa.string()),
                   ("failed_count", pa.int64())]),
    )  # fmt: skip
    write_deltalake(str(root / "_ops" / "dq_results"), table)
    return root


def test_dq_measures_follow_the_dax(tmp_path: Path) -> None:
    gold = write_dq(
        tmp_path,
        [
            ("r1", "silver_orders", "order_id_not_null", 0),
            ("r1", "silver_orders", "amount_positive", 3),
            ("r1", "fact_sales", "customer_key_known", 1),
            ("r2", "silver_orders", "order_id_not_null", 0),
            ("r2", "silver_orders", "amount_positive", None),  # blank: not a failure, adds nothing
        ],
    )
    assert dq_measures_from_gold(gold) == DqMeasures(
        checks=5, failing_checks=2, failures=4, pass_rate=0.6, runs=2
    )


def test_dq_measures_without_failures_or_rows(tmp_path: Path) -> None:
    assert dq_measures([]) == DqMeasures(None, None, None, None, None)
    clean = dq_measures([{"run_id": "r1", "failed_count": 0}, {"run_id": "r1", "failed_count": 0}])
    assert clean == DqMeasures(checks=2, failing_checks=0, failures=0, pass_rate=1.0, runs=1)
    with pytest.raises(FileNotFoundError, match="_ops/dq_results not found"):
        dq_measures_from_gold(tmp_path)


@pytest.mark.spark
def test_dq_measures_over_the_checks_of_the_spark_built_gold(spark_gold: Path) -> None:
    """conftest's gold: 10 declared checks (6 on fact_sales, 3 on fact_reviews, 1 on the monthly mart); the
    line of the unknown order O9 has no known customer, everything else passes."""
    rows = DeltaTable(str(spark_gold / "_ops" / "dq_results")).to_pyarrow_table().to_pylist()
    failing = [(r["table_name"], r["expectation"], r["failed_count"]) for r in rows if r["failed_count"]]
    assert (len(rows), failing) == (10, [("fact_sales", "customer_key_known", 1)])
    assert dq_measures_from_gold(spark_gold) == DqMeasures(
        checks=10, failing_checks=1, failures=1, pass_rate=0.9, runs=1
    )
