"""Reads and writes of the medallion: bronze files in, Delta tables out, on any Hadoop URL.

Everything here takes URLs from the zone map (``abfs://`` locally, ``abfss://`` on Azure, ``file://`` in unit
tests) and a SparkSession; nothing decides a path itself. File listings go through Hadoop's FileSystem API,
so they work the same on every backend.

Incremental loads use a processed-file log (a Delta table): a run reads only the bronze files the log does
not hold yet, and records them only after their rows are merged into silver. A crash in between makes the
next run read those files again, and the MERGE on business keys absorbs the repeat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType


@dataclass(frozen=True)
class SourceFile:
    """A file of a bronze folder."""

    url: str
    size: int
    modified_ms: int


# --- listing ----------------------------------------------------------------------------------
def list_files(spark: SparkSession, folder_url: str, suffix: str = "") -> list[SourceFile]:
    """Files under ``folder_url`` (recursively) whose name ends with ``suffix``; empty if it is missing.

    Hidden files and folders (``_*``, ``.*``, e.g. ``_delta_log``, ``_ops``) are skipped.
    """
    jvm, conf = _hadoop(spark)
    root = jvm.org.apache.hadoop.fs.Path(folder_url)
    fs = root.getFileSystem(conf)
    if not fs.exists(root):
        return []
    found: list[SourceFile] = []
    iterator = fs.listFiles(root, True)
    root_text = root.toString().rstrip("/")
    while iterator.hasNext():
        status = iterator.next()
        path = status.getPath().toString()
        relative = path[len(root_text) :].lstrip("/")
        if any(part.startswith(("_", ".")) for part in relative.split("/")):
            continue
        if path.endswith(suffix):
            found.append(SourceFile(path, status.getLen(), status.getModificationTime()))
    return sorted(found, key=lambda f: f.url)


def _hadoop(spark: SparkSession) -> tuple[Any, Any]:
    """The JVM gateway and the Hadoop configuration of ``spark`` (for Hadoop FileSystem calls)."""
    jvm = spark.sparkContext._jvm
    if jvm is None:
        raise RuntimeError("the SparkSession has no JVM (was it stopped?)")
    return jvm, spark.sparkContext._jsc.hadoopConfiguration()


def _first_value(df: DataFrame) -> Any:
    """The first column of the first row of a one-row aggregate."""
    row = df.first()
    if row is None:
        raise ValueError("expected one row, got none")
    return row[0]


def path_exists(spark: SparkSession, url: str) -> bool:
    jvm, conf = _hadoop(spark)
    path = jvm.org.apache.hadoop.fs.Path(url)
    return bool(path.getFileSystem(conf).exists(path))


# --- reading bronze ---------------------------------------------------------------------------
def with_ingestion_metadata(df: DataFrame, load_id: str, ingested_at: datetime) -> DataFrame:
    """Add ``_source_file``, ``_load_id`` and ``_ingested_at`` (the lineage every bronze row carries)."""
    from pyspark.sql import functions as F

    return (
        df.withColumn("_source_file", F.col("_metadata.file_path"))
        .withColumn("_load_id", F.lit(load_id))
        .withColumn("_ingested_at", F.lit(ingested_at).cast("timestamp"))
    )


def read_csv(
    spark: SparkSession, urls: Sequence[str], schema: StructType, load_id: str, ingested_at: datetime
) -> DataFrame:
    """Read CSV with an explicit schema (never inferred); malformed rows land in ``_corrupt_record``."""
    reader = (
        spark.read.schema(schema)
        .option("header", "true")
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        .option("multiLine", "true")
        .option("escape", '"')
    )
    return with_ingestion_metadata(reader.csv(list(urls)), load_id, ingested_at)


def read_avro(
    spark: SparkSession, urls: Sequence[str], schema: StructType, load_id: str, ingested_at: datetime
) -> DataFrame:
    """Read Avro files (Event Hubs Capture) with an explicit schema."""
    return with_ingestion_metadata(
        spark.read.format("avro").schema(schema).load(list(urls)), load_id, ingested_at
    )


def read_parquet(
    spark: SparkSession, urls: Sequence[str], schema: StructType, load_id: str, ingested_at: datetime
) -> DataFrame:
    """Read Parquet with an explicit schema."""
    return with_ingestion_metadata(spark.read.schema(schema).parquet(*urls), load_id, ingested_at)


def read_bronze(
    spark: SparkSession,
    fmt: str,
    urls: Sequence[str],
    schema: StructType,
    load_id: str,
    ingested_at: datetime,
) -> DataFrame:
    """Read bronze files of one format (``csv``, ``avro``, ``parquet``) with their schema and metadata."""
    readers = {"csv": read_csv, "avro": read_avro, "parquet": read_parquet}
    if fmt not in readers:
        raise ValueError(f"unknown bronze format {fmt!r}; expected one of {', '.join(readers)}")
    return readers[fmt](spark, urls, schema, load_id, ingested_at)


# --- predicates (Delta's replaceWhere takes SQL text: values are always escaped here) -----------
def sql_literal(value: object) -> str:
    """A Spark SQL literal of a string or number, for predicates built in code.

    Spark SQL escapes with backslashes (two quoted strings side by side are concatenated, so doubling a
    quote would silently drop it).
    """
    if isinstance(value, bool) or value is None:
        raise TypeError(f"no SQL literal for {value!r} here; pass a string or a number")
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def equals(**columns: object) -> str:
    """``a = 'x' AND b = 'y'`` for column names of the code and escaped values."""
    return " AND ".join(f"`{name}` = {sql_literal(value)}" for name, value in columns.items())


def is_in(expression: str, values: Iterable[object]) -> str:
    """``<expression> IN (...)`` with escaped values; ``expression`` is SQL written in code, never input."""
    literals = ", ".join(sql_literal(v) for v in values)
    return f"{expression} IN ({literals})" if literals else "false"


# --- Delta tables ----------------------------------------------------------------------------
def read_delta_if_exists(spark: SparkSession, url: str) -> DataFrame | None:
    """The table, or None when there is none at ``url`` yet."""
    return spark.read.format("delta").load(url) if is_delta_table(spark, url) else None


def is_delta_table(spark: SparkSession, url: str) -> bool:
    from delta.tables import DeltaTable

    return bool(DeltaTable.isDeltaTable(spark, url))


def read_delta(spark: SparkSession, url: str, schema: StructType | None = None) -> DataFrame:
    """A Delta table, or an empty frame of ``schema`` when the table does not exist yet."""
    if not is_delta_table(spark, url):
        if schema is None:
            raise FileNotFoundError(f"no Delta table at {url}")
        return spark.createDataFrame([], schema)
    return spark.read.format("delta").load(url)


# A write option: this write shuffles its rows into bins (Delta's optimized writes) and writes a file per bin.
OPTIMIZE_WRITE = "optimizeWrite"


def overwrite(df: DataFrame, url: str, partition_by: Sequence[str] = ()) -> None:
    """Replace a table's content (schema included); earlier versions stay for time travel."""
    writer = df.write.format("delta").mode("overwrite").option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(url)


