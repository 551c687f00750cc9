"""The medallion on a real Spark standalone cluster: a master + two worker JVMs from `lakehouse up spark`.

The same bronze is processed once in this test session's ``local[2]`` SparkSession and once by a flow run in
a process of its own whose session is a driver of the cluster (``LAKEHOUSE_SPARK_MASTER=spark://...``):
executors in other JVMs, with only what the driver ships them (jars, ``spark.hadoop.*``, closures). Gold
must be identical, table by table. Then one worker is killed (SIGKILL to its JVM and its executor) while
gold is being built from frozen (checkpointed) intermediate results: the run must still complete, every
table's latest version must be a whole commit, and gold must again be identical.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from prefect.client.orchestration import get_client
from pyspark.sql import SparkSession

from flows.medallion import medallion
from infra import zones
from infra.local.launcher import Launcher, free_port, running
from infra.local.services import spark_cluster_specs, spark_worker_name
from infra.settings import PROJECT_ROOT, Settings, get_settings
from infra.storage import delta_io
from infra.storage.lake import Lake
from ingestion.synthetic import generate
from tests.conftest import with_fresh_zones
from tests.support.bronze import write_bronze
from transforms.catalog import GOLD_TABLES, OPS_TABLES, SCD2_HISTORY, SILVER_KEYS

# A medallion run takes 20 min on a loaded 2-core machine: the local reference and a cluster run exceed the
# suite's 30 min per test.
pytestmark = [
    pytest.mark.services,
    pytest.mark.e2e,
    pytest.mark.spark,
    pytest.mark.cluster,
    pytest.mark.timeout(5400),
]

SF, SEED, DAY = 0.005, 7, "2026-01-01"
AS_OF = datetime(2026, 1, 3, tzinfo=UTC)


@dataclass
class Cluster:
    settings: Settings  # the lake stack's settings, with the cluster's ports
    launcher: Launcher

    def executors(self, worker: int) -> list[dict]:
        """The executors worker ``worker`` runs now (its JSON status)."""
        port = self.settings.spark_worker_ui_ports[worker]
        return httpx.get(f"http://{self.settings.host}:{port}/json/", timeout=5).json()["executors"]


@dataclass(frozen=True)
class Lakehouse:
    """What a medallion run left: gold checksums and the row count of every table."""

    checksums: dict[str, str]
    rows: dict[str, int]


def table_urls(settings: Settings) -> dict[str, str]:
    """Every Delta table the medallion writes: silver, quarantine, SCD2 history, _ops and gold."""
    urls = {f"silver/{e}": zones.silver_url(settings, e) for e in (*SILVER_KEYS, SCD2_HISTORY)}
    urls |= {f"silver/quarantine_{e}": zones.quarantine_url(settings, e) for e in SILVER_KEYS}
    urls |= {f"_ops/{t}": zones.ops_url(settings, t) for t in OPS_TABLES}
    return urls | {f"gold/{t}": zones.gold_url(settings, t) for t in GOLD_TABLES}


def lakehouse_state(spark: SparkSession, settings: Settings) -> Lakehouse:
    """Read the latest version of every table (a torn write would fail here or change the figures)."""
    rows = {name: spark.read.format("delta").load(url).count() for name, url in table_urls(settings).items()}
    checksums = {t: delta_io.content_checksum(spark, zones.gold_url(settings, t)) for t in GOLD_TABLES}
    return Lakehouse(checksums, rows)


@pytest.fixture(scope="module")
def bronze(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated day, laid out as the ingestion flows write bronze."""
    generated = tmp_path_factory.mktemp("generated")
    generate(generated, sf=SF, seed=SEED, days=1, start=date(2026, 1, 1))
    local = tmp_path_factory.mktemp("bronze")
    write_bronze(generated, local, DAY)
    return local


