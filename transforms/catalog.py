"""The table catalog, as data, once: every silver, operational and gold table with its grain and keys.

Flows, notebooks, tests and the Power BI tooling derive table names, keys, load order, bronze formats and
schemas from here; nothing re-lists them. Business keys come from the data contract. Table-level checks
are declared beside their tables (``checks=``), like the row expectations in :mod:`transforms.silver`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pyspark.sql.types import StructType

from transforms import contract
from transforms.bronze_schemas import (
    APP_EVENTS_PARQUET_SCHEMA,
    CAPTURE_AVRO_SCHEMA,
    CUSTOMERS_CSV_SCHEMA,
    FINANCE_ENTRIES_CSV_SCHEMA,
    ORDER_LINES_CSV_SCHEMA,
    ORDERS_CSV_SCHEMA,
    PRODUCTS_CSV_SCHEMA,
)
from transforms.checks import (
    TableCheck,
    key_known,
    key_not_null,
    keys_unique,
    no_revenue_anomaly,
    relationship,
    revenue_matches_net_lines,
)
from transforms.gold_schemas import GOLD_SCHEMAS
from transforms.silver_schemas import (
    SILVER_APP_EVENTS_SCHEMA,
    SILVER_CUSTOMERS_SCHEMA,
    SILVER_FINANCE_ENTRIES_SCHEMA,
    SILVER_ORDER_LINES_SCHEMA,
    SILVER_ORDERS_SCHEMA,
    SILVER_PRODUCTS_SCHEMA,
    SILVER_REVIEWS_SCHEMA,
)

BronzeFormat = Literal["csv", "avro", "parquet"]
BRONZE_SUFFIX: dict[BronzeFormat, str] = {"csv": ".csv", "avro": ".avro", "parquet": ".parquet"}

# A replayed older version never overwrites a newer one (constant SQL, no input in it).
NEWER_WINS = "s.updated_at >= t.updated_at OR t.updated_at IS NULL"


@dataclass(frozen=True)
class SilverTable:
    """One silver entity: where its bronze comes from, how it is keyed, what it is checked against."""

    name: str
    grain: str
    bronze_format: BronzeFormat
    read_schema: StructType
    schema: StructType
    # Silver tables whose keys this entity's references are checked against: (table, key column).
    references: tuple[tuple[str, str], ...] = ()
    update_guard: str | None = None
    checks: tuple[TableCheck, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return contract.KEY_COLUMNS[self.name]

    @property
    def bronze_suffix(self) -> str:
        return BRONZE_SUFFIX[self.bronze_format]


AsOfPart = Literal["date", "year"]


@dataclass(frozen=True)
class GoldTable:
    """One gold table (star schema or mart) with its grain, inputs, Z-order columns and table checks.

    ``reads`` names the silver and gold tables it is computed from, and ``as_of`` the part of the run's
    ``as_of`` instant it depends on: a gold build rewrites a table only when one of these changed.
    """

    name: str
    grain: str
    reads: tuple[str, ...]
    as_of: AsOfPart | None = None
    zorder: tuple[str, ...] = ()
    checks: tuple[TableCheck, ...] = field(default=())

    @property
    def schema(self) -> StructType:
        return GOLD_SCHEMAS[self.name]


def _silver(
    name: str, grain: str, fmt: BronzeFormat, read: StructType, schema: StructType, **optional: Any
) -> SilverTable:
    """A silver table whose business key (from the contract) is checked unique after each load."""
    unique = keys_unique(contract.KEY_COLUMNS[name])
    return SilverTable(name, grain, fmt, read, schema, checks=(unique,), **optional)


# Load order: referential checks need their parents first.
SILVER_TABLES: tuple[SilverTable, ...] = (
    _silver(
        contract.CUSTOMERS,
        "one row per customer (the latest version)",
        "csv",
        CUSTOMERS_CSV_SCHEMA,
        SILVER_CUSTOMERS_SCHEMA,
        update_guard=NEWER_WINS,
    ),
    _silver(
        contract.PRODUCTS,
        "one row per product",
        "csv",
        PRODUCTS_CSV_SCHEMA,
        SILVER_PRODUCTS_SCHEMA,
        update_guard=NEWER_WINS,
    ),
    _silver(
        contract.ORDERS,
        "one row per order",
        "csv",
        ORDERS_CSV_SCHEMA,
        SILVER_ORDERS_SCHEMA,
        references=(("customers", "customer_id"),),
        update_guard=NEWER_WINS,
    ),
    _silver(
        contract.ORDER_LINES,
        "one row per order line",
        "csv",
        ORDER_LINES_CSV_SCHEMA,
        SILVER_ORDER_LINES_SCHEMA,
        references=(("products", "product_id"), ("orders", "order_id")),
    ),
    _silver(
        contract.REVIEWS,
        "one row per review",
        "avro",
        CAPTURE_AVRO_SCHEMA,
        SILVER_REVIEWS_SCHEMA,
        references=(("products", "product_id"), ("customers", "customer_id")),
    ),
    _silver(
        contract.APP_EVENTS,
        "one row per app event",
        "parquet",
        APP_EVENTS_PARQUET_SCHEMA,
        SILVER_APP_EVENTS_SCHEMA,
    ),
    _silver(
        contract.FINANCE_ENTRIES,
        "one row per finance ledger entry (revenue or expense)",
        "csv",
        FINANCE_ENTRIES_CSV_SCHEMA,
        SILVER_FINANCE_ENTRIES_SCHEMA,
    ),
)
SILVER: dict[str, SilverTable] = {t.name: t for t in SILVER_TABLES}
SILVER_KEYS: dict[str, tuple[str, ...]] = {t.name: t.keys for t in SILVER_TABLES}
SCD2_HISTORY = "customer_history"  # silver SCD Type 2 of customers (valid_from, valid_to, is_current)

DIMENSIONS = ("dim_customer", "dim_product")  # what every fact is keyed by
GOLD_TABLES_SPEC: tuple[GoldTable, ...] = (
    GoldTable(
        "dim_customer", "one row per customer version (SCD2), plus the unknown member -1", (SCD2_HISTORY,)
    ),
    GoldTable("dim_product", "one row per product, plus the unknown member -1", (contract.PRODUCTS,)),
    GoldTable(
        "dim_date",
        "one row per calendar day of the whole years the data covers, to the end of as_of's year",
        (contract.ORDERS, contract.REVIEWS, contract.APP_EVENTS),
        as_of="year",
    ),
    GoldTable(
        "fact_sales",
        "one row per order line",
        (contract.ORDER_LINES, contract.ORDERS, *DIMENSIONS),
        zorder=("date_key",),
        checks=(
            key_not_null("customer_key"),
            key_known("customer_key"),
            key_not_null("product_key"),
            key_known("product_key"),
            relationship("product_key", "dim_product", "product_key"),
            relationship("customer_key", "dim_customer", "customer_key"),
        ),
    ),
    GoldTable(
        "fact_reviews",
        "one row per review",
        (contract.REVIEWS, *DIMENSIONS),
        checks=(
            key_not_null("product_key"),
            key_known("product_key"),
            relationship("product_key", "dim_product", "product_key"),
        ),
    ),
    GoldTable(
        "fact_app_events", "one row per app event", (contract.APP_EVENTS, *DIMENSIONS), zorder=("date_key",)
    ),
    GoldTable(
        "mart_monthly_revenue",
        "one row per month",
        ("fact_sales",),
        checks=(revenue_matches_net_lines("fact_sales"),),
    ),
    GoldTable("mart_daily_region", "one row per day and region", ("fact_sales",)),
    GoldTable(
        "mart_rfm", "one row per customer with a net order", ("fact_sales", "dim_customer"), as_of="date"
    ),
    GoldTable("mart_product_rating", "one row per product", ("fact_reviews", "dim_product")),
    GoldTable("mart_funnel", "one row per day and device", ("fact_app_events",)),
    # Analytics marts (transforms/analytics.py); the medallion builds them from the tables above.
    GoldTable(
        "mart_customer_360",
        "one row per customer (current version)",
        ("fact_sales", "fact_reviews", "dim_customer"),
        as_of="date",
        checks=(keys_unique(("customer_id",)), relationship("customer_key", "dim_customer", "customer_key")),
    ),
    GoldTable(
        "mart_revenue_anomalies",
        "one row per day from the first to the last order date",
        ("fact_sales",),
        checks=(keys_unique(("order_date",)), no_revenue_anomaly()),
    ),
    GoldTable(
        "mart_finance_monthly",
        "one row per month with a finance entry or a sale",
        (contract.FINANCE_ENTRIES, "fact_sales"),
        checks=(keys_unique(("month_start_date",)),),
    ),
)
GOLD: dict[str, GoldTable] = {t.name: t for t in GOLD_TABLES_SPEC}
GOLD_TABLES: tuple[str, ...] = tuple(GOLD_SCHEMAS)
ZORDER: dict[str, tuple[str, ...]] = {t.name: t.zorder for t in GOLD_TABLES_SPEC if t.zorder}


def gold_to_rebuild(changed: set[str]) -> tuple[str, ...]:
    """The gold tables that read, directly or through other gold tables, a table named in ``changed``.

    ``changed`` may name silver tables, gold tables (missing or stale) or both; the answer keeps the
    catalog's order, in which every gold table comes after the gold tables it reads.
    """
    stale = set(changed)
    for table in GOLD_TABLES_SPEC:
        if table.name in changed or stale.intersection(table.reads):
            stale.add(table.name)
    return tuple(t for t in GOLD_TABLES if t in stale)


# Operational tables beside the data (under ``_ops/``): their zone and name.
OPS_TABLES: dict[str, Literal["silver", "gold"]] = {
    "processed_files": "silver",
    "load_balance": "silver",
    "dq_results": "gold",
    "profiles": "gold",
    "gold_builds": "gold",
}

if tuple(t.name for t in GOLD_TABLES_SPEC) != GOLD_TABLES:  # pragma: no cover - a catalog edit gone wrong
    raise RuntimeError("transforms.catalog: GOLD_TABLES_SPEC must list the gold schemas, in their order")
