"""Tiny-table helpers of the transform tests (the session's SparkSession comes from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

LOAD_ID = "load-1"
INGESTED_AT = datetime(2026, 1, 2, 6, 0, tzinfo=UTC)


def ts(text: str) -> datetime:
    """A UTC datetime from ``2026-01-02T03:04:05``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def frame(spark: SparkSession, schema: StructType, rows: Sequence[Mapping[str, object]]) -> DataFrame:
    """A DataFrame of ``schema`` from dicts; missing keys are null."""
    return spark.createDataFrame([tuple(row.get(f.name) for f in schema.fields) for row in rows], schema)


def bronze(
    spark: SparkSession, schema: StructType, rows: Sequence[Mapping[str, object]], source_file: str = "f.csv"
) -> DataFrame:
    """Bronze rows of ``schema``; ingestion metadata defaults to one load of ``source_file``."""
    defaults = {"_source_file": source_file, "_load_id": LOAD_ID, "_ingested_at": INGESTED_AT}
    return frame(spark, schema, [defaults | dict(row) for row in rows])


def table(spark: SparkSession, ddl: str, rows: Sequence[tuple[object, ...]]) -> DataFrame:
    """An expected DataFrame from tuples; use it whenever rows hold timestamps (collect() drops the zone)."""
    return spark.createDataFrame(list(rows), ddl)
