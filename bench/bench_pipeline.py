"""Pipeline benchmark: `lakehouse run` as a user runs it, its steps' seconds and the memory high-water mark.

It starts the services the pipeline talks to (Azurite, the DFS endpoint, the Event Hubs endpoint, the
app_events API serving the same scale factor, the stack's shared Spark driver, the Prefect server) on free
ports with their state in a folder of its own, then runs ``lakehouse run --sf SF`` in a process of its own
(``--runs 2`` adds a re-run, which finds nothing new; with ``--next-day`` each re-run brings the next day's
batch instead). The runs attach to the shared driver as under ``lakehouse up``; with ``--own-jvm`` it is left
out and every run starts its own driver JVM (the peer to compare with). While a run works, the resident
memory of every process of the stack and of the run (the Spark driver JVM included) is sampled once a
second. Afterwards the steps of each run are read from Prefect: the parent flow's subflows and tasks, and
the medallion's own tasks, with their seconds.

    .venv/bin/python bench/bench_pipeline.py --sf 0.01 --runs 2
    .venv/bin/python bench/bench_pipeline.py --sf 0.01 --runs 3 --next-day [--own-jvm]
    .venv/bin/python bench/bench_pipeline.py --sf 10 --work /data/bench   # SF10 needs ~40 GB of disk
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from infra.local.launcher import Launcher, free_port, running
from infra.local.services import stack_specs
from infra.settings import PROJECT_ROOT, Settings
from infra.storage.lake import Lake

console = Console(width=140)
SERVICES = ("azurite", "dfs", "eventhubs", "app-events-api", "spark-driver", "prefect")
PAGE = 200  # Prefect's read limit per call


@dataclass
class MemoryPeaks:
    """Resident memory high-water marks (bytes): of everything together, and per group of processes."""

    total: int = 0
    by_group: dict[str, int] = field(default_factory=dict)
    machine_used: int = 0  # MemTotal - MemAvailable: page cache of written files is not in it


def _rss_by_pid() -> tuple[dict[int, int], dict[int, int]]:
    """Every process's resident bytes and parent pid, read from /proc."""
    rss, parent = {}, {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            pages = int(Path(f"/proc/{entry}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended while being read
        parent[int(entry)] = int(fields[1])
        rss[int(entry)] = pages * page
    return rss, parent


def _machine_used() -> int:
    info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    return (int(info["MemTotal"].split()[0]) - int(info["MemAvailable"].split()[0])) * 1024


class MemorySampler:
    """Samples, once a second, the resident memory of the process trees rooted at ``roots`` (name -> pid)."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.peaks = MemoryPeaks()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> MemoryPeaks:
        self._thread.start()
        return self.peaks

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            rss, parent = _rss_by_pid()
            children: dict[int, list[int]] = {}
            for pid, ppid in parent.items():
                children.setdefault(ppid, []).append(pid)
            total = 0
            for name, root in self.roots.items():
                tree, stack = 0, [root]
                while stack:
                    pid = stack.pop()
                    tree += rss.get(pid, 0)
                    stack += children.get(pid, [])
                self.peaks.by_group[name] = max(self.peaks.by_group.get(name, 0), tree)
                total += tree
            self.peaks.total = max(self.peaks.total, total)
            self.peaks.machine_used = max(self.peaks.machine_used, _machine_used())
            self._stop.wait(1.0)


def _seconds(run: object) -> float:
    start, end = getattr(run, "start_time", None), getattr(run, "end_time", None)
    return (end - start).total_seconds() if start and end else float("nan")


def _steps(api_url: str) -> list[tuple[str, str, float, str]]:
    """The newest `lakehouse` run's subflows and tasks, then the medallion's: (level, name, s, state)."""
    os.environ["PREFECT_API_URL"] = api_url
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterId,
        FlowRunFilterParentFlowRunId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        parent = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=["lakehouse"])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )[0]

        def children(run_id: object) -> list[object]:
            tasks = client.read_task_runs(
                task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=[run_id])), limit=PAGE
            )
            flows = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run_id])),
                limit=PAGE,
            )
            # A subflow also shows as a task run of its parent (its wrapper): keep the flow run.
            wrapped = {f.parent_task_run_id for f in flows}
            return sorted(
                [t for t in tasks if t.id not in wrapped] + list(flows),
                key=lambda r: r.start_time or r.expected_start_time,
            )

        rows = [("pipeline", parent.name, _seconds(parent), parent.state_name or "")]
        for child in children(parent.id):
            rows.append(("step", child.name, _seconds(child), child.state_name or ""))
            if getattr(child, "flow_id", None) and child.name == "medallion":
                medallion = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[child.id]))
                )[0]
                for task in children(medallion.id):
                    rows.append(("medallion", task.name, _seconds(task), task.state_name or ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sf", type=float, default=0.01)
    parser.add_argument("--runs", type=int, default=2, help="1 = the first run only; 2 adds a no-op re-run")
    parser.add_argument("--work", type=Path, help="folder for the stack's state and lake (default: a temp)")
    parser.add_argument("--keep", action="store_true", help="leave the stack's state folder in place")
    parser.add_argument("--next-day", action="store_true", help="each re-run brings the next day's batch")
    parser.add_argument("--own-jvm", action="store_true", help="no shared driver: each run starts a JVM")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long after the stack is up before the first run (as after `lakehouse up`: the shared "
        "driver warms up meanwhile)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-", dir=args.work))
    settings = Settings(
        state_dir=work / "state",
        blob_port=free_port(),
        dfs_port=free_port(),
        amqp_port=free_port(),
        eventhubs_health_port=free_port(),
        api_port=free_port(),
        prefect_port=free_port(),
        alerts_port=free_port(),
        dashboard_port=free_port(),
        api_sf=args.sf,
        api_days=args.runs if args.next_day else 1,
        spark_shared_driver=not args.own_jvm,
    )
    specs = [s for s in stack_specs(settings) if s.name in SERVICES]
    launcher = Launcher(settings.state_dir)
    env = os.environ | settings.to_env() | {"COLUMNS": "120"}
    console.print(f"starting {', '.join(s.name for s in specs)} (state in {settings.state_dir})")
    started = time.perf_counter()
    with running(launcher, specs):
        with Lake(settings) as lake:
            lake.ensure_zones()  # as `lakehouse up` does
        console.print(f"stack up in {time.perf_counter() - started:.1f} s")
        if args.settle:
            console.print(f"waiting {args.settle:g} s before the first run")
            time.sleep(args.settle)
        for index in range(args.runs):
            days = index + 1 if args.next_day else 1
            label = "first run" if index == 0 else f"re-run {index}"
            label += f" (day {index})" if args.next_day and index else ""
            log = settings.state_dir / f"run-{index}.out"
            roots = {s.name: pid for s in specs if (pid := launcher.pid(s.name)) is not None}
            console.print(f"{label}: lakehouse run --sf {args.sf:g} --days {days} (its output: {log})")
            t = time.perf_counter()
            with log.open("w") as out:
                run = subprocess.Popen(
                    [sys.executable, "-m", "flows.cli", "run", "--sf", f"{args.sf:g}", "--days", str(days)],
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
                with MemorySampler(roots | {"lakehouse run": run.pid}) as peaks:
                    code = run.wait()
            seconds = time.perf_counter() - t
            if code:
                console.print(log.read_text(errors="replace")[-4000:])
                raise SystemExit(f"{label} failed (exit {code}); its output is above and in {log}")
            _print_run(label, args.sf, seconds, peaks, _steps(settings.stack_prefect_api_url))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


def _print_run(
    label: str, sf: float, seconds: float, peaks: MemoryPeaks, steps: list[tuple[str, str, float, str]]
) -> None:
    """One run's steps and memory, printed as soon as it ends (an SF10 run takes an hour or more)."""
    gib = 1024**3
    title = f"{label} at SF{sf:g}: {seconds:.1f} s (`lakehouse run`, its process start included)"
    table = Table(title=title)
    for column in ("level", "step", "seconds", "state"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for level, name, secs, state in steps:
        table.add_row(level, name, f"{secs:.1f}", state)
    console.print(table)
    groups = ", ".join(f"{name} {peak / gib:.2f}" for name, peak in sorted(peaks.by_group.items()))
    console.print(
        f"{label}: memory high-water mark {peaks.total / gib:.2f} GiB resident in all "
        f"({groups} GiB); machine in use at most {peaks.machine_used / gib:.2f} GiB"
    )


if __name__ == "__main__":
    main()
