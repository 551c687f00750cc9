"""A small declarative data-quality framework: expectations declared beside each table, checked row by row.

An :class:`Expectation` is a named boolean :class:`~pyspark.sql.Column` (true = the row passes; null counts
as a failure) with a severity and a reason. :func:`apply_expectations` splits a DataFrame into good rows and
quarantine rows; :func:`dq_summary` counts passes and failures per expectation.

Rules that keep the counts balanced:

* A row fails on its **first** failing ``error`` expectation only, in declaration order: one quarantine
  row per rejected record, so ``rows = good + quarantined``.
* ``warn`` expectations never remove a row; they are evaluated on the good rows and only counted.
* Referential checks (:func:`expect_exists`) take the reference keys as an explicit DataFrame; a null foreign
  key passes (pair it with :func:`expect_not_null` when the key is required).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from typing import Literal

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from transforms.common import conform
from transforms.silver_schemas import (
    DQ_RESULTS_COLUMNS,
    DQ_RESULTS_SCHEMA,
    LINEAGE_COLUMNS,
    QUARANTINE_SCHEMA,
)

Severity = Literal["error", "warn"]
SEVERITIES: tuple[Severity, ...] = ("error", "warn")

_FAILED_INDEX = "_dq_failed_index"
_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Reference:
    """The keys a foreign key must exist in: ``ref_column`` of ``keys_df``."""

    keys_df: DataFrame
    ref_column: str


@dataclass(frozen=True, eq=False)
class Expectation:
    """One named row-level check: ``predicate`` is true when the row passes (null counts as a failure)."""

    name: str
    columns: tuple[str, ...]
    predicate: Column
    severity: Severity
    reason: str
    reference: Reference | None = None

    def __post_init__(self) -> None:
        if not _NAME_PATTERN.match(self.name):
            raise ValueError(f"expectation name must be snake_case, got {self.name!r}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity of {self.name!r} must be one of {SEVERITIES}, got {self.severity!r}")
        if not self.columns:
            raise ValueError(f"expectation {self.name!r} names no column")
        if not self.reason:
            raise ValueError(f"expectation {self.name!r} needs a reason")


# --- builders ----------------------------------------------------------------------------------------
def expect(
    name: str, columns: str | Sequence[str], predicate: Column, reason: str, severity: Severity = "error"
) -> Expectation:
    """A custom expectation (an arithmetic invariant, a format, ...)."""
    cols = (columns,) if isinstance(columns, str) else tuple(columns)
    return Expectation(name, cols, predicate, severity, reason)


def expect_not_null(column: str, severity: Severity = "error") -> Expectation:
    """``<column>_not_null``."""
    return expect(f"{column}_not_null", column, F.col(column).isNotNull(), f"{column} is missing", severity)


def expect_accepted_values(column: str, values: Iterable[str], severity: Severity = "error") -> Expectation:
    """``<column>_accepted_values``: the value is one of ``values`` (null fails)."""
    accepted = sorted(values)
    return expect(
        f"{column}_accepted_values",
        column,
        F.col(column).isin(accepted),
        f"{column} is not one of {', '.join(accepted)}",
        severity,
    )


def expect_not_in_future(column: str, as_of: datetime, severity: Severity = "error") -> Expectation:
    """``<column>_not_in_future``: the timestamp is at or before ``as_of`` (timezone-aware)."""
    require_aware(as_of, "as_of")
    return expect(
        f"{column}_not_in_future",
        column,
        F.col(column) <= F.lit(as_of),
        f"{column} is after {as_of.isoformat()}",
        severity,
    )


def expect_exists(
    column: str, keys_df: DataFrame, ref_column: str | None = None, severity: Severity = "error"
) -> Expectation:
    """``<column>_exists``: a non-null ``column`` is found among ``keys_df[ref_column]``."""
    name = f"{column}_exists"
    return Expectation(
        name,
        (column,),
        F.col(column).isNull() | F.col(_flag_column(name)).isNotNull(),
        severity,
        f"{column} refers to no known {ref_column or column}",
        Reference(keys_df, ref_column or column),
    )


def require_aware(value: datetime, label: str) -> None:
    """Raise unless ``value`` is a timezone-aware datetime (naive ones would be read in the JVM's zone)."""
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{label} must be a timezone-aware datetime (e.g. datetime(..., tzinfo=UTC))")


# --- evaluation --------------------------------------------------------------------------------------
def check_expectations(df: DataFrame, expectations: Sequence[Expectation]) -> DataFrame:
    """``df`` plus ``_dq_failed_index``: the position of the first failing ``error`` expectation, else null.

    Also one ``_dq_warn_<i>`` boolean per ``warn`` expectation (true = the row fails it).
    """
    _validate(df, expectations)
    checked_df = df
    for expectation in expectations:
        if expectation.reference is not None:
            checked_df = _join_reference(checked_df, expectation)
    failed_index = F.lit(None).cast("int")
    for index in reversed(range(len(expectations))):
        expectation = expectations[index]
        if expectation.severity == "error":
            failed_index = F.when(~F.coalesce(expectation.predicate, F.lit(False)), F.lit(index)).otherwise(
                failed_index
            )
    checked_df = checked_df.withColumn(_FAILED_INDEX, failed_index)
    for index, expectation in enumerate(expectations):
        if expectation.severity == "warn":
            checked_df = checked_df.withColumn(
                _warn_column(index), ~F.coalesce(expectation.predicate, F.lit(False))
            )
    return checked_df.drop(*[_flag_column(e.name) for e in expectations if e.reference is not None])


def apply_expectations(
    df: DataFrame,
    expectations: Sequence[Expectation],
    *,
    table_name: str,
    key_columns: Sequence[str],
    record: Column | None = None,
) -> tuple[DataFrame, DataFrame]:
    """Split ``df`` into (good rows with ``df``'s columns, quarantine rows in ``QUARANTINE_SCHEMA``).

    ``record`` is the raw record kept in quarantine (a JSON string); by default the JSON of every column of
    ``df`` whose name does not start with ``_``.
    """
    checked_df = check_expectations(df, expectations)
    good_df = checked_df.filter(F.col(_FAILED_INDEX).isNull()).select(*df.columns)
    record_col = record if record is not None else F.to_json(F.struct(*_data_columns(df)))
    names = F.array(*[F.lit(e.name) for e in expectations])
    reasons = F.array(*[F.lit(e.reason) for e in expectations])
    lineage = [
        F.col(c) if c in df.columns else F.lit(None).cast(QUARANTINE_SCHEMA[c].dataType)
        for c in LINEAGE_COLUMNS
    ]
    quarantine_df = checked_df.filter(F.col(_FAILED_INDEX).isNotNull()).select(
        F.lit(table_name).alias("table_name"),
        record_key(key_columns).alias("record_key"),
        F.element_at(names, F.col(_FAILED_INDEX) + 1).alias("expectation"),
        F.element_at(reasons, F.col(_FAILED_INDEX) + 1).alias("reason"),
        record_col.cast("string").alias("record"),
        *[c.alias(name) for c, name in zip(lineage, LINEAGE_COLUMNS, strict=True)],
    )
    return good_df, conform(quarantine_df, QUARANTINE_SCHEMA)


def dq_summary(
    df: DataFrame,
    expectations: Sequence[Expectation],
    *,
    run_id: str,
    table_name: str,
    key_columns: Sequence[str],
    sample_size: int = 5,
) -> DataFrame:
    """One row per expectation (``DQ_RESULTS_SCHEMA``): passed and failed counts and a few failing keys.

    An ``error`` expectation is evaluated on the rows that passed every earlier ``error`` expectation, so its
    failures are exactly its quarantine rows; a ``warn`` expectation is evaluated on the good rows.
    """
    if sample_size < 1:
        raise ValueError(f"sample_size must be >= 1, got {sample_size}")
    if not expectations:
        return df.sparkSession.createDataFrame([], DQ_RESULTS_SCHEMA)
    checked_df = check_expectations(df, expectations).withColumn("_dq_key", record_key(key_columns))
    failed_index = F.col(_FAILED_INDEX)
    aggregates: list[Column] = []
    for index, expectation in enumerate(expectations):
        if expectation.severity == "error":
            reached = failed_index.isNull() | (failed_index >= index)
            failed = F.coalesce(failed_index == index, F.lit(False))
        else:
            reached = failed_index.isNull()
            failed = reached & F.col(_warn_column(index))
        aggregates += [
            F.count_if(reached & ~failed).alias(f"p{index}"),
            F.count_if(failed).alias(f"f{index}"),
            F.slice(F.array_sort(F.collect_set(F.when(failed, F.col("_dq_key")))), 1, sample_size).alias(
                f"s{index}"
            ),
        ]
    rows = [
        F.struct(
            F.lit(run_id).alias("run_id"),
            F.lit(table_name).alias("table_name"),
            F.lit(e.name).alias("expectation"),
            F.lit(e.severity).alias("severity"),
            F.col(f"p{i}").cast("long").alias("passed_count"),
            F.col(f"f{i}").cast("long").alias("failed_count"),
            F.col(f"s{i}").alias("sample_keys"),
        )
        for i, e in enumerate(expectations)
    ]
    summary_df = checked_df.agg(*aggregates).select(F.inline(F.array(*rows)))
    return conform(summary_df.select(*DQ_RESULTS_COLUMNS), DQ_RESULTS_SCHEMA)


# --- helpers -----------------------------------------------------------------------------------------
def record_key(key_columns: Sequence[str]) -> Column:
    """The business key as written, parts joined by ``#`` (``O1#2``); null when any part is null."""
    if not key_columns:
        raise ValueError("key_columns must name at least one column")
    parts = [F.col(c).cast("string") for c in key_columns]
    any_null = reduce(operator.or_, [p.isNull() for p in parts])
    return F.when(~any_null, F.concat_ws("#", *parts))


def _data_columns(df: DataFrame) -> list[str]:
    return [c for c in df.columns if not c.startswith("_")]


def _flag_column(name: str) -> str:
    return f"_dq_ref_{name}"


def _warn_column(index: int) -> str:
    return f"_dq_warn_{index}"


def _join_reference(df: DataFrame, expectation: Expectation) -> DataFrame:
    assert expectation.reference is not None
    ref = expectation.reference
    if ref.ref_column not in ref.keys_df.columns:
        raise ValueError(
            f"reference keys of {expectation.name!r} have no column {ref.ref_column!r} "
            f"(columns: {', '.join(ref.keys_df.columns)})"
        )
    flag = _flag_column(expectation.name)
    key = f"{flag}_key"
    keys_df = ref.keys_df.select(F.col(ref.ref_column).alias(key)).distinct().withColumn(flag, F.lit(True))
    column = expectation.columns[0]
    return df.join(keys_df, df[column] == keys_df[key], "left").drop(key)


def _validate(df: DataFrame, expectations: Sequence[Expectation]) -> None:
    names = [e.name for e in expectations]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"expectation names must be unique; repeated: {', '.join(duplicated)}")
    for expectation in expectations:
        missing = [c for c in expectation.columns if c not in df.columns]
        if missing:
            raise ValueError(
                f"expectation {expectation.name!r} checks missing column(s): {', '.join(missing)}"
            )
