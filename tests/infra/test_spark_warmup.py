"""The driver warm-up on the test session: every step runs, it stops when asked, and it leaves nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from infra.spark_warmup import warm_up

pytestmark = pytest.mark.spark


def test_a_warm_up_runs_every_step_and_leaves_no_file_and_no_setting(
    spark: SparkSession, tmp_path: Path
) -> None:
    partitions = spark.conf.get("spark.sql.shuffle.partitions")
    done = warm_up(spark, scratch_parent=tmp_path)
    assert (done.steps, done.planned, done.complete) == (6, 6, True)
    assert list(tmp_path.iterdir()) == []
    assert spark.conf.get("spark.sql.shuffle.partitions") == partitions  # it used a session of its own


def test_a_warm_up_stops_between_two_steps_when_asked(spark: SparkSession, tmp_path: Path) -> None:
    asked: list[int] = []

    def stop_after_two_steps() -> bool:
        asked.append(1)
        return len(asked) > 2

    done = warm_up(spark, should_stop=stop_after_two_steps, rounds=2, scratch_parent=tmp_path)
    assert (done.steps, done.planned, done.complete) == (2, 12, False)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_warm_up_is_logged_not_raised(spark: SparkSession, tmp_path: Path, caplog) -> None:
    def stop_check_that_breaks() -> bool:
        raise OSError("the scratch disk is full")

    with caplog.at_level(logging.WARNING, logger="infra.spark_warmup"):
        done = warm_up(spark, should_stop=stop_check_that_breaks, scratch_parent=tmp_path)
    assert done.steps == 0
    assert "Spark warm-up stopped after 0 of 6 steps: the scratch disk is full" in caplog.text
    assert list(tmp_path.iterdir()) == []
