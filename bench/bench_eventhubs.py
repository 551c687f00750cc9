"""Benchmark of the local Event Hubs endpoint: ingest, receive, and send-to-Capture-file latency.

Starts its own endpoint (and, for Capture, Azurite + the DFS endpoint) on free ports in a temporary state
folder, through the same launcher specs ``lakehouse up`` uses, and prints a table::

    .venv/bin/python bench/bench_eventhubs.py                 # everything
    .venv/bin/python bench/bench_eventhubs.py --skip-capture  # ingest + receive only (no lake needed)

* **ingest** — SDK batches (``EventHubProducerClient.create_batch``/``send_batch``) of 1 KB events to the
  4 partitions of ``product-reviews``, one sending thread per partition, for ``--seconds``; events/s and
  MB/s. The peer figure is the SDK alone building the same batches (no network) in the same run.
* **receive** — one ``EventHubConsumerClient`` reading one partition from the start.
* **capture latency** — time from ``send_batch`` returning to the event being in an Avro file in the
  landing zone, with a 60 s window and with the shortest window. Capture's windows are set through
  ``LAKEHOUSE_CAPTURE_WINDOW_SECONDS``; the real service's minimum is 60 s, the local endpoint accepts
  any value (the "shortest" run uses 1 s) so the overhead beyond the window can be measured quickly.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from azure.eventhub import EventData, EventHubConsumerClient, EventHubProducerClient

from infra.local.launcher import Launcher, free_port, running
from infra.local.services import eventhubs_spec
from infra.settings import Settings

HUB = "product-reviews"
EVENT = b"x" * 1024
STARTUP_ALLOWANCE = 0.0  # producer start-up time is counted in (a conservative rate)


def bench_settings(state_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "state_dir": state_dir,
        "blob_port": free_port(),
        "dfs_port": free_port(),
        "amqp_port": free_port(),
        "eventhubs_health_port": free_port(),
        "capture_enabled": False,
    }
    values.update(overrides)
    return Settings(**values)


def sdk_batch_rate(seconds: float) -> float:
    """Events/s the SDK reaches building 1 KB-event batches alone (the peer figure)."""
    from azure.eventhub import EventDataBatch

    events = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        batch = EventDataBatch(max_size_in_bytes=1024 * 1024, partition_id="0")
        try:
            while True:
                batch.add(EventData(EVENT))
        except ValueError:
            pass
        events += len(batch)
    return events / (time.perf_counter() - start)


def _send_for(connection_string: str, seconds: float, partitions: list[str], results) -> None:
    """One producer process: one thread per partition, each sending SDK batches for ``seconds``."""
    counts = dict.fromkeys(partitions, 0)
    stop_at = time.perf_counter() + seconds

    def send(partition_id: str) -> None:
        producer = EventHubProducerClient.from_connection_string(connection_string, eventhub_name=HUB)
        with producer:
            while time.perf_counter() < stop_at:
                batch = producer.create_batch(partition_id=partition_id)
                try:
                    while True:
                        batch.add(EventData(EVENT))
                except ValueError:
                    pass
                producer.send_batch(batch)
                counts[partition_id] += len(batch)

    threads = [threading.Thread(target=send, args=(pid,)) for pid in partitions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(sum(counts.values()))


def ingest(settings: Settings, seconds: float, partitions: list[str], processes: int) -> tuple[int, float]:
    """Events sent in ``seconds`` by ``processes`` producer processes sharing the partitions."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = [
        context.Process(
            target=_send_for,
            args=(settings.eventhubs_connection_string, seconds, partitions[i::processes], results),
        )
        for i in range(processes)
    ]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    sent = sum(results.get() for _ in workers)
    for worker in workers:
        worker.join()
    return sent, time.perf_counter() - start - STARTUP_ALLOWANCE


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def receive(settings: Settings, partition_id: str, expected: int) -> tuple[int, float]:
    """Read ``expected`` events of one partition from the start; returns (events, seconds)."""
    consumer = EventHubConsumerClient.from_connection_string(
        settings.eventhubs_connection_string, consumer_group="$Default", eventhub_name=HUB, prefetch=1000
    )
    received = 0
    started: list[float] = []
    finished: list[float] = []

    def on_events(_context, events) -> None:
        nonlocal received
        if not started:
            started.append(time.perf_counter())
        received += len(events)
        if received >= expected and not finished:
            finished.append(time.perf_counter())
            threading.Thread(target=consumer.close).start()

    with consumer:
        consumer.receive_batch(
            on_event_batch=on_events, partition_id=partition_id, starting_position="-1", max_batch_size=1000
        )
    return received, (finished[0] if finished else time.perf_counter()) - started[0]


