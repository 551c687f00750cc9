"""The one SparkSession factory: Delta, Avro and ABFS, configured for the active profile.

Nothing here runs at import time. :func:`build_spark_session` is called once per process (a flow run, a test
session, a notebook) and the session is shared by every transform of that run.

Jars: the first call resolves the Maven packages with Spark's Ivy into ``.cache/ivy`` (git-ignored) and
records the resolved jar paths in ``.cache/spark-jars.txt``. Later calls pass those paths as ``spark.jars``,
so no resolution (and no network) happens again. ``python -m infra.spark`` does the resolution as a set-up
step, and then records the driver's classes in a Class Data Sharing archive (:func:`archive_classes`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from infra.settings import Settings, get_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Maven Central serves delta-spark 4.4.0 (not 4.4.1) and spark-avro up to 4.1.1 (no 4.2.0 artifact) here;
# spark-avro 4.1.1 reads and writes Avro under Spark 4.2.0 (tests/infra/test_spark.py covers it).
DELTA_PACKAGE = "io.delta:delta-spark_4.2_2.13:4.4.0"
AVRO_PACKAGE = "org.apache.spark:spark-avro_2.13:4.1.1"
# hadoop-azure must match the Hadoop bundled in pyspark 4.2.0 (3.5.0): it holds the ABFS driver.
HADOOP_AZURE_PACKAGE = "org.apache.hadoop:hadoop-azure:3.5.0"
SPARK_PACKAGES = (DELTA_PACKAGE, AVRO_PACKAGE, HADOOP_AZURE_PACKAGE)
LOG4J_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
# Delta's kernel modules drag older Hadoop/Parquet/Jackson/log4j jars that pyspark already ships newer.
SPARK_JAR_EXCLUDES = (
    "org.apache.hadoop:hadoop-client-runtime",
    "org.apache.hadoop:hadoop-client-api",
    "org.apache.parquet:parquet-hadoop",
    "org.apache.parquet:parquet-column",
    "org.apache.parquet:parquet-common",
    "org.apache.parquet:parquet-encoding",
    "org.apache.parquet:parquet-format-structures",
    "org.apache.parquet:parquet-jackson",
    "com.fasterxml.jackson.core:jackson-databind",
    "com.fasterxml.jackson.core:jackson-core",
    "com.fasterxml.jackson.core:jackson-annotations",
    "org.apache.logging.log4j:log4j-slf4j2-impl",
    "org.apache.logging.log4j:log4j-api",
    "org.apache.logging.log4j:log4j-core",
    "org.slf4j:slf4j-api",
)


def jars_manifest(settings: Settings) -> Path:
    return settings.jars_cache_dir / "spark-jars.txt"


def cached_jars(settings: Settings) -> list[str] | None:
    """The resolved jar paths, if a previous resolution for the same packages left them all in place."""
    manifest = jars_manifest(settings)
    if not manifest.exists():
        return None
    lines = manifest.read_text().splitlines()
    if not lines or lines[0] != "# " + ",".join(SPARK_PACKAGES):
        return None
    jars = [line for line in lines[1:] if line.strip()]
    if not jars or not all(Path(j).exists() for j in jars):
        return None
    return jars


def storage_conf(settings: Settings) -> dict[str, str]:
    """Hadoop ABFS settings for the active profile, as ``spark.hadoop.*`` keys."""
    if settings.storage_backend == "file":
        return {}
    host = f"{settings.storage_account}.dfs.core.windows.net"
    conf = {"spark.hadoop.fs.azure.account.hns.enabled": "true"}
    if settings.is_local:
        key = settings.storage_key.get_secret_value() if settings.storage_key else ""
        conf |= {
            # ABFS sends http://<endpoint>/<account>/<fs>/<path> when an endpoint is set.
            "spark.hadoop.fs.azure.abfs.endpoint": settings.dfs_hostport,
            "spark.hadoop.fs.azure.always.use.https": "false",
            "spark.hadoop.fs.azure.account.auth.type": "SharedKey",
            f"spark.hadoop.fs.azure.account.key.{host}": key,
            "spark.hadoop.fs.azure.account.expect.header.enabled": "false",
            # Hadoop 3.5's default ABFS HTTP client (Apache) refuses plain http ("SSL socket factory may
            # not be null"); the JDK client serves the local endpoint. Its metrics thread would also post
            # to the account at shutdown.
            "spark.hadoop.fs.azure.networking.library": "JDK_HTTP_URL_CONNECTION",
            "spark.hadoop.fs.azure.metrics.collection.enabled": "false",
        }
    else:
        # Azure: OAuth through the identity the cluster runs as (managed identity / workload identity).
        # The ABFS driver's own token providers cover service principals and managed identities.
        conf |= {
            f"spark.hadoop.fs.azure.account.auth.type.{host}": "OAuth",
            f"spark.hadoop.fs.azure.account.oauth.provider.type.{host}": (
                "org.apache.hadoop.fs.azurebfs.oauth2.MsiTokenProvider"
            ),
        }
        if settings.managed_identity_client_id:
            # A user-assigned identity: name it, or the metadata endpoint may pick another one.
            client_id = settings.managed_identity_client_id
            conf[f"spark.hadoop.fs.azure.account.oauth2.client.id.{host}"] = client_id
    return conf


def is_local_master(master: str) -> bool:
    """True for ``local``, ``local[n]``, ``local[*]``...: executors run inside the driver's JVM."""
    return master == "local" or master.startswith("local[")


