"""What the dashboard shows, read from the lake with delta-rs: gold, quarantine, DQ results, the stream.

Tables are opened at the URLs of the zone map (:mod:`infra.zones`) with the storage options of the active
profile (:mod:`infra.storage.delta_rs`); table names come from the catalog (:mod:`transforms.catalog`). The
functions below only filter and aggregate what those tables already hold, for the charts and the headline
figures; the one figure gold does not hold yet (customer lifetime value) is summed from ``fact_sales`` until
``mart_customer_360`` exists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from infra import zones
from infra.settings import Settings, Zone
from infra.storage.delta_rs import open_table
from transforms.catalog import GOLD_TABLES, OPS_TABLES, SCD2_HISTORY, SILVER_TABLES
from transforms.contract import REVIEWS

NO_GOLD = "No gold yet: run `lakehouse run` (or `make run`), then reload this page."
# Issue 16's customer mart; until the pipeline writes it, lifetime value is summed from fact_sales.
CUSTOMER_360 = "mart_customer_360"
UNKNOWN_KEY = -1  # the unknown member of every gold dimension (transforms.gold_schemas)


class NoGold(LookupError):
    """A gold table the page needs is not in the lake yet (no pipeline run)."""

    def __init__(self, table: str) -> None:
        super().__init__(f"gold/{table} not found. {NO_GOLD}")
        self.table = table


@dataclass(frozen=True)
class Lakehouse:
    """Read-only access to the lake's Delta tables for one process's settings."""

    settings: Settings

    def url(self, zone: Zone, *parts: str) -> str:
        return self.settings.lake_url(zone, *parts)

    def open(self, url: str) -> Any | None:  # a deltalake.DeltaTable (no stubs)
        """The Delta table at ``url``, or None when there is none."""
        return open_table(self.settings, url)

    def frame(self, url: str, columns: Iterable[str] | None = None) -> pd.DataFrame | None:
        """The current snapshot of the table at ``url`` (only ``columns`` if given), or None."""
        table = self.open(url)
        if table is None:
            return None
        wanted = list(columns) if columns is not None else None
        return table.to_pyarrow_table(columns=wanted).to_pandas()

    def gold(self, name: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
        """A gold table of the catalog; :class:`NoGold` when it is not written yet."""
        frame = self.frame(zones.gold_url(self.settings, name), columns)
        if frame is None:
            raise NoGold(name)
        return frame

    def has_gold(self) -> bool:
        """True once the pipeline wrote any gold table of the catalog."""
        return any(self.open(zones.gold_url(self.settings, name)) is not None for name in GOLD_TABLES)

    def copy_log(self) -> pd.DataFrame:
        """The reviews copy log (one row per Capture file copied to bronze): destination, copied_at."""
        from infra.storage.lake import Lake

        with Lake(self.settings) as lake:
            rows = [
                json.loads(lake.read_bytes("bronze", entry.path))
                for entry in lake.files("bronze", zones.REVIEWS_COPY_LOG, suffix=".json")
            ]
        frame = pd.DataFrame(rows, columns=["destination", "copied_at", "partition", "events"])
        frame["copied_at"] = pd.to_datetime(frame["copied_at"], utc=True)
        return frame


# --- headline figures ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RevenueSummary:
    """The model's core measures over a set of months of ``mart_monthly_revenue``."""

    revenue: Decimal
    orders: int
    net_orders: int
    cancelled_orders: int
    returned_orders: int

    @property
    def cancellation_rate(self) -> float | None:
        return self.cancelled_orders / self.orders if self.orders else None

    @property
    def return_rate(self) -> float | None:
        return self.returned_orders / self.orders if self.orders else None

    @property
    def average_order_value(self) -> Decimal | None:
        return self.revenue / self.net_orders if self.net_orders else None


