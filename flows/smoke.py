"""A Delta round trip on the lake over abfs://: the quickest proof that storage, DFS and Spark agree."""

from __future__ import annotations

from dataclasses import dataclass

from infra.settings import Settings


@dataclass(frozen=True)
class RoundTrip:
    table_url: str
    versions: int
    rows_now: int
    rows_at_version_0: int

    def __str__(self) -> str:
        return (
            f"Delta round trip OK at {self.table_url}: {self.versions} versions, "
            f"{self.rows_now} rows now, {self.rows_at_version_0} at version 0"
        )


def delta_round_trip(settings: Settings, table: str = "_smoke/delta_round_trip") -> RoundTrip:
    """Write, MERGE, time-travel and read back a small Delta table in the bronze zone."""
    from delta.tables import DeltaTable

    from infra.spark import build_spark_session

    spark = build_spark_session(settings, app_name="smoke")
    url = settings.lake_url("bronze", table)
    spark.createDataFrame([(1, "a"), (2, "b")], "id int, value string").write.format("delta").mode(
        "overwrite"
    ).save(url)
    updates = spark.createDataFrame([(2, "B"), (3, "c")], "id int, value string")
    target = DeltaTable.forPath(spark, url)
    target.alias("t").merge(
        updates.alias("u"), "t.id = u.id"
    ).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute()
    now = spark.read.format("delta").load(url)
    first = spark.read.format("delta").option("versionAsOf", 0).load(url)
    rows = sorted(tuple(r) for r in now.collect())
    if rows != [(1, "a"), (2, "B"), (3, "c")]:
        raise RuntimeError(f"Delta round trip read back {rows}, expected [(1,'a'), (2,'B'), (3,'c')]")
    return RoundTrip(url, target.history().count(), len(rows), first.count())
