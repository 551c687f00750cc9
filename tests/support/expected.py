"""Gold figures computed in plain Python from the generator's files and manifest, independently of Spark.

The business rules are the ones gold documents (transforms/gold.py): a net order is neither cancelled nor
returned; revenue is the sum of net line amounts (quantity * unit_price * (1 - discount), 4 places) over the
lines of net orders; orders are the orders with at least one valid line; RFM scores are
``1 + floor(5 * percent_rank)`` (capped at 5) per customer with a net order up to the as-of date.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

FOUR_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class ExpectedGold:
    revenue: Decimal
    order_count: int
    net_order_count: int
    cancelled_order_count: int
    returned_order_count: int
    rfm_segments: dict[str, int]
    review_count: int
    average_rating: Decimal | None


def manifest(generated: Path) -> list[dict[str, str]]:
    with (generated / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def bad_ids(generated: Path) -> dict[str, set[str]]:
    """Business keys of every deliberately bad record that silver must reject (duplicates stay valid)."""
    rejected: dict[str, set[str]] = defaultdict(set)
    for row in manifest(generated):
        if row["defect"] not in ("exact_duplicate", "late_event") and row["record_id"]:
            rejected[row["entity"]].add(row["record_id"])
    return rejected


def _csv_rows(generated: Path, entity: str, days: list[str]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for day in days:
        with (generated / "batch" / entity / day / f"{entity}.csv").open(newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def _jsonl(generated: Path, entity: str, days: list[str]) -> list[dict]:
    rows: list[dict] = []
    for day in days:
        rows += [
            json.loads(line)
            for line in (generated / entity / day / f"{entity}.jsonl").read_text().splitlines()
        ]
    return rows


def expected_gold(generated: Path, days: list[str], as_of: date) -> ExpectedGold:
    """The gold figures for the generated ``days`` (folder names ``yyyy-mm-dd``)."""
    bad = bad_ids(generated)
    orders = {
        r["order_id"]: r
        for r in _csv_rows(generated, "orders", days)
        if r["order_id"] and r["order_id"] not in bad["orders"]
    }
    lines: dict[tuple[str, str], dict[str, str]] = {}
    for r in _csv_rows(generated, "order_lines", days):
        key = (r["order_id"], r["line_number"])
        if f"{r['order_id']}#{r['line_number']}" not in bad["order_lines"]:
            lines[key] = r
    amounts: dict[str, Decimal] = defaultdict(Decimal)
    for (order_id, _), line in lines.items():
        if order_id in orders:
            gross = Decimal(line["quantity"]) * Decimal(line["unit_price"]) * (1 - Decimal(line["discount"]))
            amounts[order_id] += gross.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
    status = {order_id: orders[order_id]["status"] for order_id in amounts}
    net = {o for o, s in status.items() if s not in ("cancelled", "returned")}
    revenue = sum((amounts[o] for o in net), Decimal(0))

    per_customer: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for order_id in net:
        ordered = datetime.fromisoformat(orders[order_id]["ordered_at"].replace("Z", "+00:00")).date()
        if ordered <= as_of:
            per_customer[orders[order_id]["customer_id"]].append((ordered, amounts[order_id]))
    reviews = {
        r["review_id"]: r
        for r in _jsonl(generated, "reviews", days)
        if r["review_id"] and r["review_id"] not in bad["reviews"]
    }
    ratings = [int(r["rating"]) for r in reviews.values()]
    average = (
        (Decimal(sum(ratings)) / len(ratings)).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
        if ratings
        else None
    )
    return ExpectedGold(
        revenue=revenue,
        order_count=len(status),
        net_order_count=len(net),
        cancelled_order_count=sum(1 for s in status.values() if s == "cancelled"),
        returned_order_count=sum(1 for s in status.values() if s == "returned"),
        rfm_segments=_rfm_segments(per_customer, as_of),
        review_count=len(ratings),
        average_rating=average,
    )


def _scores(values: dict[str, object]) -> dict[str, int]:
    """1 + floor(5 * percent_rank), ranking ascending (worst first); ties share the lowest rank."""
    ordered = sorted(values.values())
    n = len(ordered)
    first_index: dict[object, int] = {}
    for index, value in enumerate(ordered):
        first_index.setdefault(value, index)
    scores = {}
    for key, value in values.items():
        rank = first_index[value] / (n - 1) if n > 1 else 0.0
        scores[key] = min(5, 1 + int(5 * rank))
    return scores


def _rfm_segments(per_customer: dict[str, list[tuple[date, Decimal]]], as_of: date) -> dict[str, int]:
    last = {c: max(d for d, _ in orders) for c, orders in per_customer.items()}
    frequency = {c: len(orders) for c, orders in per_customer.items()}
    recency_score, frequency_score = _scores(last), _scores(frequency)  # later last order = better
    segments: Counter[str] = Counter()
    for customer in per_customer:
        r, f = recency_score[customer], frequency_score[customer]
        if r >= 4 and f >= 4:
            segments["Champions"] += 1
        elif r >= 3 and f >= 3:
            segments["Loyal"] += 1
        elif r >= 4 and f <= 2:
            segments["New"] += 1
        elif r <= 2 and f >= 3:
            segments["At Risk"] += 1
        elif r <= 2 and f <= 2:
            segments["Hibernating"] += 1
        else:
            segments["Needs Attention"] += 1
    return dict(segments)


def daily_revenue(generated: Path, days: list[str]) -> dict[date, Decimal]:
    """Revenue per UTC order date (net orders, valid lines), as gold's mart_daily_region sums it."""
    bad = bad_ids(generated)
    orders = {
        r["order_id"]: r
        for r in _csv_rows(generated, "orders", days)
        if r["order_id"] and r["order_id"] not in bad["orders"]
    }
    revenue: dict[date, Decimal] = defaultdict(Decimal)
    for line in _csv_rows(generated, "order_lines", days):
        order = orders.get(line["order_id"])
        if order is None or f"{line['order_id']}#{line['line_number']}" in bad["order_lines"]:
            continue
        if order["status"] in ("cancelled", "returned"):
            continue
        gross = Decimal(line["quantity"]) * Decimal(line["unit_price"]) * (1 - Decimal(line["discount"]))
        ordered = datetime.fromisoformat(order["ordered_at"].replace("Z", "+00:00")).date()
        revenue[ordered] += gross.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
    return dict(revenue)
