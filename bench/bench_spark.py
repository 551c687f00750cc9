"""Spark session start with and without the archive of the driver's classes (``make setup`` writes it).

Each start is a fresh process (build the session, run one small query, stop), alternating with and without
the archive, so both sides share the machine's state. Prints the seconds of each side.

    .venv/bin/python bench/bench_spark.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = """
import time
t = time.perf_counter()
from infra.spark import build_spark_session
spark = build_spark_session(app_name="bench-start")
started = time.perf_counter() - t
spark.range(10).selectExpr("sum(id)").collect()
print(started, time.perf_counter() - t)
spark.stop()
"""


def one_start(archive: bool, state: Path) -> tuple[float, float]:
    env = os.environ | {
        "LAKEHOUSE_SPARK_CLASS_ARCHIVE": str(archive).lower(),
        "LAKEHOUSE_STORAGE_BACKEND": "file",
        "LAKEHOUSE_STATE_DIR": str(state),
    }
    out = subprocess.run(
        [sys.executable, "-c", START], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    started, queried = (float(x) for x in out.split()[-2:])
    return started, queried


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="starts of each kind (alternating)")
    parser.add_argument("--state", type=Path, default=ROOT / ".state" / "bench-spark")
    args = parser.parse_args()
    from infra.settings import Settings
    from infra.spark import class_archive

    archive = class_archive(Settings())
    if not archive.exists():
        print(f"no class archive at {archive}: run `make setup` first", file=sys.stderr)
        return 1
    times: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(args.runs):
        for kind in (True, False):
            times[kind].append(one_start(kind, args.state))
    for kind, label in ((True, "with the class archive"), (False, "without")):
        starts = [s for s, _ in times[kind]]
        firsts = [q for _, q in times[kind]]
        print(
            f"Spark session start {label}: {statistics.median(starts):.1f} s median "
            f"({min(starts):.1f}-{max(starts):.1f} s); with a first query {statistics.median(firsts):.1f} s"
        )
    ratio = statistics.median(s for s, _ in times[True]) / statistics.median(s for s, _ in times[False])
    print(f"start with / without the archive: {ratio:.2f} ({args.runs} runs each, alternating)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