def checkpoint_dir(settings: Settings) -> str | None:
    """Where reliable checkpoints go: the setting, else on a cluster ``silver/_checkpoints`` on the lake.

    In local mode none is set: executors are the driver, so a local checkpoint is lost only with the
    whole run. On a cluster an executor can die alone and take its local checkpoints with it; every
    executor and the driver reach the lake, so that is where the checkpoint files go.
    """
    if settings.spark_checkpoint_dir:
        return settings.spark_checkpoint_dir
    if is_local_master(settings.spark_master):
        return None
    return settings.lake_url("silver", "_checkpoints")


# The throughput collector for the driver and executors. Spark's batch work wants throughput, not G1's short
# pauses, and on two cores G1's concurrent threads and write barriers compete with the tasks: a cold SF0.01
# medallion over abfs:// took 110.7-119.6 s with it against 134.8-143.6 s with the default G1 (2026-12-03,
# interleaved, one process each). ``LAKEHOUSE_SPARK_CONF`` may set other JVM options (they replace these).
JVM_OPTIONS = "-XX:+UseParallelGC"


def cluster_conf(settings: Settings) -> dict[str, str]:
    """What executors outside the driver's JVM need: the driver's reachable address, memory, checkpoints.

    Jars (``spark.jars``) are served by the driver to every executor and ``spark.hadoop.*`` reaches each
    executor's Hadoop configuration, so Delta, Avro and ABFS need nothing more here.
    """
    conf = {
        "spark.executor.memory": settings.spark_executor_memory,
        "spark.executor.extraJavaOptions": JVM_OPTIONS,
    }
    if settings.spark_driver_host:
        conf |= {
            "spark.driver.host": settings.spark_driver_host,
            "spark.driver.bindAddress": settings.spark_driver_host,
        }
    directory = checkpoint_dir(settings)
    if directory:
        # Checkpoint files of a DataFrame nobody references any more are deleted, not left on the lake.
        conf |= {
            "spark.checkpoint.dir": directory,
            "spark.cleaner.referenceTracking.cleanCheckpoints": "true",
        }
    return conf


CODEGEN_MODE = "spark.sql.codegen.factoryMode"
ADAPTIVE = "spark.sql.adaptive.enabled"
SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"


def is_small_lake(volume_bytes: int, settings: Settings) -> bool:
    """True below ``spark_interpreted_below_mb`` of input: fixed costs per query outweigh the rows."""
    return volume_bytes < settings.spark_interpreted_below_mb * 2**20


def volume_conf(volume_bytes: int, settings: Settings) -> dict[str, str]:
    """The runtime SQL settings for a run over ``volume_bytes`` of input; ``spark_conf`` entries win.

    On a small lake a medallion pass is thousands of tiny queries, and its time is what each costs to plan,
    not the rows:

    * Projections outside whole-stage code (file scans, Delta's log replay, shuffle writes) are compiled for
      each task by default. At SF0.01 the JIT threads were half of the JVM's CPU, and interpreting them
      (``NO_CODEGEN``) made a 10-row Delta append 1.2x and the medallion 1.1-1.2x faster. On volume it
      costs: a 3M-row join and rewrite ran 2.8x slower.
    * Adaptive execution re-plans after every shuffle stage and runs each stage as a job of its own (half of
      an SF0.01 pass's Spark jobs); with one shuffle partition there is nothing for it to coalesce or
      balance. A static plan over one partition does the same work in fewer, cheaper jobs.

    Above the threshold, projections are generated and execution is adaptive over
    ``spark_shuffle_partitions``.
    """
    small = is_small_lake(volume_bytes, settings)
    conf = {
        CODEGEN_MODE: "NO_CODEGEN" if small else "FALLBACK",
        ADAPTIVE: "false" if small else "true",
        SHUFFLE_PARTITIONS: "1" if small else str(settings.spark_shuffle_partitions),
    }
    return {key: settings.spark_conf.get(key, value) for key, value in conf.items()}


