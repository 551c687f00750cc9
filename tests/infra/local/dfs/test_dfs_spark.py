"""Spark + Delta over abfs:// through the DFS endpoint: the table lifecycle and racing writers."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator

import pytest
from azure.storage.filedatalake import DataLakeServiceClient
from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from infra.settings import Settings

pytestmark = [pytest.mark.spark, pytest.mark.services]


# A 2-core machine: Delta's defaults (50 snapshot partitions, 10,000-way listing for VACUUM) only add tasks.
SMALL_TABLE_CONF = {
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    "spark.databricks.delta.retentionDurationCheck.enabled": "false",
}


@contextlib.contextmanager
def session_conf(spark: SparkSession, values: dict[str, str]) -> Iterator[None]:
    """Set SQL confs for one test and put the previous values back."""
    previous = {key: spark.conf.get(key, None) for key in values}
    for key, value in values.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def table_location(settings: Settings) -> tuple[str, str]:
    """(abfs URL, path inside the silver filesystem) of a new table."""
    path = f"dfs-tests/{uuid.uuid4().hex[:8]}/orders"
    return settings.lake_url("silver", path), path


def delta_log(dfs_service: DataLakeServiceClient, settings: Settings, path: str) -> list[str]:
    fs = dfs_service.get_file_system_client(settings.container("silver"))
    return sorted(p.name.rsplit("/", 1)[1] for p in fs.get_paths(path=f"{path}/_delta_log", recursive=False))


def data_files(dfs_service: DataLakeServiceClient, settings: Settings, path: str) -> list[str]:
    fs = dfs_service.get_file_system_client(settings.container("silver"))
    return [p.name for p in fs.get_paths(path=path) if p.name.endswith(".parquet")]


def test_delta_table_lifecycle(
    abfs_spark: SparkSession, lake_stack: Settings, dfs_service: DataLakeServiceClient
):
    spark = abfs_spark
    url, path = table_location(lake_stack)
    schema = "order_id INT, status STRING"
    with session_conf(spark, SMALL_TABLE_CONF):
        _lifecycle(spark, url, schema)

    expected_df = spark.createDataFrame([(1, "new"), (2, "shipped"), (3, "new"), (4, "new")], schema)
    assertDataFrameEqual(spark.read.format("delta").load(url), expected_df)
    history = DeltaTable.forPath(spark, url).history().orderBy("version").collect()
    assert [(h.version, h.operation) for h in history] == [
        (0, "WRITE"),
        (1, "WRITE"),
        (2, "MERGE"),
        (3, "OPTIMIZE"),
        (4, "VACUUM START"),
        (5, "VACUUM END"),
    ]
    assert len(data_files(dfs_service, lake_stack, path)) == 1  # OPTIMIZE compacted, VACUUM removed the rest
    commits = [name for name in delta_log(dfs_service, lake_stack, path) if name.endswith(".json")]
    assert commits == [f"{v:020d}.json" for v in range(6)]


def _lifecycle(spark: SparkSession, url: str, schema: str) -> None:
    """Create, append, MERGE, read version 0, OPTIMIZE, VACUUM."""
    spark.createDataFrame([(1, "new"), (2, "new")], schema).write.format("delta").save(url)
    spark.createDataFrame([(3, "new")], schema).write.format("delta").mode("append").save(url)
    updates_df = spark.createDataFrame([(2, "shipped"), (4, "new")], schema)
    (
        DeltaTable.forPath(spark, url)
        .alias("t")
        .merge(updates_df.alias("u"), "t.order_id = u.order_id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    first_df = spark.read.format("delta").option("versionAsOf", 0).load(url)
    assertDataFrameEqual(first_df, spark.createDataFrame([(1, "new"), (2, "new")], schema))
    spark.sql(f"OPTIMIZE delta.`{url}`")
    spark.sql(f"VACUUM delta.`{url}` RETAIN 0 HOURS")


def test_racing_delta_writers_commit_every_version_once(
    abfs_spark: SparkSession, lake_stack: Settings, dfs_service: DataLakeServiceClient
):
    spark = abfs_spark
    url, path = table_location(lake_stack)
    schema = "writer STRING, batch INT"
    with session_conf(spark, SMALL_TABLE_CONF):
        _race(spark, url, schema)

    versions = [h.version for h in DeltaTable.forPath(spark, url).history().collect()]
    assert sorted(versions) == list(range(1 + 2 * 2))
    commits = [name for name in delta_log(dfs_service, lake_stack, path) if name.endswith(".json")]
    assert commits == [f"{v:020d}.json" for v in range(1 + 2 * 2)]


def _race(spark: SparkSession, url: str, schema: str) -> None:
    """Two threads append two batches each to one table, starting together."""
    spark.createDataFrame([("seed", 0)], schema).write.format("delta").save(url)
    writers, batches = ("left", "right"), 2
    start = threading.Barrier(len(writers))
    failures: list[BaseException] = []

    def write(writer: str) -> None:
        try:
            start.wait()
            for batch in range(1, batches + 1):
                frame = spark.createDataFrame([(writer, batch)], schema)
                frame.write.format("delta").mode("append").save(url)
        except BaseException as error:  # the assertion below reports it
            failures.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    rows = [("seed", 0)] + [(w, b) for w in writers for b in range(1, batches + 1)]
    assertDataFrameEqual(spark.read.format("delta").load(url), spark.createDataFrame(rows, schema))
