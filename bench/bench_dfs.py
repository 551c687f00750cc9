"""Benchmark of the DFS endpoint: ``.venv/bin/python bench/bench_dfs.py [--size-mb 256] [--rounds 3]``.

Starts its own Azurite + DFS endpoint on free ports (state in a temporary folder) and measures, with both
sides of every ratio run in the same process and interleaved round by round (the machine is shared):

1. upload and download of one large file through the DFS endpoint (DataLake SDK) versus straight to Azurite's
   Blob API (azure-storage-blob), in MB/s, and the ratio DFS / direct;
2. writing 1M rows of Delta over abfs:// through the endpoint versus the same write to local disk;
3. 1,000 small-file creates and one listing through the endpoint, in requests per second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from azure.storage.blob import BlobServiceClient
from azure.storage.filedatalake import DataLakeServiceClient

from infra.local.launcher import Launcher, free_port, running
from infra.local.services import azurite_spec, dfs_spec
from infra.settings import Settings
from infra.storage.lake import credential_for

MB = 1024 * 1024
BLOCK = 8 * MB
CONCURRENCY = 2


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


def delta_write(settings: Settings, rows: int, rounds: int) -> tuple[float, float]:
    """Median seconds to write ``rows`` rows of Delta over abfs:// and to local disk."""
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
    finally:
        spark.stop()
    return statistics.median(abfs_times), statistics.median(local_times)


def small_files(settings: Settings, count: int) -> tuple[float, float, int]:
    """(creates per second, files listed per second of the listing, files listed)."""
    dfs = DataLakeServiceClient(settings.dfs_url, credential=credential_for(settings))
    fs = dfs.get_file_system_client("small")
    fs.create_file_system()

    def create(i: int) -> None:
        fs.create_file(f"events/part={i % 10}/e{i:05d}.json")

    with ThreadPoolExecutor(max_workers=8) as pool:
        created = timed(lambda: list(pool.map(create, range(count))))
    listed: list[str] = []
    listing = timed(lambda: listed.extend(p.name for p in fs.get_paths(path="events") if not p.is_directory))
    assert len(listed) == count
    return count / created, count / listing, len(listed)


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
    with running(launcher, [azurite_spec(settings), dfs_spec(settings)]):
        with DataLakeServiceClient(settings.dfs_url, credential=credential_for(settings)) as service:
            service.get_file_system_client("silver").create_file_system()
        results = large_file(settings, args.size_mb, args.rounds)
        creates_per_s, listed_per_s, listed = small_files(settings, args.small_files)
        delta = None if args.skip_spark else delta_write(settings, args.rows, max(1, args.rounds - 1))

    print(f"\nDFS endpoint benchmark ({os.cpu_count()} cores, medians of {args.rounds} interleaved rounds)\n")
    print(f"{'measure':<34}{'through DFS':>14}{'direct/local':>14}{'ratio':>8}")
    for operation, through_dfs, direct in results:
        label = f"{operation} {args.size_mb} MB (MB/s)"
        print(f"{label:<34}{through_dfs:>14.1f}{direct:>14.1f}{through_dfs / direct:>8.2f}")
    if delta is not None:
        abfs_s, local_s = delta
        label = f"Delta write {args.rows:,} rows (s)"
        print(f"{label:<34}{abfs_s:>14.1f}{local_s:>14.1f}{local_s / abfs_s:>8.2f}")
    print(f"{f'{args.small_files:,} small-file creates (req/s)':<34}{creates_per_s:>14.0f}")
    print(f"{f'list {listed:,} files (paths/s)':<34}{listed_per_s:>14.0f}")


if __name__ == "__main__":
    main()
