"""Benchmark of the DFS endpoint: ``.venv/bin/python bench/bench_dfs.py [--size-mb 256] [--rounds 3]``.

Starts its own Azurite + DFS endpoint on free ports (state in a temporary folder) and measures, with both
sides of every ratio run in the same process and interleaved round by round (the machine is shared):

1. upload and download of one large file through the DFS endpoint (DataLake SDK) versus straight to Azurite's
   Blob API (azure-storage-blob), in MB/s, and the ratio DFS / direct;
2. writing 1M rows of Delta over abfs:// through the endpoint versus the same write to local disk;
3. 1,000 small-file creates (create, append, flush: what the ABFS driver and the DataLake SDK send for a
   small file) and one listing through the endpoint, per second, with the CPU the endpoint, Azurite and the
   client spent; beside them the same number of one-call Put Blob creates straight to Azurite with the same
   SDK and threads, the ceiling any endpoint in front of Azurite stays under on this machine;
4. the Azurite calls each DFS operation made (the endpoint runs with ``--count-calls``), and the DFS calls the
   ABFS driver makes for one small Delta commit (10 rows appended to an existing table).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

from azure.storage.blob import BlobServiceClient
from azure.storage.filedatalake import DataLakeServiceClient

from infra.local.launcher import Launcher, free_port, running
from infra.local.services import azurite_spec, dfs_spec
from infra.settings import Settings
from infra.storage.lake import credential_for

MB = 1024 * 1024
BLOCK = 8 * MB
CONCURRENCY = 2
Calls = dict[str, dict[str, Any]]  # GET /_stats: {operation: {"requests": n, "blob_calls": {call: n}}}


def call_counts(settings: Settings, clear: bool = False) -> Calls:
    """The endpoint's tally of DFS operations and their Azurite calls (``clear`` starts it again)."""
    request = Request(
        f"http://{settings.host}:{settings.dfs_port}/_stats", method="DELETE" if clear else "GET"
    )
    with urlopen(request) as response:
        return json.loads(response.read())


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class NullSink:
    """A seekable writable stream that keeps nothing, only the size (parallel downloads seek)."""

    def __init__(self) -> None:
        self.size = 0
        self.position = 0

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = offset if whence == 0 else self.position + offset
        return self.position

    def tell(self) -> int:
        return self.position

    def write(self, data: bytes) -> int:
        self.position += len(data)
        self.size = max(self.size, self.position)
        return len(data)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def large_file(settings: Settings, size_mb: int, rounds: int) -> list[tuple[str, float, float]]:
    """(operation, DFS MB/s, direct MB/s) medians over ``rounds`` interleaved rounds."""
    payload = os.urandom(size_mb * MB)
    credential = credential_for(settings)
    dfs = DataLakeServiceClient(settings.dfs_url, credential=credential)
    blob = BlobServiceClient(
        settings.blob_url, credential=credential, max_block_size=BLOCK, max_single_put_size=BLOCK
    )
    dfs.get_file_system_client("bench").create_file_system()
    dfs_file = dfs.get_file_system_client("bench").get_file_client("large/through-dfs.bin")
    blob_file = blob.get_blob_client("bench", "large/direct.bin")
    times: dict[str, list[float]] = {k: [] for k in ("up-dfs", "up-blob", "down-dfs", "down-blob")}
    for _ in range(rounds):
        times["up-dfs"].append(
            timed(
                lambda: dfs_file.upload_data(
                    payload, overwrite=True, chunk_size=BLOCK, max_concurrency=CONCURRENCY
                )
            )
        )
        times["up-blob"].append(
            timed(lambda: blob_file.upload_blob(payload, overwrite=True, max_concurrency=CONCURRENCY))
        )
        sink_dfs, sink_blob = NullSink(), NullSink()
        times["down-dfs"].append(
            timed(lambda sink=sink_dfs: dfs_file.download_file(max_concurrency=CONCURRENCY).readinto(sink))
        )
        times["down-blob"].append(
            timed(lambda sink=sink_blob: blob_file.download_blob(max_concurrency=CONCURRENCY).readinto(sink))
        )
        assert sink_dfs.size == sink_blob.size == len(payload)
    speed = {k: size_mb / statistics.median(v) for k, v in times.items()}
    return [
        ("upload", speed["up-dfs"], speed["up-blob"]),
        ("download", speed["down-dfs"], speed["down-blob"]),
    ]


