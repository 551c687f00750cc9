"""A tiny flow that holds the `spark` global concurrency slot as the medallion does, and records when.

Deployed on the `lakehouse-process` pool by the Prefect scale test: two workers run two of these at once,
and the records show whether the slot ever had two holders.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from prefect import flow
from prefect.concurrency.sync import concurrency
from prefect.runtime import flow_run


@flow(name="spark-slot")
def hold_spark_slot(seconds: float, record_dir: str) -> None:
    """Take one slot of the `spark` limit for ``seconds``; write start/end and the worker's pid to a file."""
    entered_at = time.time()
    # strict: a missing limit fails the run instead of letting every run through.
    with concurrency("spark", occupy=1, strict=True):
        started_at = time.time()
        time.sleep(seconds)
        ended_at = time.time()
    record = {
        "flow_run_id": str(flow_run.id),
        "worker_pid": os.getppid(),  # the process worker starts each flow run as its child
        "entered_at": entered_at,
        "started_at": started_at,
        "ended_at": ended_at,
    }
    (Path(record_dir) / f"{flow_run.id}.json").write_text(json.dumps(record))
