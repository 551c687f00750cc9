"""The stack's shared Spark driver as runs meet it: the real service, and each run a process of its own."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.local.launcher import Launcher, running
from infra.local.services import spark_driver_spec
from infra.settings import PROJECT_ROOT, Settings
from infra.spark import (
    attach_shared_driver,
    launch_conf,
    read_shared_driver,
    shared_driver_client_file,
    shared_driver_file,
    shared_driver_holder,
    shared_driver_warm_file,
    shared_driver_warming_file,
)
from tests.conftest import make_settings

pytestmark = [pytest.mark.spark, pytest.mark.services]

# One run: build the session as every flow does, do what argv asks, print what it saw as one JSON line.
RUN = """
import json, logging, sys, threading, time
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from pyspark import SparkContext
from infra.settings import get_settings
from infra.spark import build_spark_session, claim_warm_up, on_shared_driver
settings = get_settings()
spark = build_spark_session(settings)
action, table = sys.argv[1], settings.lake_url("silver", "numbers")
seen = {
    "attached": on_shared_driver(),
    "claim_warm_up": claim_warm_up(settings),
    "own_jvm": SparkContext._gateway.proc is not None,
    "app": spark.sparkContext.applicationId,
    "marker": spark.conf.get("spark.lakehouse.marker", None),
    "views": sorted(t.name for t in spark.catalog.listTables() if t.isTemporary),
    "active_jobs": list(spark.sparkContext.statusTracker().getActiveJobsIds()),
}
if action == "write":
    spark.conf.set("spark.lakehouse.marker", "left by an earlier run")
    spark.range(5).createOrReplaceTempView("left_over")
    spark.range(5).write.mode("append").parquet(table)
if action == "read":
    seen["rows"] = spark.read.parquet(table).count()
if action == "endless":
    # Hours of work that cannot fail early (a plain sum(id) overflows in milliseconds under ANSI mode).
    endless_job = spark.range(10**13).selectExpr("sum(id % 7)")
    threading.Thread(target=endless_job.collect, daemon=True).start()
    deadline = time.monotonic() + 60
    while not spark.sparkContext.statusTracker().getActiveJobsIds():
        if time.monotonic() > deadline:
            sys.exit("the endless job never showed as active")
        time.sleep(0.1)
if action == "stop":
    spark.stop()
print(json.dumps(seen), flush=True)
if action in ("hold", "endless", "stop"):
    sys.stdin.read()  # until the test closes it (or kills this run)
"""


def start_run(settings: Settings, action: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", RUN, action],
        env=os.environ | settings.to_env() | env,
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def seen_by(run: subprocess.Popen[str]) -> dict:
    """The JSON line a run printed (it may keep running)."""
    assert run.stdout is not None
    line = run.stdout.readline()
    assert line, run.stderr.read() if run.stderr else ""
    return json.loads(line)


def finished(run: subprocess.Popen[str]) -> tuple[dict, str]:
    """What a run saw, and its log, once it exited cleanly."""
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err
    return json.loads(out.splitlines()[-1]), err


def wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Launcher]]:
    """One service for the module's tests, in order; the last one ends it."""
    tmp_path = tmp_path_factory.mktemp("spark-driver")
    settings = make_settings(tmp_path / "state", storage_backend="file", local_lake_dir=tmp_path / "lake")
    launcher = Launcher(settings.state_dir)
    with running(launcher, [spark_driver_spec(settings)]):
        yield settings, launcher


def test_runs_attach_one_at_a_time_each_with_a_session_of_its_own(driver) -> None:
    settings, launcher = driver
    published = shared_driver_file(settings)
    assert published.stat().st_mode & 0o777 == 0o600  # it holds the py4j secret

    # The service warms its new JVM up (a cold round takes over ten seconds); a run arriving meanwhile asks
    # it to stop at its next step and attaches, rather than start a JVM of its own.
    assert shared_driver_warming_file(settings).exists()
    first = start_run(settings, "write")
    seen, log = finished(first)
    assert seen["attached"] and not seen["own_jvm"]
    assert "the stack's Spark driver is warming up: this run asked it to stop and waits" in log
    assert "attached to the stack's Spark driver" in log
    assert "warm-up stopped after" in launcher.log_path("spark-driver").read_text()
    assert not shared_driver_warming_file(settings).exists()
    # Its warm-up was cut short: the first run warms up beside its ingestion (flows/lakehouse.py); the run
    # after it finds the JVM warm.
    assert seen["claim_warm_up"]

    assert shared_driver_holder(settings) is None
    holder = start_run(settings, "hold")
    held = seen_by(holder)
    assert held["attached"] and held["app"] == seen["app"]
    assert shared_driver_holder(settings) == holder.pid  # what `lakehouse status` shows
    # While one run holds the driver, another starts a JVM of its own rather than wait.
    other, other_log = finished(start_run(settings, "read"))
    assert not other["attached"] and other["own_jvm"] and other["app"] != seen["app"]
    assert other["rows"] == 5
    assert "the stack's Spark driver is busy with another run: this run starts its own" in other_log
    holder.communicate(input="", timeout=60)
    # The service notices within a poll (a run attaching before that tidies up the same way itself).
    wait_for(lambda: f"run {holder.pid} detached" in launcher.log_path("spark-driver").read_text())

    # The driver is free again; a new run's session carries nothing of the earlier runs' sessions.
    later, _ = finished(start_run(settings, "read"))
    assert later == {
        "attached": True,
        "claim_warm_up": False,
        "own_jvm": False,
        "app": seen["app"],
        "marker": None,
        "views": [],
        "active_jobs": [],
        "rows": 5,
    }