def delta_write(settings: Settings, rows: int, rounds: int) -> tuple[float, float, Calls]:
    """Median seconds to write ``rows`` rows of Delta over abfs:// and to local disk, and the DFS calls of
    one small commit (10 rows appended to the first abfs:// table)."""
    from infra.spark import build_spark_session

    spark = build_spark_session(
        settings,
        app_name="bench-dfs",
        extra_conf={
            "spark.ui.enabled": "false",
            # Hadoop 3.5's ABFS: the Apache HTTP client cannot do plain http; no metrics to a local endpoint.
            "spark.hadoop.fs.azure.networking.library": "JDK_HTTP_URL_CONNECTION",
            "spark.hadoop.fs.azure.metrics.collection.enabled": "false",
        },
    )
    frame = spark.range(rows).selectExpr(
        "id AS order_id", "id % 97 AS customer_id", "rand(7) * 100 AS amount_eur"
    )
    frame.cache().count()
    local_root = Path(tempfile.mkdtemp(prefix="bench-delta-"))
    abfs_times, local_times = [], []
    try:
        for i in range(rounds):
            abfs_url = settings.lake_url("silver", f"bench/orders_{i}")
            abfs_times.append(timed(lambda url=abfs_url: frame.write.format("delta").save(url)))
            local_url = (local_root / f"orders_{i}").as_uri()
            local_times.append(timed(lambda url=local_url: frame.write.format("delta").save(url)))
        ten_rows = frame.limit(10).localCheckpoint()  # computed before counting starts
        call_counts(settings, clear=True)
        ten_rows.write.format("delta").mode("append").save(settings.lake_url("silver", "bench/orders_0"))
        commit_calls = call_counts(settings)
    finally:
        spark.stop()
    return statistics.median(abfs_times), statistics.median(local_times), commit_calls


@dataclasses.dataclass
class SmallFiles:
    creates_per_s: float
    direct_per_s: float  # one Put Blob each, straight to Azurite
    listed_per_s: float
    listed: int
    cpu_per_create_ms: dict[str, float]  # process -> CPU milliseconds per create
    direct_cpu_ms: dict[str, float]  # the same per direct Put Blob
    calls: Calls  # of the creates


def small_files(settings: Settings, count: int, pids: dict[str, int | None]) -> SmallFiles:
    """Create ``count`` small files through the endpoint (8 threads), then list them.

    One create is what the ABFS driver and the DataLake SDK do for a small file: create the path
    (``PUT ?resource=file``), append its bytes (``PATCH ?action=append``) and flush them
    (``PATCH ?action=flush``).
    """
    dfs = DataLakeServiceClient(settings.dfs_url, credential=credential_for(settings))
    fs = dfs.get_file_system_client("small")
    fs.create_file_system()
    for part in range(10):
        fs.create_directory(f"events/part={part}")
    payload = b'{"event_id": 1, "kind": "click"}\n'

    def create(i: int) -> None:
        file = fs.get_file_client(f"events/part={i % 10}/e{i:05d}.json")
        file.create_file()
        file.append_data(payload, 0, len(payload))
        file.flush_data(len(payload))

    blob = BlobServiceClient(settings.blob_url, credential=credential_for(settings))
    direct = blob.get_container_client("small")

    def put_blob(i: int) -> None:
        direct.upload_blob(f"direct/part={i % 10}/e{i:05d}.json", payload)

    pids = {**pids, "client": os.getpid()}

    def measured(action: Callable[[int], None]) -> tuple[float, dict[str, float]]:
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        with ThreadPoolExecutor(max_workers=8) as pool:
            took = timed(lambda: list(pool.map(action, range(count))))
        return took, {name: (cpu_seconds(pid) - before[name]) * 1000 / count for name, pid in pids.items()}

    call_counts(settings, clear=True)
    created, cpu = measured(create)
    calls = call_counts(settings)
    direct_took, direct_cpu = measured(put_blob)
    listed: list[str] = []
    listing = timed(lambda: listed.extend(p.name for p in fs.get_paths(path="events") if not p.is_directory))
    assert len(listed) == count
    return SmallFiles(
        count / created, count / direct_took, count / listing, len(listed), cpu, direct_cpu, calls
    )