def lake_with_bronze(lake_stack: Settings, bronze: Path) -> Settings:
    """Fresh zone containers holding ``bronze``."""
    settings = with_fresh_zones(lake_stack)
    with Lake(settings) as lake:
        for file in sorted(p for p in bronze.rglob("*") if p.is_file()):
            lake.upload_file("bronze", file.relative_to(bronze).as_posix(), file)
    return settings


@pytest.fixture(scope="module")
def cluster(lake_stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A master and two workers (1 core, 1 GB each) on free ports, their state in a temporary folder."""
    settings = lake_stack.model_copy(
        update={
            "state_dir": tmp_path_factory.mktemp("cluster"),
            "spark_master_port": free_port(),
            "spark_master_ui_port": free_port(),
            "spark_worker_ui_ports": [free_port(), free_port()],
            "spark_worker_memory": "1g",
            "spark_executor_memory": "1g",
        }
    )
    launcher = Launcher(settings.state_dir)
    with running(launcher, spark_cluster_specs(settings)):
        yield Cluster(settings, launcher)


@pytest.fixture(scope="module")
def reference(
    lake_stack: Settings, prefect_harness: Settings, spark: SparkSession, bronze: Path
) -> Lakehouse:
    """The medallion over ``bronze`` in this session's local[2] SparkSession: the figures to match."""
    settings = lake_with_bronze(lake_stack, bronze)
    with pytest.MonkeyPatch.context() as env:
        for key, value in settings.to_env().items():
            env.setenv(key, value)
        get_settings.cache_clear()
        medallion(as_of=AS_OF, run_maintenance=False)
    get_settings.cache_clear()
    return lakehouse_state(spark, settings)


def start_cluster_run(
    settings: Settings, cluster: Cluster, prefect: Settings, log: Path
) -> subprocess.Popen[str]:
    """The medallion in a process of its own, as a driver of ``cluster``."""
    env = (
        os.environ
        | settings.to_env()
        | {
            "LAKEHOUSE_SPARK_MASTER": cluster.settings.spark_cluster_url,
            "LAKEHOUSE_STATE_DIR": str(log.parent),
            "PREFECT_API_URL": prefect.prefect_api_url,
            "PREFECT_HOME": str(log.parent / "prefect-client"),
        }
    )
    with log.open("w") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.support.run_medallion", AS_OF.isoformat()],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
        )


def finish(run: subprocess.Popen[str], log: Path, timeout: float = 1500) -> dict[str, int]:
    """Wait for a cluster run; its gold row counts, or a failure with the end of its output."""
    try:
        out, _ = run.communicate(timeout=timeout)
    finally:
        if run.poll() is None:  # a timeout (ours or the suite's) leaves no driver running
            run.kill()
            run.wait(30)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    assert run.returncode == 0, f"the cluster run failed ({run.returncode}):\n{tail}"
    return json.loads(out.strip().splitlines()[-1])


