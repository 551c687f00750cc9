"""The medallion's IO helpers on local disk: listings, CSV with corrupt records, MERGE, logs, checksums."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.testing import assertDataFrameEqual

from infra.storage import delta_io

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_list_files_skips_hidden_folders_and_filters_suffix(spark: SparkSession, tmp_path: Path) -> None:
    for name in ("a/1.csv", "a/b/2.csv", "a/3.json", "_ops/log.csv", "a/_tmp/4.csv", "a/.5.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    found = delta_io.list_files(spark, tmp_path.as_uri(), ".csv")
    assert [f.url.split(tmp_path.name)[-1] for f in found] == ["/a/1.csv", "/a/b/2.csv"]
    assert [f.size for f in found] == [1, 1]
    assert delta_io.list_files(spark, (tmp_path / "missing").as_uri()) == []


def test_read_csv_keeps_malformed_rows_with_lineage(spark: SparkSession, tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    source.write_text('order_id,quantity\nO1,2\nO2,"3\nO3,4,extra\n')
    schema = "order_id string, quantity string, _corrupt_record string"
    from pyspark.sql.types import StructType

    df = delta_io.read_csv(spark, [source.as_uri()], StructType.fromDDL(schema), "load-1", NOW)
    rows = sorted(
        (
            r.order_id,
            r.quantity,
            r._corrupt_record is not None,
            r._load_id,
            r._source_file.endswith("orders.csv"),
        )
        for r in df.collect()
    )
    assert rows == [
        ("O1", "2", False, "load-1", True),
        ("O2", "3\nO3,4,extra\n", False, "load-1", True),
    ]


def test_merge_upserts_and_guards_older_versions(spark: SparkSession, tmp_path: Path) -> None:
    url = str(tmp_path / "customers")
    ddl = "customer_id string, segment string, updated_at int"
    delta_io.merge(
        spark.createDataFrame([("C1", "consumer", 1), ("C2", "enterprise", 1)], ddl), url, ["customer_id"]
    )
    updates = spark.createDataFrame(
        [("C1", "enterprise", 2), ("C2", "consumer", 0), ("C3", "consumer", 1)], ddl
    )
    delta_io.merge(updates, url, ["customer_id"], update_when="s.updated_at >= t.updated_at")
    expected = [("C1", "enterprise", 2), ("C2", "enterprise", 1), ("C3", "consumer", 1)]
    assertDataFrameEqual(spark.read.format("delta").load(url), expected)
    assert delta_io.table_version(spark, url) == 1


def test_merges_appends_and_replacements_add_one_file_whatever_the_partitions_of_their_frame(
    spark: SparkSession, tmp_path: Path
) -> None:
    ddl = "id int, batch int"

    def batch(ids: range, number: int) -> DataFrame:
        return spark.createDataFrame([(i, number) for i in ids], ddl).repartition(8, "id")  # 8 partitions

    merged = str(tmp_path / "merged")
    delta_io.merge(batch(range(100), 0), merged, ["id"])
    delta_io.merge(batch(range(95, 120), 1), merged, ["id"])  # 5 updates rewrite the file, with 20 inserts
    delta_io.merge(batch(range(120, 130), 2), merged, ["id"])  # inserts only: one file more
    assert delta_io.file_count(spark, merged) == 2
    expected = (
        [(i, 0) for i in range(95)] + [(i, 1) for i in range(95, 120)] + [(i, 2) for i in range(120, 130)]
    )
    assertDataFrameEqual(spark.read.format("delta").load(merged), expected)

    # A table written before (eight files, no property) gets the property at its next merge.
    older = str(tmp_path / "older")
    batch(range(100), 0).write.format("delta").save(older)
    delta_io.merge(batch(range(100, 110), 1), older, ["id"])
    properties = spark.sql(f"DESCRIBE DETAIL delta.`{older}`").first()["properties"]
    assert delta_io.file_count(spark, older) == 9
    assert properties["delta.autoOptimize.optimizeWrite"] == "true"

    appended, replaced = str(tmp_path / "appended"), str(tmp_path / "replaced")
    for number in range(2):
        delta_io.append(batch(range(50), number), appended)
        delta_io.replace_where(
            batch(range(50), number).where(f"batch = {number}"), replaced, f"batch = {number}"
        )
    assert (delta_io.file_count(spark, appended), delta_io.file_count(spark, replaced)) == (2, 2)


def test_replace_where_is_idempotent(spark: SparkSession, tmp_path: Path) -> None:
    url = str(tmp_path / "quarantine")
    ddl = "source_file string, reason string"
    batch = spark.createDataFrame([("f1", "a"), ("f1", "b")], ddl)
    for _ in range(2):
        delta_io.replace_where(batch, url, "source_file IN ('f1')")
    delta_io.replace_where(spark.createDataFrame([("f2", "c")], ddl), url, "source_file IN ('f2')")
    assertDataFrameEqual(spark.read.format("delta").load(url), [("f1", "a"), ("f1", "b"), ("f2", "c")])


def test_processed_log_returns_only_new_or_rewritten_files(spark: SparkSession, tmp_path: Path) -> None:
    log = str(tmp_path / "processed")
    a, b = delta_io.SourceFile("abfs://x/a.csv", 10, 1), delta_io.SourceFile("abfs://x/b.csv", 20, 1)
    assert delta_io.unprocessed_files(spark, log, "orders", [a, b]) == [a, b]
    delta_io.record_processed(spark, log, "orders", [a], "load-1", NOW)
    delta_io.record_processed(spark, log, "orders", [a], "load-1", NOW)  # a replay records nothing new
    assert delta_io.unprocessed_files(spark, log, "orders", [a, b]) == [b]
    assert delta_io.unprocessed_files(spark, log, "customers", [a]) == [a]
    rewritten = delta_io.SourceFile("abfs://x/a.csv", 11, 2)
    assert delta_io.unprocessed_files(spark, log, "orders", [rewritten]) == [rewritten]
    assert spark.read.format("delta").load(log).count() == 1


def test_checksum_ignores_row_order_and_file_layout(spark: SparkSession, tmp_path: Path) -> None:
    ddl = "id int, name string"
    one, two, three = str(tmp_path / "one"), str(tmp_path / "two"), str(tmp_path / "three")
    delta_io.overwrite(spark.createDataFrame([(1, "a"), (2, "b")], ddl).repartition(1), one)
    delta_io.overwrite(spark.createDataFrame([(2, "b"), (1, "a")], ddl).repartition(2), two)
    delta_io.overwrite(spark.createDataFrame([(1, "a"), (2, "B")], ddl), three)
    assert delta_io.content_checksum(spark, one) == delta_io.content_checksum(spark, two)
    assert delta_io.content_checksum(spark, one) != delta_io.content_checksum(spark, three)


def test_optimize_compacts_and_vacuum_keeps_the_snapshot(spark: SparkSession, tmp_path: Path) -> None:
    url = str(tmp_path / "facts")
    for i in range(4):
        delta_io.append(spark.createDataFrame([(i,)], "id int").coalesce(1), url)
    (Path(url) / "part-orphan-of-a-crashed-writer.snappy.parquet").write_bytes(b"never committed")
    delta_io.optimize(spark, url, zorder_by=["id"])
    assert delta_io.file_count(spark, url) == 1
    parquet_before = len(list(Path(url).glob("*.parquet")))
    spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    try:
        delta_io.vacuum(spark, url, retention_hours=0)
    finally:
        spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "true")
    # The four appended files and the orphan are gone from disk; only the compacted file stays.
    assert (parquet_before, len(list(Path(url).glob("*.parquet")))) == (6, 1)
    assertDataFrameEqual(spark.read.format("delta").load(url), [(0,), (1,), (2,), (3,)])
