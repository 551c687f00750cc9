"""Table-level checks, declared beside their tables in :mod:`transforms.catalog` (dbt's generic tests).

A row expectation judges one row and quarantines it; a table check judges a whole table after it is written:
keys unique, foreign keys not null and known, relationships, and arithmetic invariants of the marts. Each
check yields a result of the same shape as the row expectations' (``dq_results``: passed, failed, a few
sample keys, a severity); an ``error`` that fails ends the medallion run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from transforms.common import utc_date
from transforms.expectations import Severity

UNKNOWN_KEY = -1
SAMPLES = 5
REVENUE_ANOMALY_CHECK = "revenue_within_expected_band"


@dataclass(frozen=True)
class CheckOutcome:
    passed: int
    failed: int
    samples: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableCheck:
    """A named check of one table; ``evaluate(table_df, tables)`` may look at other tables by name."""

    name: str
    severity: Severity
    evaluate: Callable[[DataFrame, Mapping[str, DataFrame]], CheckOutcome]
    description: str = ""


def keys_unique(keys: Sequence[str]) -> TableCheck:
    """No two rows share the business key (failed = keys held by more than one row)."""

    def evaluate(df: DataFrame, _: Mapping[str, DataFrame]) -> CheckOutcome:
        dupes_df = df.groupBy(*keys).count().where("count > 1")
        samples = tuple(" | ".join(str(v) for v in r[: len(keys)]) for r in dupes_df.limit(SAMPLES).collect())
        failed = dupes_df.count()
        return CheckOutcome(df.count() - failed, failed, samples)

    return TableCheck("keys_unique", "error", evaluate, f"unique ({', '.join(keys)})")


def key_not_null(column: str) -> TableCheck:
    def evaluate(df: DataFrame, _: Mapping[str, DataFrame]) -> CheckOutcome:
        failed = df.where(F.col(column).isNull()).count()
        return CheckOutcome(df.count() - failed, failed)

    return TableCheck(f"{column}_not_null", "error", evaluate, f"{column} is not null")


def key_known(column: str) -> TableCheck:
    """Rows resolved to the unknown member (-1): a warning, the row is kept and counted."""

    def evaluate(df: DataFrame, _: Mapping[str, DataFrame]) -> CheckOutcome:
        failed = df.where(F.col(column) == UNKNOWN_KEY).count()
        return CheckOutcome(df.count() - failed, failed)

    return TableCheck(f"{column}_known", "warn", evaluate, f"{column} is not the unknown member")


def relationship(column: str, to_table: str, to_column: str) -> TableCheck:
    """Every non-null ``column`` value exists as ``to_table.to_column`` (the unknown member included)."""

    def evaluate(df: DataFrame, tables: Mapping[str, DataFrame]) -> CheckOutcome:
        parents_df = tables[to_table].select(F.col(to_column).alias(column)).distinct()
        keyed_df = df.where(F.col(column).isNotNull())
        orphans_df = keyed_df.join(parents_df, column, "left_anti")
        samples = tuple(str(r[0]) for r in orphans_df.select(column).distinct().limit(SAMPLES).collect())
        failed = orphans_df.count()
        return CheckOutcome(keyed_df.count() - failed, failed, samples)

    return TableCheck(f"{column}_in_{to_table}", "error", evaluate, f"{column} -> {to_table}.{to_column}")


def revenue_matches_net_lines(fact_table: str) -> TableCheck:
    """Per month: revenue = the sum of net line amounts of the net orders placed that month.

    Counted from the fact's lines on their own (an order is net when none of its lines is cancelled or
    returned), so a mart that drops, doubles or misdates an order fails. Failed = months that differ.
    """

    def evaluate(mart_df: DataFrame, tables: Mapping[str, DataFrame]) -> CheckOutcome:
        orders_df = (
            tables[fact_table]
            .where(F.col("ordered_at").isNotNull())
            .groupBy("order_id")
            .agg(
                F.trunc(utc_date(F.first("ordered_at")), "month").alias("month_start_date"),
                (~F.bool_or(F.col("is_cancelled") | F.col("is_returned"))).alias("_is_net"),
                F.sum("net_amount").alias("_amount"),
            )
        )
        expected_df = orders_df.groupBy("month_start_date").agg(
            F.coalesce(F.sum(F.when(F.col("_is_net"), F.col("_amount"))), F.lit(0)).alias("_expected")
        )
        compared_df = mart_df.select("month_start_date", "revenue").join(
            expected_df, "month_start_date", "full_outer"
        )
        wrong_df = compared_df.where(~F.col("revenue").eqNullSafe(F.col("_expected")))
        samples = tuple(
            f"{r[0]}: {r[1]} != {r[2]}" for r in wrong_df.orderBy("month_start_date").limit(SAMPLES).collect()
        )
        failed = wrong_df.count()
        return CheckOutcome(compared_df.count() - failed, failed, samples)

    return TableCheck(
        "revenue_equals_net_line_amounts",
        "error",
        evaluate,
        f"revenue = sum({fact_table}.net_amount) of net orders",
    )


def quarantine_share(bronze: int, quarantined: int, max_fraction: float) -> tuple[str, CheckOutcome]:
    """An entity's load may quarantine at most ``max_fraction`` of its bronze rows (an error otherwise)."""
    too_many = quarantined > max_fraction * bronze
    return f"quarantine_at_most_{max_fraction:g}", CheckOutcome(
        bronze - quarantined, quarantined if too_many else 0
    )


def run_checks(
    run_id: str, tables: Mapping[str, DataFrame], declared: Mapping[str, Sequence[TableCheck]]
) -> list[tuple[str, str, str, str, int, int, list[str]]]:
    """Evaluate every declared check of every table present; rows in ``DQ_RESULTS_SCHEMA`` order."""
    rows: list[tuple[str, str, str, str, int, int, list[str]]] = []
    for table, checks in declared.items():
        if table not in tables:
            continue
        for check in checks:
            outcome = check.evaluate(tables[table], tables)
            rows.append(
                (
                    run_id,
                    table,
                    check.name,
                    check.severity,
                    outcome.passed,
                    outcome.failed,
                    list(outcome.samples),
                )
            )
    return rows


def no_revenue_anomaly() -> TableCheck:
    """A day of ``mart_revenue_anomalies`` outside its expected band: a warning (samples = the dates)."""

    def evaluate(mart_df: DataFrame, _: Mapping[str, DataFrame]) -> CheckOutcome:
        flagged_df = mart_df.where(F.col("is_anomaly"))
        samples = tuple(
            f"{r.order_date}: {r.revenue} outside [{r.lower_bound}, {r.upper_bound}]"
            for r in flagged_df.orderBy("order_date").limit(SAMPLES).collect()
        )
        failed = flagged_df.count()
        return CheckOutcome(mart_df.count() - failed, failed, samples)

    return TableCheck(REVENUE_ANOMALY_CHECK, "warn", evaluate, "no day's revenue is an anomaly")
