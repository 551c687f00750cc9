"""Warm a new driver JVM up on a scratch Delta table while it would otherwise wait.

A driver's first medallion at SF0.01 takes about 1.7x the time of its later ones: the JIT has compiled
little, Delta and Catalyst fill their caches. :func:`warm_up` runs the kinds of query the medallion runs
(file sources read with a schema, casts and filters, window deduplication, joins, aggregations, Delta
overwrite, MERGE, replaceWhere, history, a local checkpoint) on a few thousand generated rows in a local
scratch folder, one step at a time, and stops between two steps as soon as ``should_stop()`` says so: it
fills idle time and never holds up real work by more than one step. It touches no table of the lake.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

ROWS = 4_000
# One round took a new JVM's first medallion at SF0.01 from 59.5 to 41.6 s; three did no better (41.8 s).
ROUNDS = 1
STEPS_PER_ROUND = 6  # what _round yields


@dataclass(frozen=True)
class WarmUp:
    """What a warm-up did: steps run, of how many, and seconds spent."""

    steps: int
    planned: int
    seconds: float

    @property
    def complete(self) -> bool:
        return self.steps == self.planned


def warm_up(
    spark: SparkSession,
    should_stop: Callable[[], bool] = lambda: False,
    rounds: int = ROUNDS,
    scratch_parent: Path | None = None,
) -> WarmUp:
    """Run ``rounds`` rounds of medallion-like queries on ``spark`` (a session of its own is used), checking
    ``should_stop`` before every step. The scratch folder is removed afterwards; errors are logged, not raised
    (a warm-up is an optimisation: the work it warms up for reports its own errors)."""
    started, done, planned = time.monotonic(), 0, rounds * STEPS_PER_ROUND
    scratch: Path | None = None
    try:
        scratch = Path(tempfile.mkdtemp(prefix="lakehouse-warm-up-", dir=scratch_parent))
        session = spark.newSession()  # no setting or temporary view leaks into the sessions of real work
        session.conf.set("spark.sql.shuffle.partitions", "1")
        for step in (step for number in range(rounds) for step in _round(session, scratch, number)):
            if should_stop():
                break
            step()
            done += 1
    except Exception as exc:  # see the docstring; a JVM that died is the caller's to notice
        log.warning("Spark warm-up stopped after %d of %d steps: %s", done, planned, exc)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    result = WarmUp(done, planned, time.monotonic() - started)
    log.info("Spark warm-up: %d of %d steps in %.1f s", result.steps, result.planned, result.seconds)
    return result


def _round(spark: SparkSession, scratch: Path, round_number: int) -> Iterator[Callable[[], object]]:
    """The steps of one round, as callables (nothing runs until a step is called)."""
    from delta.tables import DeltaTable
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    folder = scratch / f"round-{round_number}"
    table = (folder / "table").as_uri()
    raw = folder / "raw"
    schema = (
        "order_id string, customer_id string, amount string, ordered_at string, status string, "
        "line_number string"
    )

    def generated(offset: int) -> DataFrame:
        ids = spark.range(offset, offset + ROWS)
        return ids.select(
            F.format_string("o-%06d", F.col("id") % (ROWS // 2)).alias("order_id"),
            F.format_string("c-%04d", F.col("id") % 97).alias("customer_id"),
            (F.col("id") * 1.25).cast("string").alias("amount"),
            F.date_format(
                F.timestamp_seconds(F.lit(1_767_225_600) + F.col("id") * 61), "yyyy-MM-dd HH:mm:ss"
            ).alias("ordered_at"),
            F.element_at(
                F.array(*[F.lit(s) for s in ("new", "paid", "cancelled")]), (F.col("id") % 3 + 1).cast("int")
            ).alias("status"),
            (F.col("id") % 4).cast("string").alias("line_number"),
        )

    def typed(df: DataFrame) -> DataFrame:
        latest = Window.partitionBy("order_id", "line_number").orderBy(F.col("ordered_at").desc())
        return (
            df.select(
                "order_id",
                "customer_id",
                F.col("amount").cast("decimal(19,4)").alias("amount"),
                F.to_timestamp("ordered_at").alias("ordered_at"),
                F.trim(F.lower("status")).alias("status"),
                F.col("line_number").cast("int").alias("line_number"),
            )
            .where(F.col("order_id").isNotNull() & F.col("amount").isNotNull())
            .withColumn("_rank", F.row_number().over(latest))
            .where("_rank = 1")
            .drop("_rank")
        )

    def write_raw() -> None:
        generated(0).write.mode("overwrite").option("header", "true").csv(str(raw / "csv"))
        generated(ROWS).write.mode("overwrite").json(str(raw / "json"))
        generated(2 * ROWS).write.mode("overwrite").parquet(str(raw / "parquet"))

    def read_raw(kind: str) -> DataFrame:
        reader = spark.read.schema(schema)
        if kind == "csv":
            return reader.option("header", "true").csv(str(raw / "csv"))
        return reader.json(str(raw / "json")) if kind == "json" else reader.parquet(str(raw / "parquet"))

    def overwrite() -> None:
        typed(read_raw("csv")).write.format("delta").mode("overwrite").save(table)

    def merge() -> None:
        updates = typed(read_raw("json").unionByName(read_raw("parquet")))
        (
            DeltaTable.forPath(spark, table)
            .alias("t")
            .merge(updates.alias("s"), "t.order_id <=> s.order_id AND t.line_number <=> s.line_number")
            .whenMatchedUpdateAll(condition="s.ordered_at >= t.ordered_at OR t.ordered_at IS NULL")
            .whenNotMatchedInsertAll()
            .execute()
        )

    def replace_where() -> None:
        rows = typed(read_raw("csv")).where("status = 'cancelled'")
        rows.write.format("delta").mode("overwrite").option("replaceWhere", "status = 'cancelled'").save(
            table
        )

    def aggregate() -> None:
        df = spark.read.format("delta").load(table).localCheckpoint()
        customers = df.groupBy("customer_id").agg(
            F.count(F.lit(1)).alias("orders"),
            F.sum("amount").alias("revenue"),
            F.max("ordered_at").alias("last"),
        )
        running = (
            Window.partitionBy("customer_id").orderBy("ordered_at").rowsBetween(Window.unboundedPreceding, 0)
        )
        joined = (
            df.withColumn("running", F.sum("amount").over(running))
            .join(customers, "customer_id", "left")
            .join(F.broadcast(customers.select("customer_id").limit(10)), "customer_id", "left_anti")
        )
        profile = [F.count_if(F.col(c).isNull()) for c in df.columns]
        profile += [F.approx_count_distinct(c) for c in df.columns] + [
            F.min(c).cast("string") for c in df.columns
        ]
        joined.agg(*profile, F.count(F.lit(1))).collect()
        df.groupBy("status").count().orderBy(F.desc("count")).limit(5).collect()

    def history() -> None:
        DeltaTable.forPath(spark, table).history(1).select("version", "operationMetrics").collect()

    yield write_raw
    yield overwrite
    yield merge
    yield replace_where
    yield aggregate
    yield history
