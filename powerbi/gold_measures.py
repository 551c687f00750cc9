"""The model's core measures computed from the gold Delta tables with delta-rs (no Spark, no Power BI).

Each function follows the DAX of ``powerbi/Lakehouse.SemanticModel`` exactly, so that an end-to-end test can
hold the figures Power BI would show against figures computed from the generator's clean data:

* **Revenue** = SUM of ``Sales[Net Amount]`` over lines that are not cancelled, not returned and have an
  order date (``ordered_at`` not blank). A blank flag counts as FALSE, as in DAX.
* **Orders** = DISTINCTCOUNT of ``Sales[Order ID]`` over lines with an order date (any status).
* **Net Orders** = the same over not-cancelled, not-returned lines.
* **Average Order Value** = DIVIDE(Revenue, Net Orders).
* **Cancellation Rate** / **Return Rate** = DIVIDE(cancelled / returned orders, Orders).
* **Review Count** = COUNTROWS(Reviews); **Average Rating** = AVERAGE(Reviews[Rating]) (blanks ignored).
* **DQ Checks** = COUNTROWS('Data Quality') over ``gold/_ops/dq_results``; **DQ Failing Checks** = those
  with ``failed_count`` > 0 (0 when none fails); **DQ Failures** = SUM of ``failed_count``;
  **DQ Pass Rate** = DIVIDE(checks - failing, checks); **DQ Runs** = DISTINCTCOUNT of ``run_id``.

DAX returns BLANK for a SUM or DISTINCTCOUNT over no rows and for DIVIDE by zero; here that is ``None``.
DISTINCTCOUNT counts a blank value as one value, and so does :func:`core_measures`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from powerbi.tmdl import GoldSource, open_gold_tables

SALES_COLUMNS = ("order_id", "ordered_at", "net_amount", "is_cancelled", "is_returned")
REVIEW_COLUMNS = ("rating",)
DQ_COLUMNS = ("run_id", "failed_count")
DQ_TABLE = "_ops/dq_results"


@dataclass(frozen=True)
class CoreMeasures:
    """The model's core measures over all rows (no filter context)."""

    revenue: Decimal | None
    orders: int | None
    net_orders: int | None
    cancelled_orders: int | None
    returned_orders: int | None
    average_order_value: Decimal | None
    cancellation_rate: float | None
    return_rate: float | None
    review_count: int | None
    average_rating: float | None


def core_measures(
    sales_rows: Sequence[Mapping[str, Any]], review_rows: Sequence[Mapping[str, Any]]
) -> CoreMeasures:
    """The core measures from gold rows (dicts with the ``fact_sales`` / ``fact_reviews`` columns used)."""
    dated = [r for r in sales_rows if r["ordered_at"] is not None]
    net = [r for r in dated if not r["is_cancelled"] and not r["is_returned"]]
    amounts = [r["net_amount"] for r in net if r["net_amount"] is not None]
    revenue = sum(amounts, Decimal(0)) if amounts else None
    orders = _distinct_count(r["order_id"] for r in dated)
    net_orders = _distinct_count(r["order_id"] for r in net)
    cancelled = _distinct_count(r["order_id"] for r in dated if r["is_cancelled"])
    returned = _distinct_count(r["order_id"] for r in dated if r["is_returned"])
    ratings = [r["rating"] for r in review_rows if r["rating"] is not None]
    return CoreMeasures(
        revenue=revenue,
        orders=orders,
        net_orders=net_orders,
        cancelled_orders=cancelled,
        returned_orders=returned,
        average_order_value=_divide_decimal(revenue, net_orders),
        cancellation_rate=_divide(cancelled, orders),
        return_rate=_divide(returned, orders),
        review_count=len(review_rows) or None,
        average_rating=sum(ratings) / len(ratings) if ratings else None,
    )


def core_measures_from_gold(gold: GoldSource) -> CoreMeasures:
    """The core measures from gold Delta tables: a local gold folder (``<dir>/fact_sales``, ...), a mapping
    ``{name: DeltaTable}`` or a callable ``name -> DeltaTable`` (:func:`powerbi.tmdl.open_gold_tables`)."""
    tables = open_gold_tables(gold, ["fact_sales", "fact_reviews"])
    for name in ("fact_sales", "fact_reviews"):
        if name not in tables:
            raise FileNotFoundError(f"gold table {name} not found")
    sales = tables["fact_sales"].to_pyarrow_table(columns=list(SALES_COLUMNS)).to_pylist()
    reviews = tables["fact_reviews"].to_pyarrow_table(columns=list(REVIEW_COLUMNS)).to_pylist()
    return core_measures(sales, reviews)


def _distinct_count(values: Any) -> int | None:
    return len(set(values)) or None


def _divide(numerator: int | None, denominator: int | None) -> float | None:
    if not denominator:
        return None
    return (numerator or 0) / denominator


def _divide_decimal(numerator: Decimal | None, denominator: int | None) -> Decimal | None:
    if not denominator:
        return None
    return (numerator or Decimal(0)) / Decimal(denominator)


@dataclass(frozen=True)
class DqMeasures:
    """The Data Quality measures over all check results (no filter context)."""

    checks: int | None
    failing_checks: int | None
    failures: int | None
    pass_rate: float | None
    runs: int | None


def dq_measures(dq_rows: Sequence[Mapping[str, Any]]) -> DqMeasures:
    """The Data Quality measures from ``dq_results`` rows (dicts with ``run_id`` and ``failed_count``)."""
    checks = len(dq_rows) or None
    failing = sum(1 for r in dq_rows if (r["failed_count"] or 0) > 0) if checks else None
    counts = [r["failed_count"] for r in dq_rows if r["failed_count"] is not None]
    return DqMeasures(
        checks=checks,
        failing_checks=failing,
        failures=sum(counts) if counts else None,
        pass_rate=_divide((checks or 0) - (failing or 0), checks),
        runs=_distinct_count(r["run_id"] for r in dq_rows),
    )


def dq_measures_from_gold(gold: GoldSource) -> DqMeasures:
    """The Data Quality measures from ``gold/_ops/dq_results`` (a gold folder, mapping or callable)."""
    tables = open_gold_tables(gold, [DQ_TABLE])
    if DQ_TABLE not in tables:
        raise FileNotFoundError(f"gold table {DQ_TABLE} not found (a medallion run writes it)")
    return dq_measures(tables[DQ_TABLE].to_pyarrow_table(columns=list(DQ_COLUMNS)).to_pylist())