def tune_for_volume(spark: SparkSession, volume_bytes: int, settings: Settings) -> dict[str, str]:
    """Set :func:`volume_conf` for ``volume_bytes`` on the running session; returns what it set."""
    conf = volume_conf(volume_bytes, settings)
    for key, value in conf.items():
        spark.conf.set(key, value)
    return conf


def build_spark_session(
    settings: Settings | None = None,
    app_name: str = "lakehouse",
    extra_conf: dict[str, str] | None = None,
) -> SparkSession:
    """Build (or return the running) SparkSession with Delta, Avro and ABFS for ``settings``.

    A process has one session: once it runs, every call returns it as it is, so that what a run tuned on it
    (:func:`tune_for_volume`) holds for the whole run. Two threads asking at once get the same session.

    Gold must stay readable by Power BI's Delta connector, so new tables get no deletion vectors and no column
    mapping (reader 1 / writer 2), and timestamps are written as plain ``timestamp`` in UTC.
    """
    with _BUILD_LOCK:
        running = _running_session()
        return running if running is not None else _build(settings or get_settings(), app_name, extra_conf)


_BUILD_LOCK = threading.Lock()


def _running_session() -> SparkSession | None:
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    try:
        return SparkSession.active()
    except PySparkRuntimeError:  # none yet, or the last one was stopped
        return None


def _build(
    settings: Settings,
    app_name: str,
    extra_conf: dict[str, str] | None,
    archive_to: Path | None = None,
) -> SparkSession:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name).master(settings.spark_master)
    conf: dict[str, str] = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.timestampType": "TIMESTAMP_LTZ",
        "spark.driver.memory": settings.spark_driver_memory,
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        # Delta rebuilds a table's state from its log with 50 tasks by default, and VACUUM lists with 10,000.
        # The log of a lakehouse table is small (tens of commits, a checkpoint every ten): one task replays
        # it, where eight each generated and compiled the same projection of the log's wide schema (a
        # 10-row append took 0.78 s, now 0.50 s). VACUUM's listing follows the shuffle partitions.
        "spark.databricks.delta.snapshotPartitions": "1",
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": str(settings.spark_shuffle_partitions),
        # Power BI's DeltaLake.Table reads reader 1 / writer 2 only.
        "spark.databricks.delta.properties.defaults.enableDeletionVectors": "false",
        "spark.databricks.delta.properties.defaults.columnMapping.mode": "none",
        "spark.databricks.delta.properties.defaults.minReaderVersion": "1",
        "spark.databricks.delta.properties.defaults.minWriterVersion": "2",
        "spark.databricks.delta.retentionDurationCheck.enabled": "true",
        "spark.jars.ivy": str(settings.ivy_dir),
    }
    jars = cached_jars(settings)
    if jars:
        conf["spark.jars"] = ",".join(jars)
    else:
        conf["spark.jars.packages"] = ",".join(SPARK_PACKAGES)
        conf["spark.jars.excludes"] = ",".join(SPARK_JAR_EXCLUDES)
    conf |= storage_conf(settings) | cluster_conf(settings)
    log_file = settings.logs_dir / "spark.log"
    archive = class_archive(settings) if jars and settings.spark_class_archive else None
    if archive_to is not None:
        cds = f" -XX:ArchiveClassesAtExit={archive_to}"
    else:
        cds = f" -XX:SharedArchiveFile={archive}" if archive is not None and archive.exists() else ""
    conf["spark.driver.extraJavaOptions"] = (
        f"{JVM_OPTIONS} -Dlog4j2.configurationFile=file:{LOG4J_CONFIG} -Dlakehouse.spark.log={log_file}{cds}"
    )
    conf |= settings.spark_conf | (extra_conf or {})
    _launch_jvm_logging_to(log_file, conf)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if not jars:
        _record_jars(settings, spark)
    return spark


def _launch_jvm_logging_to(log_file: Path, conf: dict[str, str]) -> None:
    """Start the driver JVM with its stdout/stderr in ``log_file`` (unless this process already has one).

    log4j covers Spark's own logging; the JVM also writes start-up warnings straight to stderr, which only
    the launch can redirect. The session built next reuses this gateway.
    """
    from pyspark import SparkConf, SparkContext
    from pyspark.java_gateway import launch_gateway

    if SparkContext._gateway is not None:  # the JVM of an earlier session of this process is reused
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as sink:
        gateway = launch_gateway(
            SparkConf(loadDefaults=False).setAll(list(conf.items())),
            popen_kwargs={"stdout": sink, "stderr": sink},
        )
    SparkContext._ensure_initialized(gateway=gateway)


def _record_jars(settings: Settings, spark: SparkSession) -> None:
    resolved = spark.sparkContext.getConf().get("spark.jars", "")
    paths = [p.removeprefix("file://") for p in resolved.split(",") if p]
    if paths:
        manifest = jars_manifest(settings)
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text("# " + ",".join(SPARK_PACKAGES) + "\n" + "\n".join(paths) + "\n")