def test_a_run_with_other_settings_does_not_attach(driver, caplog) -> None:
    settings, _ = driver
    other = settings.model_copy(update={"spark_driver_memory": "3g"})
    with caplog.at_level("INFO", logger="lakehouse.spark"):
        assert attach_shared_driver(other, launch_conf(other)) is None
    assert "the stack's Spark driver was started with other settings: this run starts its own" in caplog.text
    assert read_shared_driver(settings) is not None


def test_a_run_killed_while_attached_leaves_no_jobs_behind(driver) -> None:
    settings, launcher = driver
    endless = start_run(settings, "endless")
    assert seen_by(endless)["attached"]
    endless.send_signal(signal.SIGKILL)
    endless.wait(timeout=30)
    wait_for(lambda: f"run {endless.pid} detached" in launcher.log_path("spark-driver").read_text())
    assert not shared_driver_client_file(settings).exists()
    after, _ = finished(start_run(settings, "ping"))
    assert after["attached"] and after["active_jobs"] == []


def test_a_run_that_stops_the_shared_context_ends_the_service_not_later_runs(driver) -> None:
    settings, launcher = driver
    stopper = start_run(settings, "stop")
    assert seen_by(stopper)["attached"]  # its spark.stop() returned without an error
    spec = spark_driver_spec(settings)
    wait_for(
        lambda: "the shared SparkContext was stopped (a run called spark.stop())"
        in (launcher.log_path("spark-driver").read_text())
    )
    assert not shared_driver_file(settings).exists()  # no new run attaches to it
    # The JVM stays up while the run that stopped it is still attached, so nothing fails under it.
    time.sleep(1)
    assert launcher.status(spec).running
    stopper.communicate(input="", timeout=60)
    assert stopper.returncode == 0
    wait_for(lambda: not launcher.status(spec).running)
    alone, _ = finished(start_run(settings, "ping"))
    assert not alone["attached"] and alone["own_jvm"]


def test_a_driver_jvm_that_dies_ends_the_service_with_a_clear_error(driver) -> None:
    settings, launcher = driver
    spec = spark_driver_spec(settings)
    launcher.start(spec)  # again: the test before ended it
    service = launcher.pid("spark-driver")
    assert service is not None
    (jvm,) = (int(pid) for pid in Path(f"/proc/{service}/task/{service}/children").read_text().split())
    os.kill(jvm, signal.SIGKILL)  # as the kernel's OOM killer would
    wait_for(lambda: not launcher.status(spec).running)
    assert "the driver JVM stopped answering" in launcher.log_path("spark-driver").read_text()
    assert read_shared_driver(settings) is None


def test_a_driver_left_alone_warms_up_completely_and_runs_on_it_skip_the_warm_up(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "state", storage_backend="file", local_lake_dir=tmp_path / "lake")
    launcher = Launcher(settings.state_dir)
    with running(launcher, [spark_driver_spec(settings)]):
        wait_for(lambda: shared_driver_warm_file(settings).exists(), timeout=180)
        service_log = launcher.log_path("spark-driver").read_text()
        assert re.search(r"Spark warm-up: 6 of 6 steps in \d+\.\d s", service_log), service_log
        assert not shared_driver_warming_file(settings).exists()
        assert list(settings.run_dir.glob("lakehouse-warm-up-*")) == []  # its scratch table is gone
        seen, log = finished(start_run(settings, "ping"))
    assert seen["attached"] and not seen["claim_warm_up"]
    assert "warming up" not in log