def test_the_cluster_shows_in_status(cluster: Cluster) -> None:
    env = os.environ | cluster.settings.to_env() | {"COLUMNS": "250"}
    env.pop("PREFECT_API_URL", None)
    shown = subprocess.run(
        [sys.executable, "-m", "flows.cli", "status"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = {line.split("│")[1].strip(): line for line in shown.stdout.splitlines() if line.count("│") > 3}
    master = f"{cluster.settings.spark_cluster_url} (UI {cluster.settings.spark_master_ui_url})"
    assert "healthy" in rows["spark-master"] and master in rows["spark-master"]
    for index, port in enumerate(cluster.settings.spark_worker_ui_ports):
        row = rows[spark_worker_name(index)]
        assert "healthy" in row and f"http://127.0.0.1:{port} (1 core(s), 1g)" in row
    assert "stopped" in rows["azurite"]  # the stack of this state folder is not running; the cluster is


def test_gold_on_the_cluster_is_identical_to_local(
    lake_stack: Settings,
    prefect_harness: Settings,
    spark: SparkSession,
    bronze: Path,
    cluster: Cluster,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    settings = lake_with_bronze(lake_stack, bronze)
    log = tmp_path / "run.log"
    run = start_cluster_run(settings, cluster, prefect_harness, log)
    reference: Lakehouse = request.getfixturevalue("reference")  # the local run, while the cluster works
    gold_rows = finish(run, log)
    state = lakehouse_state(spark, settings)
    assert gold_rows == {t: state.rows[f"gold/{t}"] for t in GOLD_TABLES}
    assert state.rows == reference.rows
    assert state.checksums == reference.checksums
    # The executors of both workers took part, so the run crossed JVMs.
    app_dirs = [
        d
        for i in range(2)
        for d in (cluster.settings.state_dir / "spark" / spark_worker_name(i)).glob("app-*")
    ]
    assert len(app_dirs) == 2, app_dirs


def _running_gold_task_runs() -> set[str]:
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(limit=200)
    return {str(r.id) for r in runs if r.name == "gold" and r.state_name == "Running"}


def _checkpointed_rdds(settings: Settings) -> set[str]:
    """The checkpoint folders (``_checkpoints/<context>/rdd-<n>``) that hold files now."""
    with Lake(settings) as lake:
        return {entry.path.rsplit("/", 1)[0] for entry in lake.files("silver", "_checkpoints")}


def test_a_worker_killed_while_gold_is_built_changes_nothing(
    lake_stack: Settings,
    prefect_harness: Settings,
    spark: SparkSession,
    bronze: Path,
    cluster: Cluster,
    reference: Lakehouse,
    tmp_path: Path,
) -> None:
    """Frozen gold intermediates are reliable checkpoints on the lake: losing an executor loses none."""
    settings = lake_with_bronze(lake_stack, bronze)
    log = tmp_path / "run.log"
    run = start_cluster_run(settings, cluster, prefect_harness, log)
    # Kill once gold is being built and has frozen an intermediate (dim_customer first) on the lake that
    # the later gold tables read (the silver load of customers checkpoints too: count from gold's start).
    deadline = time.monotonic() + 1200
    at_gold_start: set[str] | None = None
    while at_gold_start is None or not _checkpointed_rdds(settings) - at_gold_start:
        assert run.poll() is None, f"the run ended before the kill:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, "gold froze nothing within 1200 s"
        if at_gold_start is None and _running_gold_task_runs():
            at_gold_start = _checkpointed_rdds(settings)
        time.sleep(0.5)
    assert cluster.executors(0) and cluster.executors(1), "both workers run an executor of the flow"
    victim = spark_worker_name(0)
    worker_pid = cluster.launcher.pid(victim)
    assert worker_pid is not None
    os.killpg(worker_pid, signal.SIGKILL)  # the worker JVM and its executor, as when a node is lost
    try:
        gold_rows = finish(run, log)
        driver_log = (log.parent / "logs" / "spark.log").read_text(errors="replace")
        assert "Lost executor" in driver_log, "the driver never noticed the kill"
        state = lakehouse_state(spark, settings)
        assert gold_rows == {t: state.rows[f"gold/{t}"] for t in GOLD_TABLES}
        assert state.rows == reference.rows
        assert state.checksums == reference.checksums
        balance = spark.read.format("delta").load(zones.ops_url(settings, "load_balance")).collect()
        assert sorted(r.table_name for r in balance) == sorted(SILVER_KEYS)
        for r in balance:
            assert r.bronze_rows == r.silver_rows + r.quarantined_rows + r.duplicate_rows, r
        # A re-run on the one worker left completes and changes nothing.
        rerun_log = tmp_path / "rerun.log"
        assert (
            finish(start_cluster_run(settings, cluster, prefect_harness, rerun_log), rerun_log) == gold_rows
        )
        assert lakehouse_state(spark, settings) == state
    finally:
        cluster.launcher.start(next(s for s in spark_cluster_specs(cluster.settings) if s.name == victim))