def append(
    df: DataFrame,
    url: str,
    partition_by: Sequence[str] = (),
    merge_schema: bool = False,
    properties: Mapping[str, str] | None = None,
) -> None:
    """Append ``df`` (``merge_schema``: columns the table lacks are added to it), binned into few files.

    ``properties``: table properties set when this append creates the table.
    """
    writer = (
        df.write.format("delta").mode("append").option(OPTIMIZE_WRITE, "true").options(**(properties or {}))
    )
    if merge_schema:
        writer = writer.option("mergeSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(url)


def replace_where(df: DataFrame, url: str, predicate: str, partition_by: Sequence[str] = ()) -> None:
    """Atomically replace the rows matching ``predicate`` with ``df`` (idempotent re-runs), binned into few
    files: a run's few rows are one file, not one per partition of ``df``."""
    if not is_delta_table(spark_of(df), url):
        append(df, url, partition_by)
        return
    writer = df.write.format("delta").mode("overwrite").option("replaceWhere", predicate)
    writer.option(OPTIMIZE_WRITE, "true").save(url)


# A table property: the table's writes (MERGE included) shuffle their rows into bins of up to 512 MB
# (spark.databricks.delta.optimizeWrite.binSize) and write one file per bin.
OPTIMIZED_WRITES = {"delta.autoOptimize.optimizeWrite": "true"}


def merge(
    df: DataFrame,
    url: str,
    keys: Sequence[str],
    partition_by: Sequence[str] = (),
    update_when: str | None = None,
) -> None:
    """Upsert ``df`` into the table on ``keys`` (create it on first use).

    ``update_when`` (a SQL condition over ``t`` = target and ``s`` = source) guards updates, e.g.
    ``s.updated_at >= t.updated_at`` so that a replayed older version never wins.

    The table bins what a MERGE writes into few files (Delta's optimized writes, ``OPTIMIZED_WRITES``): a
    small batch adds one file, not one per shuffle partition of ``df`` (eight at SF1, which made every
    incremental run compact every merged table). A table created before this gets the property once.
    """
    from delta.tables import DeltaTable

    spark = spark_of(df)
    if not is_delta_table(spark, url):
        append(df, url, partition_by, properties=OPTIMIZED_WRITES)
        return
    table = DeltaTable.forPath(spark, url)
    properties = table.detail().select("properties").first()
    if properties is None or any(properties[0].get(k) != v for k, v in OPTIMIZED_WRITES.items()):
        settings = ", ".join(f"'{k}' = '{v}'" for k, v in OPTIMIZED_WRITES.items())
        spark.sql(f"ALTER TABLE delta.`{url}` SET TBLPROPERTIES ({settings})")
    condition = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
    (
        table.alias("t")
        .merge(df.alias("s"), condition)
        .whenMatchedUpdateAll(condition=update_when)
        .whenNotMatchedInsertAll()
        .execute()
    )


def table_version(spark: SparkSession, url: str) -> int | None:
    from delta.tables import DeltaTable

    if not is_delta_table(spark, url):
        return None
    return int(_first_value(DeltaTable.forPath(spark, url).history(1).select("version")))


def content_checksum(spark: SparkSession, url: str) -> str:
    """An order-independent checksum of a table's rows: equal content gives an equal checksum."""
    from pyspark.sql import functions as F

    df = spark.read.format("delta").load(url)
    row_hash = F.sha2(F.to_json(F.struct(*[F.col(f"`{c}`") for c in sorted(df.columns)])), 256)
    hashes = sorted(r[0] for r in df.select(row_hash).collect())
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()


def optimize(spark: SparkSession, url: str, zorder_by: Sequence[str] = ()) -> None:
    """Compact small files (Z-order where it helps queries that filter on ``zorder_by``)."""
    from delta.tables import DeltaTable

    builder = DeltaTable.forPath(spark, url).optimize()
    if zorder_by:
        builder.executeZOrderBy(*zorder_by)
    else:
        builder.executeCompaction()


def vacuum(
    spark: SparkSession, url: str, retention_hours: float, oldest_commit: datetime | None = None
) -> bool:
    """Delete files no version within ``retention_hours`` needs (time travel keeps that window).

    Skipped (False) when every commit is younger than the window: then no file can be old enough. A full
    VACUUM (not LITE) also removes files that crashed writers left behind without committing them. A caller
    that read the ``oldest_commit`` from the log already (delta-rs) saves the Spark job reading the history.
    """
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    oldest = oldest_commit or _first_value(DeltaTable.forPath(spark, url).history().agg(F.min("timestamp")))
    if oldest is not None and (datetime.now(oldest.tzinfo) - oldest).total_seconds() < retention_hours * 3600:
        return False
    DeltaTable.forPath(spark, url).vacuum(retention_hours)
    return True


def file_count(spark: SparkSession, url: str) -> int:
    """Data files of the table's current version."""
    return int(_first_value(spark.sql(f"DESCRIBE DETAIL delta.`{url}`").select("numFiles")))


def spark_of(df: DataFrame) -> SparkSession:
    return df.sparkSession


# --- processed-file log ----------------------------------------------------------------------
PROCESSED_LOG_DDL = (
    "source string, file_url string, size long, modified_ms long, load_id string, processed_at timestamp"
)


def unprocessed_files(
    spark: SparkSession, log_url: str, source: str, files: Sequence[SourceFile]
) -> list[SourceFile]:
    """The ``files`` of ``source`` that no earlier run has merged (a rewritten file counts as new)."""
    from pyspark.sql import functions as F

    if not is_delta_table(spark, log_url):
        return list(files)
    rows = (
        spark.read.format("delta")
        .load(log_url)
        .where(F.col("source") == source)
        .select("file_url", "size", "modified_ms")
        .collect()
    )
    done = {(r[0], r[1], r[2]) for r in rows}
    return [f for f in files if (f.url, f.size, f.modified_ms) not in done]


def unprocessed_by_source(
    spark: SparkSession, log_url: str, listed: Mapping[str, Sequence[SourceFile]]
) -> dict[str, list[SourceFile]]:
    """:func:`unprocessed_files` for several sources with one read of the log."""
    from pyspark.sql import functions as F

    if not is_delta_table(spark, log_url):
        return {source: list(files) for source, files in listed.items()}
    rows = (
        spark.read.format("delta")
        .load(log_url)
        .where(F.col("source").isin(list(listed)))
        .select("source", "file_url", "size", "modified_ms")
        .collect()
    )
    done = {(r[0], r[1], r[2], r[3]) for r in rows}
    return {
        source: [f for f in files if (source, f.url, f.size, f.modified_ms) not in done]
        for source, files in listed.items()
    }


def record_processed(
    spark: SparkSession,
    log_url: str,
    source: str,
    files: Iterable[SourceFile],
    load_id: str,
    processed_at: datetime,
) -> None:
    """Remember that ``files`` of ``source`` are merged (MERGE: recording twice keeps one row)."""
    rows = [(source, f.url, f.size, f.modified_ms, load_id, processed_at) for f in files]
    if not rows:
        return
    keys = ("source", "file_url", "size", "modified_ms")
    merge(spark.createDataFrame(rows, PROCESSED_LOG_DDL), log_url, keys=keys)


def record_processed_loads(
    spark: SparkSession,
    log_url: str,
    loads: Iterable[tuple[str, Iterable[SourceFile], str, datetime]],
) -> None:
    """:func:`record_processed` for several ``(source, files, load_id, processed_at)`` in one commit."""
    rows = [
        (source, f.url, f.size, f.modified_ms, load_id, at)
        for source, files, load_id, at in loads
        for f in files
    ]
    if rows:
        keys = ("source", "file_url", "size", "modified_ms")
        merge(spark.createDataFrame(rows, PROCESSED_LOG_DDL), log_url, keys=keys)
