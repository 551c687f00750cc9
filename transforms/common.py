"""Column helpers shared by the silver and gold transforms (pure expressions, no IO)."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

SECONDS_PER_DAY = 86_400


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """Select ``schema``'s columns in order, cast to its types (the last step of every transform)."""
    missing = [f.name for f in schema.fields if f.name not in df.columns]
    if missing:
        raise ValueError(f"cannot conform: missing column(s) {', '.join(missing)}")
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def utc_date(timestamp: Column) -> Column:
    """The UTC calendar date of a timestamp, whatever the session time zone."""
    return F.date_from_unix_date(F.floor(F.unix_seconds(timestamp) / SECONDS_PER_DAY).cast("int"))


def date_key(date: Column) -> Column:
    """``yyyymmdd`` as an int (``20260102``); null for a null date."""
    return (F.year(date) * 10_000 + F.month(date) * 100 + F.dayofmonth(date)).cast("int")


def freeze(df: DataFrame) -> DataFrame:
    """``df`` computed once and its lineage cut, so later actions reuse exactly these rows.

    A reliable checkpoint when the session has a checkpoint directory (on a cluster: it survives the loss
    of an executor), else a local one (kept by the executors, lost with them: fine in local mode).
    """
    if df.sparkSession.sparkContext.getCheckpointDir():
        return df.checkpoint()
    return df.localCheckpoint()


def freeze_counted(df: DataFrame) -> tuple[DataFrame, int]:
    """:func:`freeze` and the number of rows frozen, counted as the rows are computed (no job of its own)."""
    rows = Observation()  # a name of its own (a random UUID): builds run side by side
    frozen_df = freeze(df.observe(rows, F.count(F.lit(1)).alias("rows")))
    return frozen_df, int(rows.get["rows"])