def revenue_summary(monthly_df: pd.DataFrame) -> RevenueSummary:
    """Sums of ``mart_monthly_revenue`` rows (an order belongs to one month, so counts add up)."""
    return RevenueSummary(
        revenue=sum(monthly_df["revenue"].dropna(), Decimal(0)),
        orders=int(monthly_df["order_count"].sum()),
        net_orders=int(monthly_df["net_order_count"].sum()),
        cancelled_orders=int(monthly_df["cancelled_order_count"].sum()),
        returned_orders=int(monthly_df["returned_order_count"].sum()),
    )


def current_customers(dim_customer_df: pd.DataFrame) -> pd.DataFrame:
    """The current version of each customer (``dim_customer`` is SCD2), without the unknown member."""
    current = dim_customer_df["is_current"].eq(True)
    return dim_customer_df[current & (dim_customer_df["customer_key"] != UNKNOWN_KEY)]


def in_dates(df: pd.DataFrame, column: str, start: Any, end: Any) -> pd.DataFrame:
    """Rows whose ``column`` (a date, or a timestamp in UTC) falls in ``start`` .. ``end`` inclusive."""
    values = pd.to_datetime(df[column], utc=True).dt.date
    return df[(values >= start) & (values <= end)]


def to_float(df: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """A copy with Decimal columns as floats, for charts (headline figures stay exact)."""
    out = df.copy()
    for column in columns:
        out[column] = out[column].astype(float)
    return out


def format_eur(value: Decimal | None) -> str:
    return "-" if value is None else f"€{value:,.2f}"


def format_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


# --- customer lifetime value ------------------------------------------------------------------------
def lifetime_value_from_facts(sales_df: pd.DataFrame, dim_customer_df: pd.DataFrame) -> pd.DataFrame:
    """One row per customer with a net order: net revenue, orders, first/last order, AOV, segment, region.

    A customer's sales lines may point at several SCD2 versions (``customer_key``); they are summed per
    ``customer_id`` and described by the current version. Net = not cancelled, not returned (the model's
    Revenue).
    """
    # A blank flag counts as false, as in the model's DAX.
    net = sales_df[~sales_df["is_cancelled"].eq(True) & ~sales_df["is_returned"].eq(True)]
    net = net.merge(dim_customer_df[["customer_key", "customer_id"]], on="customer_key", how="inner")
    net = net[net["customer_key"] != UNKNOWN_KEY]
    grouped = net.groupby("customer_id").agg(
        lifetime_value=("net_amount", lambda s: sum(s.dropna(), Decimal(0))),
        order_count=("order_id", "nunique"),
        first_order_at=("ordered_at", "min"),
        last_order_at=("ordered_at", "max"),
    )
    grouped["average_order_value"] = [
        value / count for value, count in zip(grouped["lifetime_value"], grouped["order_count"], strict=True)
    ]
    current = current_customers(dim_customer_df)[["customer_id", "segment", "region"]]
    out = grouped.reset_index().merge(current, on="customer_id", how="left")
    return out.sort_values(["lifetime_value", "customer_id"], ascending=[False, True]).reset_index(drop=True)


CUSTOMER_360_COLUMNS = frozenset({"customer_id", "lifetime_value", "segment", "region"})


def lifetime_values(
    mart_df: pd.DataFrame | None, sales_df: pd.DataFrame, dim_customer_df: pd.DataFrame
) -> tuple[pd.DataFrame, str]:
    """Lifetime value per customer and where it came from: ``mart_customer_360`` when it exists with the
    columns the page shows, else summed from the facts (:func:`lifetime_value_from_facts`)."""
    if mart_df is not None and set(mart_df.columns) >= CUSTOMER_360_COLUMNS:
        return mart_df, f"gold/{CUSTOMER_360}"
    return lifetime_value_from_facts(sales_df, dim_customer_df), "gold/fact_sales + gold/dim_customer"


# --- data quality -----------------------------------------------------------------------------------
def quarantine_tables(lake: Lakehouse) -> dict[str, pd.DataFrame]:
    """Every silver entity's quarantine table that exists: entity -> rows (table, expectation, reason)."""
    found = {}
    for table in SILVER_TABLES:
        frame = lake.frame(
            zones.quarantine_url(lake.settings, table.name),
            ["table_name", "record_key", "expectation", "reason", "_ingested_at"],
        )
        if frame is not None:
            found[table.name] = frame
    return found


def quarantine_by_expectation(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per (table, expectation): quarantined rows, largest first."""
    columns = ["table_name", "expectation", "rows"]
    frames = [df for df in tables.values() if not df.empty]
    if not frames:
        return pd.DataFrame(columns=columns)
    rows = pd.concat(frames).groupby(["table_name", "expectation"]).size().reset_index(name="rows")
    return rows.sort_values(["rows", "table_name", "expectation"], ascending=[False, True, True])[columns]


def dq_runs(dq_df: pd.DataFrame, balance_df: pd.DataFrame | None) -> pd.DataFrame:
    """One row per run of ``dq_results``: checks, failed checks by severity, failed rows; oldest first.

    Run ids are Prefect flow-run ids (not ordered); a run's time is its first load in ``load_balance``.
    """
    failed = dq_df["failed_count"].fillna(0) > 0
    frame = dq_df.assign(
        failed_error=failed & (dq_df["severity"] == "error"),
        failed_warn=failed & (dq_df["severity"] != "error"),
    )
    runs = (
        frame.groupby("run_id")
        .agg(
            checks=("expectation", "size"),
            failed_errors=("failed_error", "sum"),
            failed_warnings=("failed_warn", "sum"),
            failed_rows=("failed_count", "sum"),
        )
        .reset_index()
    )
    if balance_df is not None and len(balance_df):
        started = balance_df.groupby("run_id")["loaded_at"].min().rename("loaded_at").reset_index()
        runs = runs.merge(started, on="run_id", how="left")
    else:
        runs["loaded_at"] = pd.NaT
    return runs.sort_values(["loaded_at", "run_id"], na_position="first").reset_index(drop=True)


def latest_profiles(profiles_df: pd.DataFrame, balance_df: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of ``gold/_ops/profiles`` of the latest run (the run with the latest load; ties and runs
    without loads fall back to the table's row order)."""
    runs = list(dict.fromkeys(profiles_df["run_id"]))
    if balance_df is not None and len(balance_df):
        loaded = balance_df.groupby("run_id")["loaded_at"].max()
        known = [r for r in runs if r in loaded.index]
        if known:
            runs = sorted(known, key=lambda r: loaded[r])
    return profiles_df[profiles_df["run_id"] == runs[-1]].reset_index(drop=True) if runs else profiles_df


def lake_tables(settings: Settings) -> list[tuple[Zone, str, str]]:
    """(zone, table, URL) of every Delta table the catalog names: silver, quarantine, ops, gold."""
    found: list[tuple[Zone, str, str]] = []
    for table in SILVER_TABLES:
        found.append(("silver", table.name, zones.silver_url(settings, table.name)))
        found.append(("silver", f"quarantine_{table.name}", zones.quarantine_url(settings, table.name)))
    found.append(("silver", SCD2_HISTORY, zones.silver_url(settings, SCD2_HISTORY)))
    for name in GOLD_TABLES:
        found.append(("gold", name, zones.gold_url(settings, name)))
    for name, zone in OPS_TABLES.items():
        found.append((zone, f"{zones.OPS}/{name}", zones.ops_url(settings, name)))
    return found


def freshness(lake: Lakehouse) -> pd.DataFrame:
    """One row per Delta table that exists: zone, table, version, latest commit time (UTC)."""
    rows = []
    for zone, name, url in lake_tables(lake.settings):
        table = lake.open(url)
        if table is None:
            continue
        latest = table.history(1)[0]
        committed_at = datetime.fromtimestamp(latest["timestamp"] / 1000, tz=UTC)
        rows.append({"zone": zone, "table": name, "version": table.version(), "committed_at": committed_at})
    return pd.DataFrame(rows, columns=["zone", "table", "version", "committed_at"])


def freshness_by_zone(fresh_df: pd.DataFrame) -> pd.DataFrame:
    """One row per zone: its newest and oldest table commit."""
    return (
        fresh_df.groupby("zone")
        .agg(tables=("table", "size"), newest=("committed_at", "max"), oldest=("committed_at", "min"))
        .reset_index()
    )


# --- the stream -------------------------------------------------------------------------------------
STREAM_COLUMNS = ("review_id", "partition_id", "enqueued_at", "reviewed_at", "_source_file", "_ingested_at")


def silver_reviews(lake: Lakehouse) -> pd.DataFrame | None:
    """Silver reviews with their Event Hubs lineage (gold keeps no partition or enqueued time)."""
    return lake.frame(zones.silver_url(lake.settings, REVIEWS), STREAM_COLUMNS)


def events_per_second(reviews_df: pd.DataFrame) -> pd.DataFrame:
    """One row per (second of enqueued time, partition): events the hub accepted in that second."""
    seconds = pd.to_datetime(reviews_df["enqueued_at"], utc=True).dt.floor("s")
    counted = reviews_df.assign(second=seconds).groupby(["second", "partition_id"]).size()
    return counted.reset_index(name="events").sort_values(["second", "partition_id"])


def review_latency(
    reviews_df: pd.DataFrame, copy_log_df: pd.DataFrame, gold_commits: list[datetime]
) -> pd.DataFrame:
    """Per review: seconds from the hub (enqueued) to bronze (file copied), silver (loaded) and gold.

    * send: ``enqueued_at``, when Event Hubs accepted the event (the producer's own send time is not kept).
    * bronze: ``copied_at`` of the copy-log entry of the Capture file the review came in.
    * silver: ``_ingested_at``, when the medallion read that bronze file.
    * gold: the first ``fact_reviews`` commit at or after the silver load (gold rows carry no load time).
    """
    enqueued = pd.to_datetime(reviews_df["enqueued_at"], utc=True)
    by_file = {row.destination: row.copied_at for row in copy_log_df.itertuples()}
    copied = [_copied_at(str(source), by_file) for source in reviews_df["_source_file"]]
    silver = pd.to_datetime(reviews_df["_ingested_at"], utc=True)
    commits = sorted(pd.Timestamp(c) for c in gold_commits)
    gold = [next((c for c in commits if c >= s), pd.NaT) if pd.notna(s) else pd.NaT for s in silver]
    out = pd.DataFrame({"review_id": reviews_df["review_id"], "partition_id": reviews_df["partition_id"]})
    out["to_bronze_s"] = (
        pd.to_datetime(pd.Series(copied, index=reviews_df.index), utc=True) - enqueued
    ).dt.total_seconds()
    out["to_silver_s"] = (silver - enqueued).dt.total_seconds()
    out["to_gold_s"] = (
        pd.to_datetime(pd.Series(gold, index=reviews_df.index), utc=True) - enqueued
    ).dt.total_seconds()
    return out


def _copied_at(source_file: str, by_destination: dict[str, Any]) -> Any:
    """The copy time of the bronze file a silver row names (a full URL ending in the bronze path)."""
    for destination, copied_at in by_destination.items():
        if source_file.endswith("/" + destination.lstrip("/")):
            return copied_at
    return pd.NaT


def gold_commit_times(lake: Lakehouse, name: str) -> list[datetime]:
    """Commit times (UTC) of every version of a gold table still in its log."""
    table = lake.open(zones.gold_url(lake.settings, name))
    if table is None:
        return []
    return [datetime.fromtimestamp(h["timestamp"] / 1000, tz=UTC) for h in table.history()]