def resolve_jars(settings: Settings | None = None) -> list[str]:
    """Set-up step: make sure the Spark jars are resolved into the project cache; return their paths."""
    settings = settings or get_settings()
    jars = cached_jars(settings)
    if jars:
        return jars
    spark = build_spark_session(settings, app_name="resolve-jars")
    spark.stop()
    jars = cached_jars(settings)
    if not jars:
        raise RuntimeError(
            "Spark resolved no jars; check that Maven Central is reachable and see the Ivy output above"
        )
    return jars


# --- the driver's classes, archived ------------------------------------------------------------------------
# A Spark driver loads some 25,000 classes (Spark, Scala, Hadoop, Delta) and parses and verifies each one on
# every start. A dynamic Class Data Sharing archive (JDK 13+) holds those of a session's start parsed and
# verified; the JVM maps it and takes them from it. Measured on 2026-12-07 (2 cores, idle, one process each,
# interleaved): a session started in 6.4-6.5 s instead of 10.0-10.2 s, and its first Delta write, MERGE and
# read took 20.1-20.6 s instead of 21.1-21.7 s. The JVM checks that the archive matches its own build and
# class path and ignores it (one warning in spark.log) when it does not, so a stale archive costs only its
# speed; its name carries what it was made for, so a new JDK, pyspark or jar set makes a new one.


def _java(settings: Settings) -> str:
    """The java that pyspark launches (``$JAVA_HOME/bin/java``, else the one on PATH), resolved."""
    home = settings.java_home
    java = str(home / "bin" / "java") if home else (shutil.which("java") or "java")
    return os.path.realpath(java)


def class_archive(settings: Settings) -> Path:
    """Where the class archive for this JDK, pyspark, jar set and JVM options lives (it may not exist)."""
    from pyspark import __version__ as pyspark_version

    manifest = jars_manifest(settings)
    jars = manifest.read_text() if manifest.exists() else ""
    key = "\n".join((_java(settings), pyspark_version, JVM_OPTIONS, jars))
    return settings.jars_cache_dir / f"spark-classes-{hashlib.sha256(key.encode()).hexdigest()[:16]}.jsa"


def archive_classes(settings: Settings | None = None) -> Path | None:
    """Set-up step: write the class archive of :func:`class_archive` if there is none; returns its path.

    The archive is of a session's start (what every run pays for) and one small query; classes that later
    queries load come from their jars as usual (an archive of a Delta write, MERGE and join as well took
    twice as long to make and started Spark no faster). It resolves the jars first if they are not cached,
    in the same JVM. It needs a process with no Spark JVM yet: the JVM writes the archive when it exits,
    so this one is stopped and awaited. Returns None, and says why, when the JVM wrote none.
    """
    from pyspark import SparkContext

    settings = settings or get_settings()
    if cached_jars(settings) and class_archive(settings).exists():
        return class_archive(settings)
    if SparkContext._gateway is not None:
        raise RuntimeError("archive_classes needs a process whose Spark JVM has not started yet")
    partial = settings.jars_cache_dir / f"spark-classes.{os.getpid()}.partial"
    spark = _build(settings, "set-up", None, archive_to=partial)
    spark.range(3).collect()
    spark.stop()
    process = getattr(SparkContext._gateway, "proc", None)
    if process is not None and process.stdin is not None:
        process.stdin.close()  # the JVM exits at the end of its input, and writes the archive as it does
        process.wait(timeout=600)
    if not partial.exists():
        print(f"no Spark class archive was written (see {settings.logs_dir / 'spark.log'})", file=sys.stderr)
        return None
    target = class_archive(settings)  # named after the jars resolved above
    # Archives of another JDK or jar set, and what a set-up killed while its JVM was writing left behind.
    for stale in (
        *settings.jars_cache_dir.glob("spark-classes-*.jsa"),
        *settings.jars_cache_dir.glob("spark-classes.*.partial"),
    ):
        if stale != partial:
            stale.unlink()
    partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m infra.spark",
        description="Set-up: resolve Spark's jars into .cache/ivy (once, from Maven Central) and archive the "
        "classes of the driver's start (once per JDK, pyspark and jar set). 'jars' only resolves.",
    )
    parser.add_argument("step", nargs="?", choices=("all", "jars"), default="all")
    if parser.parse_args(argv).step == "all":
        archived = archive_classes()  # resolves the jars first when they are not cached
        if archived is not None:
            print(f"Spark's classes archived in {archived}", file=sys.stderr)
    found = resolve_jars()  # no JVM when they are cached; a clear error when they could not be resolved
    print(f"{len(found)} Spark jars ready in {get_settings().ivy_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
