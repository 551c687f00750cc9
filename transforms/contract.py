"""The data contract of the sources (docs/data-contract.md), once, as module-level constants.

Entities, column lists in file order, business keys, accepted values, id formats, defect kinds and file
layout. The generator (``ingestion.synthetic``), the bronze read schemas, silver's keys and accepted values
(``transforms``), the flows and the tests all derive from these names; nothing re-lists them.

Plain Python, no Spark: it imports nothing of ours, so every layer may import it.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import PurePosixPath
from typing import Final

CUSTOMERS: Final = "customers"
PRODUCTS: Final = "products"
ORDERS: Final = "orders"
ORDER_LINES: Final = "order_lines"
REVIEWS: Final = "reviews"
APP_EVENTS: Final = "app_events"
FINANCE_ENTRIES: Final = "finance_entries"

ENTITIES: Final[tuple[str, ...]] = (
    CUSTOMERS,
    PRODUCTS,
    ORDERS,
    ORDER_LINES,
    REVIEWS,
    APP_EVENTS,
    FINANCE_ENTRIES,
)
"""All entities, in the order the generator produces (and writes) them each day."""

COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    CUSTOMERS: (
        "customer_id",
        "name",
        "email",
        "country",
        "region",
        "segment",
        "signup_at",
        "is_active",
        "updated_at",
    ),
    PRODUCTS: ("product_id", "name", "category", "price", "launched_at", "updated_at"),
    ORDERS: ("order_id", "customer_id", "ordered_at", "status", "region", "channel", "updated_at"),
    ORDER_LINES: ("order_id", "line_number", "product_id", "quantity", "unit_price", "discount"),
    REVIEWS: ("review_id", "product_id", "customer_id", "rating", "title", "text", "reviewed_at"),
    APP_EVENTS: (
        "event_id",
        "session_id",
        "customer_id",
        "event_type",
        "product_id",
        "device",
        "occurred_at",
    ),
    FINANCE_ENTRIES: ("entry_id", "kind", "category", "amount", "note", "booked_at"),
}

KEY_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    CUSTOMERS: ("customer_id",),
    PRODUCTS: ("product_id",),
    ORDERS: ("order_id",),
    ORDER_LINES: ("order_id", "line_number"),
    REVIEWS: ("review_id",),
    APP_EVENTS: ("event_id",),
    FINANCE_ENTRIES: ("entry_id",),
}

CSV_ENTITIES: Final[frozenset[str]] = frozenset({CUSTOMERS, PRODUCTS, ORDERS, ORDER_LINES, FINANCE_ENTRIES})
"""Entities delivered as CSV batch files; the others are JSON lines (reviews, app_events)."""

ID_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    "customer_id": re.compile(r"C\d{7}"),
    "product_id": re.compile(r"P\d{5}"),
    "order_id": re.compile(r"O\d{8}"),
    "review_id": re.compile(r"R\d{8}"),
    "event_id": re.compile(r"[0-9a-f]{32}"),
    "session_id": re.compile(r"[0-9a-f]{32}"),
    "entry_id": re.compile(r"F\d{8}"),
}

REGIONS: Final = ("EMEA", "AMER", "APAC")
SEGMENTS: Final = ("consumer", "small_business", "enterprise")
CATEGORIES: Final = ("software", "hardware", "subscription", "service", "accessory")
STATUSES: Final = ("placed", "shipped", "delivered", "cancelled", "returned")
CHANNELS: Final = ("web", "mobile", "partner")
EVENT_TYPES: Final = ("page_view", "search", "add_to_cart", "checkout", "purchase")
DEVICES: Final = ("desktop", "mobile", "tablet")
FINANCE_KINDS: Final = ("revenue", "expense")
FINANCE_CATEGORIES: Final[dict[str, tuple[str, ...]]] = {
    "revenue": ("sales", "services", "licensing"),
    "expense": ("payroll", "marketing", "hosting", "logistics", "office"),
}
"""Per finance kind, the categories its entries may carry."""

# Defect kinds (the manifest's `defect` column).
EXACT_DUPLICATE: Final = "exact_duplicate"
NULL_KEY: Final = "null_key"
UNPARSEABLE_NUMBER: Final = "unparseable_number"
UNPARSEABLE_DATE: Final = "unparseable_date"
NEGATIVE_QUANTITY: Final = "negative_quantity"
RATING_OUT_OF_RANGE: Final = "rating_out_of_range"
ORPHAN_FK: Final = "orphan_fk"
FUTURE_EVENT: Final = "future_event"
LATE_EVENT: Final = "late_event"

DEFECTS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    CUSTOMERS: ((EXACT_DUPLICATE, ""), (NULL_KEY, "customer_id"), (UNPARSEABLE_DATE, "signup_at")),
    PRODUCTS: ((EXACT_DUPLICATE, ""), (NULL_KEY, "product_id"), (UNPARSEABLE_NUMBER, "price")),
    ORDERS: (
        (EXACT_DUPLICATE, ""),
        (NULL_KEY, "order_id"),
        (UNPARSEABLE_DATE, "ordered_at"),
        (ORPHAN_FK, "customer_id"),
    ),
    ORDER_LINES: (
        (EXACT_DUPLICATE, ""),
        (UNPARSEABLE_NUMBER, "unit_price"),
        (NEGATIVE_QUANTITY, "quantity"),
        (ORPHAN_FK, "product_id"),
    ),
    REVIEWS: (
        (EXACT_DUPLICATE, ""),
        (NULL_KEY, "review_id"),
        (RATING_OUT_OF_RANGE, "rating"),
        (ORPHAN_FK, "product_id"),
        (FUTURE_EVENT, "reviewed_at"),
    ),
    APP_EVENTS: (
        (EXACT_DUPLICATE, ""),
        (NULL_KEY, "event_id"),
        (FUTURE_EVENT, "occurred_at"),
        (LATE_EVENT, "occurred_at"),
    ),
    FINANCE_ENTRIES: (
        (EXACT_DUPLICATE, ""),
        (NULL_KEY, "entry_id"),
        (UNPARSEABLE_NUMBER, "amount"),
        (UNPARSEABLE_DATE, "booked_at"),
    ),
}
"""Per entity, the defect kinds it can carry and the field each one affects (empty for duplicates)."""

KEPT_DEFECTS: Final[frozenset[str]] = frozenset({LATE_EVENT})
"""Defects whose records silver keeps (all others are dropped as duplicates or quarantined)."""

MANIFEST_COLUMNS: Final = ("entity", "record_id", "defect", "field")
MANIFEST_FILE: Final = "manifest.csv"
SUMMARY_FILE: Final = "summary.json"


def relative_path(entity: str, batch_date: date) -> PurePosixPath:
    """Where one entity's file of one batch date lives, relative to the output folder."""
    day = batch_date.isoformat()
    if entity in CSV_ENTITIES:
        return PurePosixPath("batch", entity, day, f"{entity}.csv")
    if entity in (REVIEWS, APP_EVENTS):
        return PurePosixPath(entity, day, f"{entity}.jsonl")
    raise ValueError(f"unknown entity {entity!r}; expected one of {ENTITIES}")


def record_id(entity: str, record: dict[str, object]) -> str:
    """The manifest's `record_id` of a record: its business key as written (`<order_id>#<line>` for lines)."""
    values = [record[column] for column in KEY_COLUMNS[entity]]
    if any(value is None or value == "" for value in values):
        return ""
    return "#".join(str(value) for value in values)