def print_calls(title: str, calls: Calls, per: int) -> None:
    """One line per DFS operation: requests (per ``per`` units) and the Azurite calls of each request."""
    print(f"\n{title}")
    print(f"{'DFS operation':<28}{'requests':>10}  Azurite calls per request")
    total_requests = total_calls = 0
    for operation, row in calls.items():
        requests, blob_calls = row["requests"], row["blob_calls"]
        total_requests += requests
        total_calls += sum(blob_calls.values())
        each = ", ".join(f"{call} {n / max(requests, 1):.2g}" for call, n in blob_calls.items()) or "-"
        print(f"{operation:<28}{requests / per:>10.3g}  {each}")
    print(
        f"{'total':<28}{total_requests / per:>10.3g}  {total_calls / max(total_requests, 1):.2f} on average"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-files", type=int, default=1000)
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="bench-dfs-"))
    settings = Settings(
        state_dir=state,
        blob_port=free_port(),
        dfs_port=free_port(),
        spark_master="local[2]",
        spark_shuffle_partitions=2,
    )
    launcher = Launcher(state)
    dfs = dfs_spec(settings)
    dfs = dataclasses.replace(dfs, command=[*dfs.command, "--count-calls"])  # the tally costs ~1 µs a call
    with running(launcher, [azurite_spec(settings), dfs]) as (azurite, endpoint):
        with DataLakeServiceClient(settings.dfs_url, credential=credential_for(settings)) as service:
            service.get_file_system_client("silver").create_file_system()
        results = large_file(settings, args.size_mb, args.rounds)
        small = small_files(settings, args.small_files, {"endpoint": endpoint.pid, "azurite": azurite.pid})
        delta = None if args.skip_spark else delta_write(settings, args.rows, max(1, args.rounds - 1))

    print(f"\nDFS endpoint benchmark ({os.cpu_count()} cores, medians of {args.rounds} interleaved rounds)\n")
    print(f"{'measure':<34}{'through DFS':>14}{'direct/local':>14}{'ratio':>8}")
    for operation, through_dfs, direct in results:
        label = f"{operation} {args.size_mb} MB (MB/s)"
        print(f"{label:<34}{through_dfs:>14.1f}{direct:>14.1f}{through_dfs / direct:>8.2f}")
    if delta is not None:
        abfs_s, local_s, _ = delta
        label = f"Delta write {args.rows:,} rows (s)"
        print(f"{label:<34}{abfs_s:>14.1f}{local_s:>14.1f}{local_s / abfs_s:>8.2f}")
    label = f"{args.small_files:,} small-file creates (/s)"
    ratio = small.creates_per_s / small.direct_per_s
    print(f"{label:<34}{small.creates_per_s:>14.0f}{small.direct_per_s:>14.0f}{ratio:>8.2f}")
    print(f"{f'list {small.listed:,} files (paths/s)':<34}{small.listed_per_s:>14.0f}")
    cpu = ", ".join(f"{name} {ms:.1f} ms" for name, ms in small.cpu_per_create_ms.items())
    print(f"CPU per small-file create: {cpu}")
    cpu = ", ".join(f"{name} {ms:.1f} ms" for name, ms in small.direct_cpu_ms.items())
    print(f"CPU per direct Put Blob (the 'direct' column: one Azurite call, no endpoint): {cpu}")
    print_calls("One small-file create (create + append + flush), per create:", small.calls, args.small_files)
    if delta is not None:
        print_calls("One small Delta commit over abfs:// (append 10 rows), in all:", delta[2], 1)


if __name__ == "__main__":
    main()
