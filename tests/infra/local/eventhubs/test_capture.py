"""Capture: Avro files in Azure's schema and layout, windows, checkpoints, and the lake end to end."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import fastavro
import pytest

from infra.local.eventhubs import codec
from infra.local.eventhubs.capture import (
    CAPTURE_FIELDS,
    CAPTURE_SCHEMA,
    CaptureEvent,
    FolderSink,
    LakeSink,
    LogTail,
    PartitionCapture,
    capture_path,
    event_from_stored,
    format_enqueued_time,
    read_capture_events,
    run_from_log,
)
from infra.local.eventhubs.codec import Symbol
from infra.local.eventhubs.storage import PartitionLog
from infra.local.launcher import Launcher, running
from infra.local.services import eventhubs_spec
from infra.settings import Settings
from tests.infra.local.eventhubs.conftest import send_bodies, write_test_config

T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC, on a 60 s window boundary + 20 s


def event(seq: int, enqueued_ms: int, body: bytes = b"{}") -> CaptureEvent:
    return CaptureEvent(seq, str(seq * 100), enqueued_ms, {"x-opt-enqueued-time": enqueued_ms}, {}, body)


def capture(tmp_path: Path, **overrides: object) -> PartitionCapture:
    values: dict[str, object] = {
        "namespace": "ns",
        "hub": "hub",
        "partition_id": "0",
        "sink": FolderSink(tmp_path / "landing"),
        "checkpoint_path": tmp_path / "checkpoints" / "0.json",
        "window_seconds": 60.0,
        "window_bytes": 10_000_000,
        "skip_empty": True,
    }
    values.update(overrides)
    return PartitionCapture(**values)


def avro_files(root: Path) -> dict[str, list[dict]]:
    files = sorted((root / "landing").rglob("*.avro"))
    return {
        str(f.relative_to(root / "landing")): list(fastavro.reader(io.BytesIO(f.read_bytes()))) for f in files
    }


def test_records_follow_azures_schema_and_naming() -> None:
    assert (
        CAPTURE_SCHEMA["name"] == "EventData"
        and CAPTURE_SCHEMA["namespace"] == "Microsoft.ServiceBus.Messaging"
    )
    assert CAPTURE_FIELDS == [
        "SequenceNumber",
        "Offset",
        "EnqueuedTimeUtc",
        "SystemProperties",
        "Properties",
        "Body",
    ]
    assert format_enqueued_time(1_638_457_104_000) == "12/2/2021 2:58:24 PM"
    assert format_enqueued_time(1_638_403_200_000) == "12/2/2021 12:00:00 AM"
    assert capture_path("emulatorNs1", "product-reviews", "3", 1_638_457_104) == (
        "eventhubs/emulatorNs1/product-reviews/3/2021/12/02/14/58/24.avro"
    )
    message = codec.encode_message(
        annotations={Symbol("x-opt-partition-key"): "user-1"},
        application_properties={"kind": "review", "stars": 5, "score": 0.5, "none": None},
        data=b'{"id": 1}',
    )
    from infra.local.eventhubs.storage import StoredEvent

    record = event_from_stored(StoredEvent(4096, 7, 1_638_457_104_000, message)).record()
    assert record == {
        "SequenceNumber": 7,
        "Offset": "4096",
        "EnqueuedTimeUtc": "12/2/2021 2:58:24 PM",
        "SystemProperties": {
            "x-opt-partition-key": "user-1",
            "x-opt-sequence-number": 7,
            "x-opt-offset": "4096",
            "x-opt-enqueued-time": 1_638_457_104_000,
        },
        "Properties": {"kind": "review", "stars": 5, "score": 0.5, "none": None},
        "Body": b'{"id": 1}',
    }


def test_time_window_writes_one_file_per_window(tmp_path: Path) -> None:
    cap = capture(tmp_path)
    window = T0 - T0 % 60_000
    for seq, offset_ms in enumerate([0, 1_000, 59_999, 60_000, 61_000]):
        cap.add(event(seq, window + offset_ms))
    cap.tick(now_ms=window + 120_000 + 1_000)
    files = avro_files(tmp_path)
    first = capture_path("ns", "hub", "0", window // 1000)
    second = capture_path("ns", "hub", "0", window // 1000 + 60)
    assert {name: [r["SequenceNumber"] for r in records] for name, records in files.items()} == {
        first: [0, 1, 2],
        second: [3, 4],
    }
    assert cap.checkpoint.sequence_number == 4


def test_size_window_splits_and_names_stay_unique(tmp_path: Path) -> None:
    cap = capture(tmp_path, window_bytes=3 * (100 + 64))
    window = T0 - T0 % 60_000
    for seq in range(7):
        cap.add(event(seq, window + 10, body=b"x" * 100))  # all in the same second
    cap.tick(now_ms=window + 61_000)
    files = avro_files(tmp_path)
    assert [[r["SequenceNumber"] for r in records] for records in files.values()] == [
        [0, 1, 2],
        [3, 4, 5],
        [6],
    ]
    seconds = [window // 1000 + i for i in range(3)]
    assert list(files) == [capture_path("ns", "hub", "0", s) for s in seconds]


def test_empty_windows_skip_or_write_header_only_files(tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    skipping = capture(tmp_path / "skip")
    skipping.tick(now_ms=now + 180_000)
    assert avro_files(tmp_path / "skip") == {}
    writing = capture(tmp_path / "write", skip_empty=False)
    writing.tick(now_ms=now + 180_000)
    files = sorted((tmp_path / "write" / "landing").rglob("*.avro"))
    assert len(files) == 1
    reader = fastavro.reader(io.BytesIO(files[0].read_bytes()))
    assert list(reader) == [] and reader.writer_schema["name"] == "Microsoft.ServiceBus.Messaging.EventData"
    assert files[0].read_bytes().count(reader.metadata["avro.schema"].encode()) == 1  # header, no data block


def test_restart_in_the_middle_of_a_window_duplicates_nothing(tmp_path: Path) -> None:
    """The endpoint's log is the source; Capture restarts from its checkpoint and rewrites the same file."""
    log = PartitionLog(tmp_path / "log")
    window = T0 - T0 % 60_000
    messages = [codec.encode_message(data=f"e{i}".encode()) for i in range(10)]
    log.append(messages[:4], window + 1_000)

    def run_once(now_ms: int) -> PartitionCapture:
        cap = capture(tmp_path)
        tail = LogTail(tmp_path / "log")
        tail.skip_through(cap.checkpoint.sequence_number)
        for stored in tail.read():
            cap.add(event_from_stored(stored))
        cap.tick(now_ms=now_ms)
        return cap

    # first run: the window is still open when Capture stops (nothing written, nothing checkpointed)
    assert run_once(window + 30_000).checkpoint.sequence_number == -1
    log.append(messages[4:7], window + 50_000)
    # second run: the window closes and is written once, with all seven events
    assert run_once(window + 61_000).checkpoint.sequence_number == 6
    # a crash after the file but before the checkpoint: the same file is rewritten, not duplicated
    checkpoint_file = tmp_path / "checkpoints" / "0.json"
    checkpoint_file.unlink()
    log.append(messages[7:], window + 70_000)
    assert run_once(window + 121_000).checkpoint.sequence_number == 9
    files = avro_files(tmp_path)
    assert {name: [r["Body"] for r in records] for name, records in files.items()} == {
        capture_path("ns", "hub", "0", window // 1000): [f"e{i}".encode() for i in range(7)],
        capture_path("ns", "hub", "0", window // 1000 + 60): [f"e{i}".encode() for i in range(7, 10)],
    }
    log.close()


def test_run_from_log_tails_every_partition(tmp_path: Path) -> None:
    config = write_test_config(tmp_path / "Config.json")
    settings = Settings(
        state_dir=tmp_path / "state",
        eventhubs_config=config,
        capture_window_seconds=1.0,
        capture_skip_empty=True,
    )
    log = PartitionLog(tmp_path / "state" / "eventhubs" / "capture-hub" / "1")
    log.append([codec.encode_message(data=b"live")], int(time.time() * 1000))
    stop = threading.Event()
    worker = threading.Thread(target=run_from_log, args=(settings, FolderSink(tmp_path / "landing"), stop))
    worker.start()
    try:
        deadline = time.time() + 10
        while not list((tmp_path / "landing").rglob("*.avro")) and time.time() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join()
        log.close()
    files = avro_files(tmp_path)
    assert [(name.split("/")[3], [r["Body"] for r in records]) for name, records in files.items()] == [
        ("1", [b"live"])
    ]


@pytest.mark.services
@pytest.mark.spark
def test_capture_to_the_lake_read_by_fastavro_and_spark(lake_stack: Settings, spark, tmp_path: Path) -> None:
    """Capture on, through the DFS endpoint; a restart in the middle of a window duplicates nothing."""
    from infra.storage.lake import Lake

    settings = lake_stack.model_copy(
        update={
            "state_dir": tmp_path,
            "amqp_port": _free(),
            "eventhubs_health_port": _free(),
            "eventhubs_config": write_test_config(tmp_path / "Config.json"),
            "capture_enabled": True,
            "capture_window_seconds": 4.0,
            "capture_skip_empty": True,
        }
    )
    launcher = Launcher(settings.state_dir)
    spec = eventhubs_spec(settings)
    sent = {"0": [f'{{"n": {i}}}' for i in range(30)], "1": [f'{{"n": {i}}}' for i in range(30, 45)]}
    with running(launcher, [spec]):
        send_bodies(
            settings_endpoint(settings, launcher, spec), "capture-hub", sent["0"][:20], partition_id="0"
        )
        send_bodies(settings_endpoint(settings, launcher, spec), "capture-hub", sent["1"], partition_id="1")
        launcher.stop(spec)  # in the middle of the window: nothing of it is written yet
        launcher.start(spec)
        send_bodies(
            settings_endpoint(settings, launcher, spec), "capture-hub", sent["0"][20:], partition_id="0"
        )
        with Lake(settings) as lake:
            deadline = time.time() + 40
            records: dict[str, list[dict]] = {}
            while time.time() < deadline:
                try:  # a file being (re)written can be read half-way; the final read below is strict
                    records = {p: read_capture_events(lake, settings, "capture-hub", p) for p in ("0", "1")}
                except Exception:
                    records = {}
                if sum(len(r) for r in records.values()) >= 45:
                    break
                time.sleep(0.5)
            time.sleep(settings.capture_window_seconds + 1)  # nothing more arrives later
            records = {p: read_capture_events(lake, settings, "capture-hub", p) for p in ("0", "1")}
    for partition_id, bodies in sent.items():
        assert [r["Body"].decode() for r in records[partition_id]] == bodies
        assert [r["SequenceNumber"] for r in records[partition_id]] == list(range(len(bodies)))

    # Spark reads the Capture files where they are: in the landing zone, over abfs://.
    pattern = settings.lake_url(
        "landing", "eventhubs", settings.eventhubs_namespace, "capture-hub", *["*"] * 6
    )
    capture_df = spark.read.format("avro").load(pattern + "/*.avro")
    assert capture_df.columns == CAPTURE_FIELDS
    assert capture_df.schema["SequenceNumber"].dataType.simpleString() == "bigint"
    assert capture_df.schema["Body"].dataType.simpleString() == "binary"
    rows = capture_df.selectExpr(
        "SequenceNumber", "CAST(Body AS STRING) AS body", "input_file_name() AS f"
    ).collect()
    by_partition: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: (r.f, r.SequenceNumber)):
        by_partition.setdefault(row.f.split("/capture-hub/")[1].split("/")[0], []).append(row.body)
    assert by_partition == sent


def settings_endpoint(settings: Settings, launcher: Launcher, spec):
    from tests.infra.local.eventhubs.conftest import Endpoint

    return Endpoint(settings, launcher, spec)


def _free() -> int:
    from infra.local.launcher import free_port

    return free_port()


@pytest.mark.services
def test_lake_sink_commits_whole_files_and_rewrites_a_window(lake_stack: Settings) -> None:
    """A Capture file appears by rename (never empty or partial); a window written again replaces it."""
    from infra.storage.lake import Lake
    from tests.conftest import with_fresh_zones

    settings = with_fresh_zones(lake_stack)
    sink = LakeSink(settings)
    path = "eventhubs/ns/hub/0/2026/01/01/00/00/00.avro"
    sink.write(path, b"first")
    sink.write(path, b"second")
    with Lake(settings) as lake:
        assert [e.path for e in lake.files("landing", "eventhubs")] == [path]
        assert lake.read_bytes("landing", path) == b"second"
