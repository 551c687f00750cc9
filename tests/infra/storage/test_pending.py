"""The Spark-free check for new bronze files agrees exactly with the Spark path, on the real lake.

Both read the same files through the DFS endpoint: the SDK listing and the delta-rs read of the processed-file
log must give the URLs, sizes and times that Hadoop's ABFS driver and Spark give, or a run with nothing new
would take the slow path (and a run with something new must never be told otherwise).
"""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import SparkSession

from infra import zones
from infra.settings import Settings
from infra.storage import delta_io, pending
from infra.storage.lake import Lake
from tests.conftest import with_fresh_zones

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FILES = (
    "orders/2026-01-01/part-1.csv",
    "orders/2026-01-02/part-2.csv",
    "orders/2026-01-02/notes.json",
    "orders/_tmp/part-3.csv",
    "orders/.hidden.csv",
    "orders/2026-01-02/_SUCCESS",
    "customers/part-1.csv",
)


def test_sdk_listing_and_delta_rs_log_agree_with_spark(lake_stack: Settings, spark: SparkSession) -> None:
    settings = with_fresh_zones(lake_stack)
    with Lake(settings) as lake:
        for i, path in enumerate(FILES):
            lake.write_bytes("bronze", path, b"x" * (i + 1))
        listed = {
            e: pending.list_source_files(lake, "bronze", e, ".csv") for e in ("orders", "customers", "none")
        }
    by_spark = {e: delta_io.list_files(spark, zones.bronze_url(settings, e), ".csv") for e in listed}
    assert listed == by_spark
    assert [f.url.rsplit("/", 2)[-2:] for f in listed["orders"]] == [
        ["2026-01-01", "part-1.csv"],
        ["2026-01-02", "part-2.csv"],
    ]
    assert all(f.modified_ms > 0 and f.modified_ms % 1000 == 0 for f in listed["orders"])

    log_url = zones.ops_url(settings, "processed_files")
    assert pending.unprocessed_by_source(settings, log_url, listed) == listed  # no log yet
    delta_io.record_processed(spark, log_url, "orders", listed["orders"][:1], "load-1", NOW)
    expected = delta_io.unprocessed_by_source(spark, log_url, listed)
    assert expected == {"orders": listed["orders"][1:], "customers": listed["customers"], "none": []}
    assert pending.unprocessed_by_source(settings, log_url, listed) == expected

    with Lake(settings) as lake:  # rewritten in place: new again for both
        lake.write_bytes("bronze", FILES[0], b"rewritten")
        again = {"orders": pending.list_source_files(lake, "bronze", "orders", ".csv")}
    assert again == {"orders": delta_io.list_files(spark, zones.bronze_url(settings, "orders"), ".csv")}
    assert pending.unprocessed_by_source(settings, log_url, again) == delta_io.unprocessed_by_source(
        spark, log_url, again
    )
    assert len(pending.unprocessed_by_source(settings, log_url, again)["orders"]) == 2
