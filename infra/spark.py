"""The one SparkSession factory: Delta, Avro and ABFS, configured for the active profile.

Nothing here runs at import time. :func:`build_spark_session` is called once per process (a flow run, a test
session, a notebook) and the session is shared by every transform of that run.

Jars: the first call resolves the Maven packages with Spark's Ivy into ``.cache/ivy`` (git-ignored) and
records the resolved jar paths in ``.cache/spark-jars.txt``. Later calls pass those paths as ``spark.jars``,
so no resolution (and no network) happens again. ``python -m infra.spark`` does the resolution as a set-up
step, and then records the driver's classes in a Class Data Sharing archive (:func:`archive_classes`).
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING

from infra.settings import Settings, get_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("lakehouse.spark")

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
    When the local stack's shared driver runs with the same settings and no other run holds it, the session
    is that driver's (:func:`attach_shared_driver`): no JVM starts, and its JIT is warm from earlier runs.

    Gold must stay readable by Power BI's Delta connector, so new tables get no deletion vectors and no column
    mapping (reader 1 / writer 2), and timestamps are written as plain ``timestamp`` in UTC.
    """
    settings = settings or get_settings()
    with _BUILD_LOCK:
        running = _running_session()
        if running is not None:
            return running
        conf = launch_conf(settings, extra_conf)
        spark = attach_shared_driver(settings, conf) or launch_driver(settings, conf, app_name)
        if runs_on_this_machine(settings):
            # pyspark starts its Python workers with `python3` from PATH, which need not be this interpreter:
            # on Ubuntu 24.04 it is 3.12 beside a 3.11 .venv, and every job that needs a worker (a DataFrame
            # from Python rows) failed with PYTHON_VERSION_MISMATCH. The executors are on this machine here.
            spark.sparkContext.pythonExec = sys.executable
        return spark


def runs_on_this_machine(settings: Settings) -> bool:
    """The executors run on this machine: local mode, or the local stack's standalone cluster."""
    return is_local_master(settings.spark_master) or settings.spark_master == settings.spark_cluster_url


_BUILD_LOCK = threading.Lock()


def _running_session() -> SparkSession | None:
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    try:
        return SparkSession.active()
    except PySparkRuntimeError:  # none yet, or the last one was stopped
        return None


