"""What maintenance reads from a Delta log through delta-rs agrees with Spark, on the real lake (abfs://)."""

from __future__ import annotations

from datetime import UTC, timedelta

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from infra.settings import Settings
from infra.storage import delta_io, delta_rs
from tests.conftest import with_fresh_zones


def test_table_facts_give_the_file_count_and_oldest_commit_spark_sees(
    lake_stack: Settings, spark: SparkSession
) -> None:
    settings = with_fresh_zones(lake_stack)
    url = settings.lake_url("gold", "facts")
    assert delta_rs.table_facts(settings, url) is None
    for i in range(4):
        delta_io.append(spark.createDataFrame([(i,)], "id int").coalesce(1), url)

    before = delta_rs.table_facts(settings, url)
    delta_io.optimize(spark, url)
    after = delta_rs.table_facts(settings, url)

    history = DeltaTable.forPath(spark, url).history()
    first = history.agg(F.min("timestamp")).first()[0].replace(tzinfo=UTC)  # the session time zone is UTC
    assert before is not None and after is not None
    assert (before.files, after.files) == (4, 1)
    # Spark reports the commit file's modification time (whole seconds from Azurite), delta-rs the writer's
    # commitInfo timestamp (milliseconds): the same commit, up to the rounding.
    assert before.oldest_commit == after.oldest_commit
    assert abs(before.oldest_commit - first) < timedelta(seconds=2)
    assert (delta_io.file_count(spark, url), history.count()) == (1, 5)
