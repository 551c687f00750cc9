"""The local stack's shared Spark driver: one warm driver JVM that the stack's runs attach to.

A run at SF0.01 spends most of its time warming a JVM up (the JIT, Delta's caches), not on rows. This
service starts one driver JVM with the stack's settings, publishes its py4j port and secret in
``<state>/run/shared-driver.json`` (readable by its user only) and keeps it running; a run started with the
same launch settings attaches to it instead of starting a JVM (``infra/spark.py: attach_shared_driver``),
one run at a time.

Right after it starts, the service warms the new JVM up (``infra/spark_warmup.py``) holding the runs' lock;
a run that arrives meanwhile writes ``shared-driver.wanted`` and the warm-up stops at its next step.

The service also tidies up after a run that died while attached: once the run's lock is free again, it
cancels the jobs that run left and empties the shared cache. If a client stops the shared SparkContext
(``spark.stop()``), the service exits with an error once that run lets go of it; runs then start their own
JVM until ``lakehouse up`` starts it again.

Run it with ``python -m infra.local.spark_driver`` (the launcher does, as service ``spark-driver``).
"""

from __future__ import annotations

import fcntl
import logging
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

from py4j.protocol import Py4JError

from infra.settings import Settings, get_settings
from infra.spark import (
    launch_conf,
    launch_driver,
    publish_shared_driver,
    shared_driver_client_file,
    shared_driver_file,
    shared_driver_lock,
    shared_driver_wanted_file,
    shared_driver_warm_file,
    shared_driver_warming_file,
    warm_up_wanted,
)
from infra.spark_warmup import warm_up

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger("lakehouse.spark-driver")
POLL_SECONDS = 0.5
DETACH_WAIT_SECONDS = 60


def tidy_after_gone_client(settings: Settings, spark: SparkSession) -> int | None:
    """If a run was attached and its lock is free (it exited or died): cancel its jobs, empty the cache.

    Returns the pid of that run, or None when no run was attached or it still holds the driver.
    """
    client_file = shared_driver_client_file(settings)
    try:
        pid = int(client_file.read_text())
    except (OSError, ValueError):
        return None
    with shared_driver_lock(settings).open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # still attached
        spark.sparkContext.cancelAllJobs()
        spark.catalog.clearCache()
        client_file.unlink(missing_ok=True)
    return pid


def wait_for_detach(settings: Settings, stop: threading.Event) -> None:
    """Wait (at most ``DETACH_WAIT_SECONDS``) until the attached run lets go of the driver.

    A run that stops the shared context still talks to the JVM while its ``spark.stop()`` returns; ending
    the JVM under it would turn that call into a connection error in the run.
    """
    deadline = time.monotonic() + DETACH_WAIT_SECONDS
    with shared_driver_lock(settings).open("a+") as lock:
        while time.monotonic() < deadline:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if stop.wait(POLL_SECONDS):
                    return


def publish_and_warm_up(
    settings: Settings, spark: SparkSession, conf: dict[str, str], stop: threading.Event
) -> None:
    """Publish the driver, then warm its JVM up while no run wants it (``settings.spark_warm_up``).

    The service holds the runs' lock from before publishing until the warm-up ends; a run that finds the
    driver warming writes ``shared-driver.wanted``, and the warm-up stops at its next step and lets it in.
    """
    warming, wanted = shared_driver_warming_file(settings), shared_driver_wanted_file(settings)
    with shared_driver_lock(settings).open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nothing is published yet: no run holds it
            warm = warm_up_wanted(settings)
        except BlockingIOError:  # a run of an earlier service of this stack still holds it: no warm-up
            warm = False
        if warm:
            warming.touch()
        try:
            publish_shared_driver(settings, conf)
            if not warm:
                return
            done = warm_up(
                spark, should_stop=lambda: stop.is_set() or wanted.exists(), scratch_parent=settings.run_dir
            )
            if done.complete:
                shared_driver_warm_file(settings).touch()
            else:
                log.info(
                    "warm-up stopped after %d of %d steps: a run wants the driver", done.steps, done.planned
                )
        finally:
            warming.unlink(missing_ok=True)
            wanted.unlink(missing_ok=True)


def serve(settings: Settings, stop: threading.Event) -> int:
    """Start the driver, publish it, and watch it until ``stop`` is set (0) or its context stops (1)."""
    conf = launch_conf(settings)
    published = shared_driver_file(settings)
    published.unlink(missing_ok=True)  # of a service that was killed
    shared_driver_client_file(settings).unlink(missing_ok=True)
    for marker in (shared_driver_warm_file, shared_driver_warming_file, shared_driver_wanted_file):
        marker(settings).unlink(missing_ok=True)  # of a service that was killed
    spark = launch_driver(settings, conf, app_name="lakehouse shared driver")
    log.info("shared Spark driver ready, Spark UI %s", spark.sparkContext.uiWebUrl)
    try:
        publish_and_warm_up(settings, spark, conf, stop)
        while not stop.wait(POLL_SECONDS):
            try:
                stopped = spark.sparkContext._jsc.sc().isStopped()
            except (Py4JError, OSError) as exc:  # the JVM itself is gone (killed, out of memory)
                jvm_log = settings.logs_dir / "spark.log"
                log.error("the driver JVM stopped answering (%s); see %s", exc, jvm_log)
                return 1
            if stopped:
                published.unlink(missing_ok=True)  # no new run attaches to a stopped context
                log.error(
                    "the shared SparkContext was stopped (a run called spark.stop()); runs start their own "
                    "JVM until `lakehouse up spark-driver` starts it again"
                )
                wait_for_detach(settings, stop)
                return 1
            gone = tidy_after_gone_client(settings, spark)
            if gone is not None:
                log.info("run %d detached; its jobs were cancelled and the cache emptied", gone)
        return 0
    finally:
        published.unlink(missing_ok=True)
        try:
            spark.stop()
        except Exception as exc:  # on SIGTERM the JVM may already be shutting down
            log.info("the driver JVM was already stopping (%s)", exc)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)  # a line per closed connection otherwise
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return serve(get_settings(), stop)


if __name__ == "__main__":
    sys.exit(main())
