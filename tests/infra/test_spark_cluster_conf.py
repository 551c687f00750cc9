"""What a session on a cluster is given: a driver address executors reach, executor memory, checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import Settings
from infra.spark import checkpoint_dir, cluster_conf, is_local_master


@pytest.mark.parametrize(
    ("master", "local"),
    [
        ("local", True),
        ("local[2]", True),
        ("local[*]", True),
        ("spark://127.0.0.1:7077", False),
        ("k8s://x", False),
    ],
)
def test_local_masters(master: str, local: bool) -> None:
    assert is_local_master(master) is local


def test_local_mode_keeps_local_checkpoints(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, spark_master="local[*]")
    assert checkpoint_dir(settings) is None
    assert cluster_conf(settings) == {
        "spark.executor.memory": "1g",
        "spark.executor.extraJavaOptions": "-XX:+UseParallelGC",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }


def test_a_cluster_checkpoints_on_the_lake(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        spark_master="spark://127.0.0.1:7077",
        spark_executor_memory="3g",
        silver_container="s",
    )
    assert cluster_conf(settings) == {
        "spark.executor.memory": "3g",
        "spark.executor.extraJavaOptions": "-XX:+UseParallelGC",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.checkpoint.dir": "abfs://s@devstoreaccount1.dfs.core.windows.net/_checkpoints",
        "spark.cleaner.referenceTracking.cleanCheckpoints": "true",
    }


def test_the_checkpoint_dir_and_driver_host_are_settings(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        spark_checkpoint_dir="abfss://silver@lake.dfs.core.windows.net/_checkpoints",
        spark_driver_host="10.0.0.5",
    )
    assert cluster_conf(settings)["spark.checkpoint.dir"] == settings.spark_checkpoint_dir
    assert cluster_conf(settings)["spark.driver.host"] == "10.0.0.5"
