"""Table-level checks, declared beside their tables in :mod:`transforms.catalog` (dbt's generic tests).

A row expectation judges one row and quarantines it; a table check judges a whole table after it is written:
keys unique, foreign keys not null and known, relationships, and arithmetic invariants of the marts. Each
check yields a result of the same shape as the row expectations' (``dq_results``: passed, failed, a few
sample keys, a severity); an ``error`` that fails ends the medallion run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Row
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
    """A named check of one table; ``evaluate(table_df, tables)`` may look at the tables in ``reads``."""

    name: str
    severity: Severity
    evaluate: Callable[[DataFrame, Mapping[str, DataFrame]], CheckOutcome]
    description: str = ""
    # The other tables it looks at: its outcome changes only when one of these or its own table does.
    reads: tuple[str, ...] = ()

    def inputs(self, table: str) -> frozenset[str]:
        """Every table the outcome of this check on ``table`` depends on."""
        return frozenset((table, *self.reads))


def _aggregate(df: DataFrame, *columns: Column) -> tuple[int, ...]:
    """One-row aggregates of ``df`` as ints (null = 0), in one Spark job."""
    row = df.agg(*columns).first()
    return tuple(int(v or 0) for v in row) if row is not None else tuple(0 for _ in columns)


def _failing_rows(df: DataFrame, failing: Column) -> tuple[int, int]:
    """Rows of ``df``, and those where ``failing`` holds (one Spark job)."""
    total, failed = _aggregate(df, F.count(F.lit(1)), F.count(F.when(failing, True)))
    return total, failed


def _samples(df: DataFrame, failed: int, render: Callable[[Row], str]) -> tuple[str, ...]:
    """A few failing rows of ``df``, rendered; no Spark job when nothing failed."""
    return tuple(render(r) for r in df.limit(SAMPLES).collect()) if failed else ()


def keys_unique(keys: Sequence[str]) -> TableCheck:
    """No two rows share the business key (failed = keys held by more than one row)."""

    def evaluate(df: DataFrame, _: Mapping[str, DataFrame]) -> CheckOutcome:
        per_key_df = df.groupBy(*keys).agg(F.count(F.lit(1)).alias("_rows"))
        rows, failed = _aggregate(per_key_df, F.sum("_rows"), F.count(F.when(F.col("_rows") > 1, True)))
        dupes_df = per_key_df.where(F.col("_rows") > 1)
        samples = _samples(dupes_df, failed, lambda r: " | ".join(str(v) for v in r[: len(keys)]))
        return CheckOutcome(rows - failed, failed, samples)

    return TableCheck("keys_unique", "error", evaluate, f"unique ({', '.join(keys)})")


def key_not_null(column: str) -> TableCheck:
    def evaluate(df: DataFrame, _: Mapping[str, DataFrame]) -> CheckOutcome:
        rows, failed = _failing_rows(df, F.col(column).isNull())
        return CheckOutcome(rows - failed, failed)

    return TableCheck(f"{column}_not_null", "error", evaluate, f"{column} is not null")


def key_known(column: str) -> TableCheck:
    """Rows resolved to the unknown member (-1): a warning, the row is kept and counted."""

    def evaluate(df: DataFrame, _: Mapping[str, DataFrame]) -> CheckOutcome:
        rows, failed = _failing_rows(df, F.col(column) == UNKNOWN_KEY)
        return CheckOutcome(rows - failed, failed)

    return TableCheck(f"{column}_known", "warn", evaluate, f"{column} is not the unknown member")


def relationship(column: str, to_table: str, to_column: str) -> TableCheck:
    """Every non-null ``column`` value exists as ``to_table.to_column`` (the unknown member included)."""

    def evaluate(df: DataFrame, tables: Mapping[str, DataFrame]) -> CheckOutcome:
        parents_df = tables[to_table].select(F.col(to_column).alias(column), F.lit(True).alias("_known"))
        keyed_df = df.where(F.col(column).isNotNull()).join(parents_df.distinct(), column, "left")
        rows, failed = _failing_rows(keyed_df, F.col("_known").isNull())
        orphans_df = keyed_df.where(F.col("_known").isNull()).select(column).distinct()
        samples = _samples(orphans_df, failed, lambda r: str(r[0]))
        return CheckOutcome(rows - failed, failed, samples)

    return TableCheck(
        f"{column}_in_{to_table}", "error", evaluate, f"{column} -> {to_table}.{to_column}", (to_table,)
    )


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
        wrong = ~F.col("revenue").eqNullSafe(F.col("_expected"))
        months, failed = _failing_rows(compared_df, wrong)
        wrong_df = compared_df.where(wrong).orderBy("month_start_date")
        samples = _samples(wrong_df, failed, lambda r: f"{r[0]}: {r[1]} != {r[2]}")
        return CheckOutcome(months - failed, failed, samples)

    return TableCheck(
        "revenue_equals_net_line_amounts",
        "error",
        evaluate,
        f"revenue = sum({fact_table}.net_amount) of net orders",
        (fact_table,),
    )


def quarantine_share(bronze: int, quarantined: int, max_fraction: float) -> tuple[str, CheckOutcome]:
    """An entity's load may quarantine at most ``max_fraction`` of its bronze rows (an error otherwise)."""
    too_many = quarantined > max_fraction * bronze
    return f"quarantine_at_most_{max_fraction:g}", CheckOutcome(
        bronze - quarantined, quarantined if too_many else 0
    )


CheckRow = tuple[str, str, str, str, int, int, list[str]]
CheckItem = tuple[str, TableCheck]
# How a caller runs the evaluations: ``map_checks(evaluate, items)`` -> results in the items' order.
CheckMapper = Callable[[Callable[[CheckItem], CheckRow], list[CheckItem]], Iterable[CheckRow]]


def run_checks(
    run_id: str,
    tables: Mapping[str, DataFrame],
    declared: Mapping[str, Sequence[TableCheck]],
    map_checks: CheckMapper | None = None,
) -> list[CheckRow]:
    """Evaluate every declared check of every table present; rows in ``DQ_RESULTS_SCHEMA`` order.

    ``map_checks(evaluate, items)`` runs the evaluations (default: one after the other); a caller may run
    them side by side, e.g. from driver threads, as long as it returns the results in order.
    """
    todo = [(table, check) for table, checks in declared.items() if table in tables for check in checks]

    def evaluate(item: CheckItem) -> CheckRow:
        table, check = item
        outcome = check.evaluate(tables[table], tables)
        samples = list(outcome.samples)
        return (run_id, table, check.name, check.severity, outcome.passed, outcome.failed, samples)

    return list(map_checks(evaluate, todo) if map_checks else map(evaluate, todo))


def no_revenue_anomaly() -> TableCheck:
    """A day of ``mart_revenue_anomalies`` outside its expected band: a warning (samples = the dates)."""

    def evaluate(mart_df: DataFrame, _: Mapping[str, DataFrame]) -> CheckOutcome:
        rows, failed = _failing_rows(mart_df, F.col("is_anomaly"))
        samples = _samples(
            mart_df.where(F.col("is_anomaly")).orderBy("order_date"),
            failed,
            lambda r: f"{r.order_date}: {r.revenue} outside [{r.lower_bound}, {r.upper_bound}]",
        )
        return CheckOutcome(rows - failed, failed, samples)

    return TableCheck(REVENUE_ANOMALY_CHECK, "warn", evaluate, "no day's revenue is an anomaly")