def launch_conf(
    settings: Settings, extra_conf: dict[str, str] | None = None, archive_to: Path | None = None
) -> dict[str, str]:
    """What a driver JVM for ``settings`` starts with (``archive_to``: where it writes a class archive)."""
    conf: dict[str, str] = {
        "spark.master": settings.spark_master,
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
    archive = class_archive(settings) if jars and settings.spark_class_archive else None
    if archive_to is not None:
        cds = f" -XX:ArchiveClassesAtExit={archive_to}"
    else:
        cds = f" -XX:SharedArchiveFile={archive}" if archive is not None and archive.exists() else ""
    log_file = settings.logs_dir / "spark.log"
    conf["spark.driver.extraJavaOptions"] = (
        f"{JVM_OPTIONS} -Dlog4j2.configurationFile=file:{LOG4J_CONFIG} -Dlakehouse.spark.log={log_file}{cds}"
    )
    return conf | settings.spark_conf | (extra_conf or {})


def launch_driver(settings: Settings, conf: dict[str, str], app_name: str = "lakehouse") -> SparkSession:
    """Start this process's own driver JVM with ``conf`` (:func:`launch_conf`) and build its session."""
    from pyspark.sql import SparkSession

    conf = conf | {"spark.app.name": app_name}
    _launch_jvm_logging_to(settings.logs_dir / "spark.log", conf)
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    if "spark.jars.packages" in conf:
        _record_jars(settings, spark)
    return spark


# --- the local stack's shared driver ------------------------------------------------------------------------
# At SF0.01 a run's time is a cold JVM, not rows: four medallion passes in one process took 141.5, 100.6, 82.7
# and 75.4 s (2026-12-03), the JIT and Delta's caches warming up. `lakehouse up` therefore runs one driver
# JVM as a service (`spark-driver`, infra/local/spark_driver.py) and publishes its py4j port and secret in a
# file only its user can read. A run started with the same launch conf attaches to it instead of starting a
# JVM, one run at a time: it holds a lock on the driver for as long as its process lives, and gets a session
# of its own (``newSession``: its own SQL settings and temporary views over the shared JVM). Anything else
# (a run while another holds the driver, different settings, no stack) starts its own JVM as before.


@dataclasses.dataclass(frozen=True)
class SharedDriver:
    """How to reach the stack's shared driver: its service's pid, py4j port and secret, its launch conf."""

    pid: int
    port: int
    secret: str
    conf_key: str


def shared_driver_file(settings: Settings) -> Path:
    return settings.run_dir / "shared-driver.json"


def shared_driver_client_file(settings: Settings) -> Path:
    """The pid of the run attached to the shared driver (the service cancels its jobs once it is gone)."""
    return settings.run_dir / "shared-driver.client"


def shared_driver_lock(settings: Settings) -> Path:
    return settings.run_dir / "shared-driver.lock"


def shared_driver_warming_file(settings: Settings) -> Path:
    """Present while the shared driver's service warms its JVM up (it holds the lock meanwhile)."""
    return settings.run_dir / "shared-driver.warming"


def shared_driver_wanted_file(settings: Settings) -> Path:
    """Written by a run waiting to attach: the service's warm-up stops at its next step and frees the lock."""
    return settings.run_dir / "shared-driver.wanted"


def shared_driver_warm_file(settings: Settings) -> Path:
    """Present once the shared driver is warm: its warm-up completed, or a run has attached to it."""
    return settings.run_dir / "shared-driver.warm"


def warm_up_wanted(settings: Settings) -> bool:
    """Warm new driver JVMs up (``spark_warm_up``) where the driver and its executors share this machine's
    disk (the warm-up's scratch table is a local folder)."""
    return settings.spark_warm_up and runs_on_this_machine(settings)


def claim_warm_up(settings: Settings) -> bool:
    """True, once per process, when this process's driver JVM is new to real work and should warm up now.

    On the shared driver, False once it is warm (its own warm-up completed, or a run has used it).
    """
    if not warm_up_wanted(settings) or _WARM_UP_CLAIMED:
        return False
    _WARM_UP_CLAIMED.append(True)
    return not (on_shared_driver() and _FOUND_WARM)


_WARM_UP_CLAIMED: list[bool] = []
_FOUND_WARM: list[bool] = []  # [True] when this process attached to a shared driver that was warm already


def conf_key(conf: dict[str, str]) -> str:
    """What a driver's launch conf is, as a digest: a run attaches only to a driver started like its own."""
    launch = sorted((key, value) for key, value in conf.items() if key != "spark.app.name")
    return hashlib.sha256(json.dumps(launch).encode()).hexdigest()


def publish_shared_driver(settings: Settings, conf: dict[str, str]) -> SharedDriver:
    """Write where this process's driver JVM listens (service side; the file is readable by its user only)."""
    from pyspark import SparkContext

    gateway = SparkContext._gateway
    if gateway is None:
        raise RuntimeError("publish_shared_driver needs a running driver JVM in this process")
    parameters = gateway.java_parameters  # a ClientServer: pyspark pins Python threads to JVM threads
    driver = SharedDriver(os.getpid(), parameters.port, parameters.auth_token, conf_key(conf))
    target = shared_driver_file(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        json.dump(dataclasses.asdict(driver), handle)
    partial.replace(target)
    return driver


def read_shared_driver(settings: Settings) -> SharedDriver | None:
    """The shared driver the stack published, if its service still runs."""
    try:
        driver = SharedDriver(**json.loads(shared_driver_file(settings).read_text()))
        os.kill(driver.pid, 0)
    except (OSError, ValueError, TypeError):  # no file, a torn or foreign one, or its service is gone
        return None
    return driver


def shared_driver_holder(settings: Settings) -> int | None:
    """The pid of the run attached to the shared driver now, or None when the driver is free."""
    lock_path = shared_driver_lock(settings)
    if not lock_path.exists():
        return None
    with lock_path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return int(shared_driver_client_file(settings).read_text())
            except (OSError, ValueError):  # it holds the lock and is about to write its pid
                return -1
    return None


_ATTACHED: list[IO[str]] = []  # the shared driver's lock, held by this process while it lives


def on_shared_driver() -> bool:
    """True when this process's session is the stack's shared driver's."""
    return bool(_ATTACHED)


def attach_shared_driver(settings: Settings, conf: dict[str, str]) -> SparkSession | None:
    """A session on the stack's shared driver, or None (and why, in the log) when this run starts its own.

    Attaching cancels what a run that died while attached left running and empties the shared cache; the
    session is a new one, so no SQL setting or temporary view of an earlier run carries over.
    """
    if not settings.spark_shared_driver or _ATTACHED:
        return None
    driver = read_shared_driver(settings)
    if driver is None:
        return None
    if driver.conf_key != conf_key(conf):
        log.info("the stack's Spark driver was started with other settings: this run starts its own")
        return None
    lock = shared_driver_lock(settings).open("a+")
    # The service takes the lock for a moment after a run ends, and while it warms the JVM up at its start.
    if not _lock_within(lock, LOCK_WAIT_SECONDS) and not _lock_after_warm_up(settings, lock):
        lock.close()
        log.info("the stack's Spark driver is busy with another run: this run starts its own")
        return None
    try:
        spark = _session_on(driver)
    except Exception as exc:  # whatever the connection raised, the run goes on with its own JVM
        lock.close()
        _forget_gateway()
        log.warning("could not attach to the stack's Spark driver (%s): this run starts its own", exc)
        return None
    _ATTACHED.append(lock)
    shared_driver_client_file(settings).write_text(str(os.getpid()))
    warm = shared_driver_warm_file(settings)
    if warm.exists():
        _FOUND_WARM.append(True)
    warm.touch()  # this run warms it (beside its ingestion) or works on it: the next run finds it warm
    log.info("attached to the stack's Spark driver (service pid %d)", driver.pid)
    return spark


LOCK_WAIT_SECONDS = 2.0
# How long a run waits for the service's warm-up to stop at its next step (a cold step takes a few seconds).
WARM_UP_YIELD_SECONDS = 60.0


def _lock_after_warm_up(settings: Settings, lock: IO[str]) -> bool:
    """If the service is warming its JVM up, ask it to stop and take the lock once it has (True)."""
    if not shared_driver_warming_file(settings).exists():
        return False
    log.info("the stack's Spark driver is warming up: this run asked it to stop and waits")
    shared_driver_wanted_file(settings).touch()
    return _lock_within(lock, WARM_UP_YIELD_SECONDS)


def _lock_within(handle: IO[str], seconds: float) -> bool:
    """Take an exclusive lock on ``handle``, trying for up to ``seconds``; False if another holds it."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def _forget_gateway() -> None:
    """Drop what pyspark keeps of a gateway this process gave up on, so that it can launch its own JVM."""
    from pyspark import SparkContext

    SparkContext._gateway = None
    SparkContext._jvm = None
    SparkContext._active_spark_context = None


def _session_on(driver: SharedDriver) -> SparkSession:
    from py4j.java_gateway import JavaGateway
    from pyspark import SparkContext
    from pyspark.java_gateway import launch_gateway
    from pyspark.sql import SparkSession

    # Not configuration: launch_gateway takes the address of a running JVM only through these two variables
    # (pyspark's own interface). They are set for this one call and removed, so nothing else reads them.
    os.environ |= {"PYSPARK_GATEWAY_PORT": str(driver.port), "PYSPARK_GATEWAY_SECRET": driver.secret}
    try:
        gateway: JavaGateway = launch_gateway()
    finally:
        del os.environ["PYSPARK_GATEWAY_PORT"], os.environ["PYSPARK_GATEWAY_SECRET"]
    jvm = gateway.jvm
    session = jvm.SparkSession.getDefaultSession()
    if not session.isDefined() or session.get().sparkContext().isStopped():
        gateway.shutdown()
        raise RuntimeError("its SparkContext is stopped")
    context = SparkContext(gateway=gateway, jsc=jvm.JavaSparkContext(session.get().sparkContext()))
    context.cancelAllJobs()  # of a run that died while attached
    spark = SparkSession(context, jsparkSession=session.get().newSession())  # the JVM's default from now
    spark.catalog.clearCache()
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
    spark = launch_driver(settings, launch_conf(settings), "resolve-jars")  # never the shared driver
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
    spark = launch_driver(settings, launch_conf(settings, archive_to=partial), "set-up")
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