def capture_latency(window_seconds: float, samples: int) -> list[float]:
    """Seconds from send to the event being readable in a Capture file, for ``samples`` events."""
    from infra.local.eventhubs.capture import read_capture_events
    from infra.local.services import azurite_spec, dfs_spec
    from infra.storage.lake import Lake

    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(
            Path(tmp), capture_enabled=True, capture_window_seconds=window_seconds, capture_skip_empty=True
        )
        launcher = Launcher(settings.state_dir)
        specs = [azurite_spec(settings), dfs_spec(settings), eventhubs_spec(settings)]
        with running(launcher, specs[:2]):
            with Lake(settings) as lake:
                lake.ensure_zones(("landing",))
            with running(launcher, specs[2:]), Lake(settings) as lake:
                producer = EventHubProducerClient.from_connection_string(
                    settings.eventhubs_connection_string, eventhub_name=HUB
                )
                latencies = []
                with producer:
                    for i in range(samples):
                        body = f"latency-probe-{i}-{time.time()}".encode()
                        batch = producer.create_batch(partition_id="0")
                        batch.add(EventData(body))
                        producer.send_batch(batch)
                        sent = time.perf_counter()
                        while True:
                            bodies = {e["Body"] for e in read_capture_events(lake, settings, HUB, "0")}
                            if body in bodies:
                                latencies.append(time.perf_counter() - sent)
                                break
                            if time.perf_counter() - sent > window_seconds + 60:
                                raise RuntimeError("event never reached a Capture file")
                            time.sleep(0.1)
                return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="ingest duration")
    parser.add_argument("--skip-capture", action="store_true", help="skip the Capture latency runs")
    parser.add_argument("--capture-samples", type=int, default=3)
    parser.add_argument("--producers", type=int, default=2, help="producer processes (the SDK is CPU-bound)")
    args = parser.parse_args()

    rows: list[tuple[str, str]] = []
    peer = sdk_batch_rate(3.0)
    rows.append(("SDK alone: build batches of 1 KB events", f"{peer:,.0f} events/s"))

    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp))
        launcher = Launcher(settings.state_dir)
        with running(launcher, [eventhubs_spec(settings)]):
            partitions = ["0", "1", "2", "3"]
            server_pid = launcher.pid("eventhubs")
            assert server_pid is not None
            cpu_before = cpu_seconds(server_pid)
            sent, elapsed = ingest(settings, args.seconds, partitions, args.producers)
            server_cpu = cpu_seconds(server_pid) - cpu_before
            rate = sent / elapsed
            rows.append(
                (
                    f"ingest: SDK batches of 1 KB events, 4 partitions, "
                    f"{args.producers} producer process(es), {args.seconds:.0f} s",
                    f"{rate:,.0f} events/s  {rate * 1024 / 1e6:,.1f} MB/s  ({sent:,} events)",
                )
            )
            rows.append(
                (
                    "ingest: endpoint CPU per event (capacity if it had a core to itself)",
                    f"{server_cpu / sent * 1e6:.1f} us/event  (~{sent / server_cpu:,.0f} events/s per core)",
                )
            )
            per_partition = sent // len(partitions)
            got, seconds = receive(settings, "0", min(per_partition, 50_000))
            rows.append(
                ("receive: one consumer, one partition", f"{got / seconds:,.0f} events/s ({got:,} events)")
            )

    if not args.skip_capture:
        for window in (60.0, 1.0):
            latencies = capture_latency(window, args.capture_samples)
            rows.append(
                (
                    f"capture: send -> in Avro file, {window:.0f} s window",
                    f"max {max(latencies):.2f} s, mean {sum(latencies) / len(latencies):.2f} s "
                    f"(goal <= {window + 2:.0f} s)",
                )
            )

    width = max(len(name) for name, _ in rows)
    print(f"\n{'measure'.ljust(width)}  result")
    print(f"{'-' * width}  {'-' * 40}")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    print(f"\n(python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
