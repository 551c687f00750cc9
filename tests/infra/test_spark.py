"""The session factory: Delta (write, read, MERGE, time travel), Avro and Power-BI-safe table defaults."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from infra.settings import PROJECT_ROOT, Settings
from infra.spark import (
    ADAPTIVE,
    CODEGEN_MODE,
    SHUFFLE_PARTITIONS,
    SPARK_PACKAGES,
    cached_jars,
    class_archive,
    storage_conf,
    tune_for_volume,
    volume_conf,
)


def test_delta_round_trip_on_local_disk(spark: SparkSession, tmp_path: Path) -> None:
    from delta.tables import DeltaTable

    path = str(tmp_path / "orders")
    spark.createDataFrame([("O1", 10), ("O2", 20)], "order_id string, quantity int").write.format(
        "delta"
    ).save(path)
    updates = spark.createDataFrame([("O2", 25), ("O3", 30)], "order_id string, quantity int")
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(updates.alias("u"), "t.order_id = u.order_id")
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    current = spark.read.format("delta").load(path)
    assertDataFrameEqual(current, [("O1", 10), ("O2", 25), ("O3", 30)])
    first = spark.read.format("delta").option("versionAsOf", 0).load(path)
    assertDataFrameEqual(first, [("O1", 10), ("O2", 20)])
    history = DeltaTable.forPath(spark, path).history().select("version", "operation").orderBy("version")
    assert [tuple(r) for r in history.collect()] == [(0, "WRITE"), (1, "MERGE")]


def test_new_tables_stay_readable_by_power_bi(spark: SparkSession, tmp_path: Path) -> None:
    from delta.tables import DeltaTable

    path = str(tmp_path / "gold_table")
    spark.range(3).write.format("delta").save(path)
    detail = DeltaTable.forPath(spark, path).detail().select("minReaderVersion", "minWriterVersion").first()
    assert (detail.minReaderVersion, detail.minWriterVersion) == (1, 2)
    properties = DeltaTable.forPath(spark, path).detail().first().properties
    assert properties.get("delta.enableDeletionVectors", "false") == "false"


def test_avro_round_trip(spark: SparkSession, tmp_path: Path) -> None:
    rows = [(1, b'{"a":1}', {"x-opt-partition-key": "P1"})]
    df = spark.createDataFrame(rows, "SequenceNumber long, Body binary, SystemProperties map<string,string>")
    df.write.format("avro").save(str(tmp_path / "capture"))
    assertDataFrameEqual(spark.read.format("avro").load(str(tmp_path / "capture")), df)


def test_jars_are_cached_for_offline_runs(spark: SparkSession, stack_settings: Settings) -> None:
    jars = cached_jars(stack_settings) or cached_jars(Settings())
    assert jars is not None
    names = {Path(j).name for j in jars}
    for package in SPARK_PACKAGES:
        group, artifact, version = package.split(":")
        assert f"{group}_{artifact}-{version}.jar" in names


def test_the_driver_starts_from_the_class_archive_of_set_up(spark: SparkSession, tmp_path: Path) -> None:
    """Set-up archived the driver's classes; this session's JVM was started with that archive, and the JVM
    accepts it for its own build and class path (``-Xshare:on`` refuses an archive it would ignore, as for
    another class path)."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    archive = class_archive(Settings())
    arguments = list(jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
    assert f"-XX:SharedArchiveFile={archive}" in arguments
    java = Path(jvm.java.lang.System.getProperty("java.home")) / "bin" / "java"
    class_path = jvm.java.lang.System.getProperty("java.class.path")
    check = [str(java), "-Xshare:on", f"-XX:SharedArchiveFile={archive}", "-cp", class_path, "-version"]
    accepted = subprocess.run(check, capture_output=True, text=True, timeout=60)
    assert accepted.returncode == 0, accepted.stderr
    refused = subprocess.run(
        [*check[:4], f"{tmp_path}:{class_path}", "-version"], capture_output=True, text=True, timeout=60
    )
    assert "Unable to use shared archive" in refused.stdout + refused.stderr


def test_storage_conf_per_profile() -> None:
    local = storage_conf(Settings(dfs_port=12000))
    assert local["spark.hadoop.fs.azure.abfs.endpoint"] == "127.0.0.1:12000"
    assert local["spark.hadoop.fs.azure.account.auth.type"] == "SharedKey"
    azure = storage_conf(Settings(profile="azure", storage_account="contosolake"))
    assert azure["spark.hadoop.fs.azure.account.auth.type.contosolake.dfs.core.windows.net"] == "OAuth"
    assert not any("account.key" in key for key in azure)
    assert "spark.hadoop.fs.azure.abfs.endpoint" not in azure


def test_a_small_lake_runs_interpreted_static_plans_and_a_large_one_compiled_adaptive_plans() -> None:
    settings = Settings(spark_interpreted_below_mb=32, spark_shuffle_partitions=8)
    small = {CODEGEN_MODE: "NO_CODEGEN", ADAPTIVE: "false", SHUFFLE_PARTITIONS: "1"}
    assert volume_conf(0, settings) == small
    assert volume_conf(32 * 2**20 - 1, settings) == small
    assert volume_conf(32 * 2**20, settings) == {
        CODEGEN_MODE: "FALLBACK",
        ADAPTIVE: "true",
        SHUFFLE_PARTITIONS: "8",
    }
    chosen = Settings(spark_conf={CODEGEN_MODE: "CODEGEN_ONLY", ADAPTIVE: "true"})
    assert volume_conf(0, chosen) == {CODEGEN_MODE: "CODEGEN_ONLY", ADAPTIVE: "true", SHUFFLE_PARTITIONS: "1"}


def test_the_chosen_settings_are_set_on_the_session_and_results_do_not_change(spark: SparkSession) -> None:
    def totals() -> list[tuple[int, int]]:
        df = spark.range(1_000).select((F.col("id") % 7).alias("k"), F.col("id"))
        return [tuple(r) for r in df.groupBy("k").agg(F.sum("id")).orderBy("k").collect()]

    settings = Settings(spark_interpreted_below_mb=1, spark_shuffle_partitions=3)
    keys = (CODEGEN_MODE, ADAPTIVE, SHUFFLE_PARTITIONS)
    before = {key: spark.conf.get(key) for key in keys}
    try:
        small = tune_for_volume(spark, 0, settings)
        assert {key: spark.conf.get(key) for key in keys} == small == volume_conf(0, settings)
        interpreted = totals()
        large = tune_for_volume(spark, 2**20, settings)
        assert {key: spark.conf.get(key) for key in keys} == large == volume_conf(2**20, settings)
        assert totals() == interpreted == [(k, sum(range(k, 1_000, 7))) for k in range(7)]
    finally:
        for key, value in before.items():
            spark.conf.set(key, value)


def test_the_jvm_logs_to_the_state_folder_not_the_terminal(
    spark: SparkSession, stack_settings: Settings
) -> None:
    log = stack_settings.logs_dir / "spark.log"
    before = log.read_text() if log.exists() else ""
    marker = f"lakehouse-log-check-{uuid.uuid4().hex}"
    spark.sparkContext._jvm.org.apache.logging.log4j.LogManager.getLogger("lakehouse.test").warn(marker)
    spark.range(3).withColumn("n", F.row_number().over(Window.orderBy("id"))).collect()
    added = log.read_text()[len(before) :]
    assert f"WARN test: {marker}" in added
    assert "WARN WindowExec: No Partition Defined for Window operation" in added


def test_the_driver_jvm_runs_the_throughput_collector(spark: SparkSession) -> None:
    """The session's own JVM, asked through its management beans: ParallelGC's two collectors, not G1's."""
    jvm = spark.sparkContext._jvm
    beans = jvm.java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()
    assert sorted(bean.getName() for bean in beans) == ["PS MarkSweep", "PS Scavenge"]


def test_python_workers_run_this_interpreter_not_the_python3_on_path(tmp_path: Path) -> None:
    """A ``python3`` first on PATH that is not this interpreter (Ubuntu 24.04's 3.12 beside a 3.11 .venv).

    pyspark's default starts workers with it; a DataFrame from Python rows needs a worker. A fresh process,
    because a session's worker daemon outlives its PATH.
    """
    fake = tmp_path / "bin" / "python3"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'the python3 on PATH ran a Spark worker' >&2\nexit 3\n")
    fake.chmod(0o755)
    script = (
        "from infra.settings import get_settings\n"
        "from infra.spark import build_spark_session\n"
        "spark = build_spark_session(get_settings())\n"
        "print(sorted(spark.createDataFrame([(2, 'b'), (1, 'a')], 'n int, s string').collect()))\n"
    )
    env = os.environ | {
        "PATH": f"{fake.parent}:{os.environ['PATH']}",
        "LAKEHOUSE_STATE_DIR": str(tmp_path / "state"),
        "LAKEHOUSE_SPARK_MASTER": "local[1]",
        "LAKEHOUSE_SPARK_SHARED_DRIVER": "false",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "[Row(n=1, s='a'), Row(n=2, s='b')]"
