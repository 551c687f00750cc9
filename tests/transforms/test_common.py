"""transforms.common: freezing a DataFrame and counting it in the same job."""

from __future__ import annotations

import uuid

from pyspark.sql import SparkSession
from pyspark.testing import assertDataFrameEqual

from transforms.common import freeze_counted


def test_freeze_counted_counts_the_rows_it_froze_in_the_freezing_job(spark: SparkSession) -> None:
    group = f"freeze-{uuid.uuid4().hex}"
    spark.sparkContext.setJobGroup(group, "freeze_counted")
    try:
        frozen_df, rows = freeze_counted(spark.range(10).where("id % 3 = 0"))
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)  # type: ignore[arg-type]  # None clears it
    assert rows == 4
    assert len(spark.sparkContext.statusTracker().getJobIdsForGroup(group)) == 1
    assertDataFrameEqual(frozen_df, spark.createDataFrame([(0,), (3,), (6,), (9,)], "id long"))


def test_freeze_counted_of_no_rows_is_zero(spark: SparkSession) -> None:
    frozen_df, rows = freeze_counted(spark.range(5).where("id > 9"))
    assert rows == 0
    assert frozen_df.collect() == []
