"""Event Hubs Capture: each partition's events as Avro files in the landing zone, in the official format.

Files follow Azure's Capture layout and schema, so the same readers work on both::

    landing/eventhubs/{Namespace}/{EventHub}/{PartitionId}/{Year}/{Month}/{Day}/{Hour}/{Minute}/{Second}.avro

Windows are aligned on the events' enqueued time (``floor(t / window)``): a file holds the events of one
time window, or fewer when the size window fills first (the rest of that window goes to a next file).
Empty windows write nothing when ``capture_skip_empty`` is set, else a header-only file (never a file with
an empty data block, which Spark's Avro reader cannot read: SPARK-46633).

Exactly-once across restarts: per partition, a checkpoint (last captured sequence number and last file
name) is written to ``<state_dir>/capture/`` only after the file is in the lake, and file names are a
function of the events and the checkpoint, so a window re-written after a crash overwrites the same file.

Two sources feed the same windows and writer:

* ``--from-log`` (what ``python -m infra.local.eventhubs`` starts): tails the local endpoint's partition logs.
* the default: an ``EventHubConsumerClient`` against any endpoint — Microsoft's emulator (which has no
  Capture) or real Azure — for docker-compose users. ``python -m infra.local.eventhubs.capture --help``.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import fastavro

from infra.local.eventhubs import codec
from infra.local.eventhubs.storage import HEADER_SIZE, RECORD_HEADER, StoredEvent
from infra.settings import Settings

_LOGGER = logging.getLogger(__name__)

CAPTURE_PREFIX = "eventhubs"
# Azure Event Hubs Capture's Avro schema (record EventData, namespace Microsoft.ServiceBus.Messaging).
CAPTURE_SCHEMA: dict[str, Any] = {
    "type": "record",
    "name": "EventData",
    "namespace": "Microsoft.ServiceBus.Messaging",
    "fields": [
        {"name": "SequenceNumber", "type": "long"},
        {"name": "Offset", "type": "string"},
        {"name": "EnqueuedTimeUtc", "type": "string"},
        {
            "name": "SystemProperties",
            "type": {"type": "map", "values": ["long", "double", "string", "bytes"]},
        },
        {
            "name": "Properties",
            "type": {"type": "map", "values": ["long", "double", "string", "bytes", "null"]},
        },
        {"name": "Body", "type": ["null", "bytes"]},
    ],
}
_PARSED_SCHEMA = fastavro.parse_schema(CAPTURE_SCHEMA)
CAPTURE_FIELDS = [f["name"] for f in CAPTURE_SCHEMA["fields"]]
_RECORD_OVERHEAD = 64  # rough Avro bytes per event besides the body, for the size window


# --- records -------------------------------------------------------------------------------------


def format_enqueued_time(enqueued_ms: int) -> str:
    """Capture's ``EnqueuedTimeUtc`` text: ``M/d/yyyy h:mm:ss tt`` in UTC (e.g. ``12/2/2021 2:58:24 PM``)."""
    moment = datetime.fromtimestamp(enqueued_ms / 1000, tz=UTC)
    hour = moment.hour % 12 or 12
    return (
        f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02d}:{moment.second:02d} "
        f"{'AM' if moment.hour < 12 else 'PM'}"
    )


def _avro_value(value: Any, allow_null: bool) -> Any:
    """A property value as one of the union's types (long, double, string, bytes[, null])."""
    if value is None:
        return None if allow_null else ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, codec.Timestamp):
        return int(value)
    if isinstance(value, int | float | str | bytes):
        return value
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return str(value)


def _text(key: Any) -> str:
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)


@dataclass(frozen=True)
class CaptureEvent:
    """One event as Capture stores it."""

    sequence_number: int
    offset: str
    enqueued_ms: int
    system_properties: dict[str, Any]
    properties: dict[str, Any]
    body: bytes | None

    def record(self) -> dict[str, Any]:
        return {
            "SequenceNumber": self.sequence_number,
            "Offset": self.offset,
            "EnqueuedTimeUtc": format_enqueued_time(self.enqueued_ms),
            "SystemProperties": self.system_properties,
            "Properties": self.properties,
            "Body": self.body,
        }

    @property
    def size(self) -> int:
        return len(self.body or b"") + _RECORD_OVERHEAD


def _system_properties(
    sequence_number: int, offset: str, enqueued_ms: int, annotations: dict[Any, Any] | None
) -> dict[str, Any]:
    system: dict[str, Any] = {}
    for key, value in (annotations or {}).items():
        converted = _avro_value(value, allow_null=False)
        if converted is not None:
            system[_text(key)] = converted
    system["x-opt-sequence-number"] = sequence_number
    system["x-opt-offset"] = offset
    system["x-opt-enqueued-time"] = enqueued_ms
    return system


def event_from_stored(event: StoredEvent) -> CaptureEvent:
    """A Capture event from a record of the local endpoint's log (the message is decoded here)."""
    message = codec.decode_message(event.message)
    if message.data:
        body: bytes | None = b"".join(message.data)
    elif isinstance(message.value, bytes):
        body = message.value
    elif isinstance(message.value, str):
        body = message.value.encode("utf-8")
    elif message.value is None:
        body = None
    else:
        body = json.dumps(message.value, default=str).encode("utf-8")
    offset = str(event.offset)
    return CaptureEvent(
        sequence_number=event.sequence_number,
        offset=offset,
        enqueued_ms=event.enqueued_ms,
        system_properties=_system_properties(
            event.sequence_number, offset, event.enqueued_ms, message.annotations
        ),
        properties={
            _text(k): _avro_value(v, allow_null=True)
            for k, v in (message.application_properties or {}).items()
        },
        body=body,
    )


def event_from_sdk(event: Any) -> CaptureEvent:
    """A Capture event from an ``azure.eventhub.EventData`` received by the SDK."""
    enqueued_ms = int(event.enqueued_time.timestamp() * 1000) if event.enqueued_time else 0
    offset = str(event.offset)
    annotations = {
        _text(k): v for k, v in (event.system_properties or {}).items() if _text(k).startswith("x-opt-")
    }
    try:
        body: bytes | None = b"".join(event.body) if not isinstance(event.body, bytes) else event.body
    except TypeError:
        body = str(event.body).encode("utf-8")
    return CaptureEvent(
        sequence_number=event.sequence_number,
        offset=offset,
        enqueued_ms=enqueued_ms,
        system_properties=_system_properties(event.sequence_number, offset, enqueued_ms, annotations),
        properties={_text(k): _avro_value(v, allow_null=True) for k, v in (event.properties or {}).items()},
        body=body,
    )


def avro_file(events: list[CaptureEvent]) -> bytes:
    """An Avro container file (codec null) of ``events``; header-only when there are none."""
    buffer = io.BytesIO()
    fastavro.writer(buffer, _PARSED_SCHEMA, (e.record() for e in events), codec="null")
    return buffer.getvalue()


def capture_path(namespace: str, hub: str, partition_id: str, file_second: int) -> str:
    """``eventhubs/{Namespace}/{EventHub}/{PartitionId}/{Y}/{M}/{D}/{h}/{m}/{s}.avro`` inside landing."""
    moment = datetime.fromtimestamp(file_second, tz=UTC)
    return f"{CAPTURE_PREFIX}/{namespace}/{hub}/{partition_id}/{moment:%Y/%m/%d/%H/%M/%S}.avro"


# --- where files go ------------------------------------------------------------------------------


class CaptureSink(Protocol):
    """Where Capture files go: ``write`` must return only once the file is durably stored."""

    def write(self, path: str, data: bytes) -> None: ...


class LakeSink:
    """The landing zone, through the project's lake client (DFS endpoint locally, ADLS Gen2 on Azure)."""

    def __init__(self, settings: Settings) -> None:
        from infra.storage.lake import Lake

        self.lake = Lake(settings)
        self._lock = threading.Lock()

    def write(self, path: str, data: bytes) -> None:
        """Write the file under a temporary name, then rename it: a reader never sees a partial file.

        Azure's Capture commits each file whole; a DataLake upload is create + append + flush, and a listing
        between the create and the flush would show an empty ``.avro`` file.
        """
        from azure.core.exceptions import ResourceExistsError

        partial = f"{path}.partial"
        with self._lock:
            self.lake.write_bytes("landing", partial, data)
            try:
                self.lake.rename("landing", partial, path)
            except ResourceExistsError:  # a window written again after a restart replaces its file
                self.lake.delete("landing", path)
                self.lake.rename("landing", partial, path)


class FolderSink:
    """A local folder standing in for the landing zone (unit tests, offline use)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, path: str, data: bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(target)


# --- checkpoints and windows ---------------------------------------------------------------------


@dataclass
class Checkpoint:
    """What one partition's Capture has durably written."""

    sequence_number: int = -1  # last event in a written file
    file_second: int = 0  # name (unix seconds) of the last file written
    window_start_ms: int = -1  # time window of the last file written

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            return cls()

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        with temporary.open("w") as handle:
            json.dump(self.__dict__, handle)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)


@dataclass
class PartitionCapture:
    """Time and size windows of one partition, written as Capture files with a checkpoint."""

    namespace: str
    hub: str
    partition_id: str
    sink: CaptureSink
    checkpoint_path: Path
    window_seconds: float
    window_bytes: int
    skip_empty: bool
    grace_seconds: float = 0.5
    checkpoint: Checkpoint = field(init=False)
    _pending: list[CaptureEvent] = field(default_factory=list, init=False)
    _pending_bytes: int = field(default=0, init=False)
    _window_start_ms: int | None = field(default=None, init=False)
    _retry_at: float = field(default=0.0, init=False)
    _empty_from_ms: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.checkpoint = Checkpoint.load(self.checkpoint_path)
        self._window_ms = max(int(self.window_seconds * 1000), 1)
        # Empty windows are written only for windows that end while this process runs.
        self._empty_from_ms = self._grid(int(time.time() * 1000))

    def _grid(self, enqueued_ms: int) -> int:
        return enqueued_ms - enqueued_ms % self._window_ms

    @property
    def last_sequence_number(self) -> int:
        """Highest sequence number captured or waiting in the open window."""
        return self._pending[-1].sequence_number if self._pending else self.checkpoint.sequence_number

    def add(self, event: CaptureEvent) -> None:
        if event.sequence_number <= self.last_sequence_number:
            return  # already captured (a source may replay)
        window = self._grid(event.enqueued_ms)
        if self._pending and window != self._window_start_ms:
            self.flush()
        if not self._pending:
            self._window_start_ms = window
        self._pending.append(event)
        self._pending_bytes += event.size
        if self._pending_bytes >= self.window_bytes:
            self.flush()

    def tick(self, now_ms: int | None = None, caught_up: bool = True) -> None:
        """Close the open window once its time is over (and the source has delivered all it had)."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        if not caught_up or time.monotonic() < self._retry_at:
            return
        grace = int(self.grace_seconds * 1000)
        if self._pending and self._window_start_ms is not None:
            if now_ms >= self._window_start_ms + self._window_ms + grace:
                self.flush()
            return
        if not self.skip_empty:
            closed = self._grid(now_ms - grace) - self._window_ms  # the newest window that is over
            if closed >= self._empty_from_ms and closed > self.checkpoint.window_start_ms:
                self._write([], closed)

    def flush(self) -> None:
        """Write the open window's events as one file, then the checkpoint."""
        if not self._pending or self._window_start_ms is None:
            return
        self._write(self._pending, self._window_start_ms)
        self._pending = []
        self._pending_bytes = 0
        self._window_start_ms = None

    def _write(self, events: list[CaptureEvent], window_start_ms: int) -> None:
        if events and window_start_ms == self.checkpoint.window_start_ms:
            candidate = events[0].enqueued_ms // 1000  # a next file of a window the size limit split
        else:
            candidate = window_start_ms // 1000
        file_second = max(candidate, self.checkpoint.file_second + 1)
        path = capture_path(self.namespace, self.hub, self.partition_id, file_second)
        try:
            self.sink.write(path, avro_file(events))
        except Exception:
            self._retry_at = time.monotonic() + 2.0
            _LOGGER.exception("capture: writing %s failed; retrying", path)
            raise
        self.checkpoint = Checkpoint(
            sequence_number=events[-1].sequence_number if events else self.checkpoint.sequence_number,
            file_second=file_second,
            window_start_ms=window_start_ms,
        )
        self.checkpoint.save(self.checkpoint_path)
        _LOGGER.info("capture: wrote %s (%d events)", path, len(events))


# --- source 1: the local endpoint's partition logs ------------------------------------------------


class LogTail:
    """A read-only reader of one partition's log files, written concurrently by the endpoint."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.position = 0  # offset of the next record to read
        self._segments: list[tuple[int, Path]] = []

    def _refresh(self) -> None:
        self._segments = sorted((int(p.stem), p) for p in self.directory.glob("*.log"))

    def _segment_for(self, position: int) -> tuple[int, Path] | None:
        candidates = [s for s in self._segments if s[0] <= position]
        if candidates:
            return candidates[-1]
        return self._segments[0] if self._segments else None

    def read(self, max_events: int = 2000, max_bytes: int = 4 * 1024 * 1024) -> list[StoredEvent]:
        """Complete, CRC-valid records from the current position (a torn or in-flight tail waits)."""
        self._refresh()
        events: list[StoredEvent] = []
        while len(events) < max_events:
            segment = self._segment_for(self.position)
            if segment is None:
                break
            base, path = segment
            if self.position < base:
                self.position = base  # older segments were removed by retention
            try:
                with path.open("rb") as handle:
                    handle.seek(self.position - base)
                    chunk = handle.read(max_bytes)
            except FileNotFoundError:
                self._refresh()
                continue
            used = _parse_records(chunk, self.position, events, max_events)
            if used == 0:
                later = [s for s in self._segments if s[0] > base]
                if later and not chunk:
                    self.position = later[0][0]  # this segment is complete; go on with the next
                    continue
                if len(chunk) >= max_bytes:
                    max_bytes *= 2  # one record larger than the chunk
                    continue
                break
            self.position += used
        return events

    def skip_through(self, sequence_number: int) -> None:
        """Move past every event up to ``sequence_number`` (resume after a checkpoint)."""
        if sequence_number < 0:
            return
        self._refresh()
        # Start in the last segment whose first event is not after the checkpoint.
        for base, path in reversed(self._segments):
            with path.open("rb") as handle:
                header = handle.read(HEADER_SIZE)
            if len(header) == HEADER_SIZE and RECORD_HEADER.unpack(header)[2] <= sequence_number + 1:
                self.position = base
                break
        while True:
            start = self.position
            events = self.read(max_events=4096)
            for event in events:
                if event.sequence_number > sequence_number:
                    self.position = event.offset
                    return
            if not events or self.position == start:
                return


def _parse_records(chunk: bytes, base_offset: int, events: list[StoredEvent], max_events: int) -> int:
    pos = 0
    tail = struct.Struct(">qq")
    while len(events) < max_events and pos + HEADER_SIZE <= len(chunk):
        length, crc, seq, enqueued = RECORD_HEADER.unpack_from(chunk, pos)
        end = pos + HEADER_SIZE + length
        if end > len(chunk):
            break
        message = chunk[pos + HEADER_SIZE : end]
        if zlib.crc32(message, zlib.crc32(tail.pack(seq, enqueued))) != crc:
            break  # being written right now (or torn): read it next time
        events.append(StoredEvent(base_offset + pos, seq, enqueued, message))
        pos = end
    return pos


# --- runners -------------------------------------------------------------------------------------


def _checkpoint_dir(settings: Settings, source: str) -> Path:
    return settings.state_dir / "capture" / source


def _partition_capture(
    settings: Settings,
    sink: CaptureSink,
    namespace: str,
    hub: str,
    partition_id: str,
    source: str,
    grace: float,
) -> PartitionCapture:
    return PartitionCapture(
        namespace=namespace,
        hub=hub,
        partition_id=partition_id,
        sink=sink,
        checkpoint_path=_checkpoint_dir(settings, source) / namespace / hub / f"{partition_id}.json",
        window_seconds=settings.capture_window_seconds,
        window_bytes=settings.capture_window_bytes,
        skip_empty=settings.capture_skip_empty,
        grace_seconds=grace,
    )


def run_from_log(settings: Settings, sink: CaptureSink, stop: threading.Event) -> None:
    """Capture every hub of the local endpoint by tailing its partition logs until ``stop`` is set."""
    from infra.local.eventhubs.config import load_config
    from infra.local.eventhubs.server import event_data_dir

    namespace = load_config(settings.eventhubs_config)
    data_dir = event_data_dir(settings)
    work: list[tuple[PartitionCapture, LogTail]] = []
    for hub in namespace.hubs:
        for partition_id in hub.partition_ids:
            capture = _partition_capture(
                settings, sink, namespace.name, hub.name, partition_id, "log", grace=0.5
            )
            tail = LogTail(data_dir / hub.name / partition_id)
            tail.skip_through(capture.checkpoint.sequence_number)
            work.append((capture, tail))
    _LOGGER.info("capture: tailing %d partition(s) under %s", len(work), data_dir)
    while not stop.is_set():
        busy = False
        for capture, tail in work:
            try:
                events = tail.read()
                for event in events:
                    capture.add(event_from_stored(event))
                capture.tick(caught_up=not events)
                busy = busy or bool(events)
            except Exception:
                _LOGGER.exception("capture of %s/%s failed; retrying", capture.hub, capture.partition_id)
                _rewind(capture, tail)
                stop.wait(2.0)
        if not busy:
            stop.wait(0.2)


def _rewind(capture: PartitionCapture, tail: LogTail) -> None:
    """After a failed write, re-read from the checkpoint (the window is rebuilt identically)."""
    capture._pending.clear()
    capture._pending_bytes = 0
    capture._window_start_ms = None
    tail.position = 0
    tail.skip_through(capture.checkpoint.sequence_number)


def run_consumer(
    settings: Settings,
    sink: CaptureSink,
    stop: threading.Event,
    *,
    eventhub: str,
    consumer_group: str,
    namespace: str,
    client_factory: Callable[[], Any],
) -> None:
    """Capture one hub through an ``EventHubConsumerClient`` (any endpoint) until ``stop`` is set."""
    client = client_factory()
    captures: dict[str, PartitionCapture] = {}
    source = f"consumer-{consumer_group.strip('$').lower()}"
    with client:
        for partition_id in client.get_partition_ids():
            captures[partition_id] = _partition_capture(
                settings, sink, namespace, eventhub, partition_id, source, grace=2.0
            )
        positions = {pid: c.checkpoint.sequence_number for pid, c in captures.items()}
        starting = {pid: (seq if seq >= 0 else "-1") for pid, seq in positions.items()}

        def on_event(context: Any, event: Any) -> None:
            capture = captures[context.partition_id]
            try:
                if event is not None:
                    capture.add(event_from_sdk(event))
                capture.tick(caught_up=event is None)
            except Exception:
                _LOGGER.exception("capture of partition %s failed", context.partition_id)

        threading.Thread(target=lambda: (stop.wait(), client.close()), daemon=True).start()
        client.receive(
            on_event=on_event,
            starting_position=starting,
            starting_position_inclusive=False,
            max_wait_time=1.0,
        )


# --- reading back ---------------------------------------------------------------------------------


def read_capture_files(files: Iterator[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """Records of Capture files given as (path, bytes), in path order."""
    records: list[dict[str, Any]] = []
    for _path, data in sorted(files):
        records.extend(r for r in fastavro.reader(io.BytesIO(data)) if isinstance(r, dict))
    return records


def read_capture_events(lake: Any, settings: Settings, hub: str, partition_id: str) -> list[dict[str, Any]]:
    """All captured records of one partition, read from the landing zone (oldest file first)."""
    prefix = f"{CAPTURE_PREFIX}/{settings.eventhubs_namespace}/{hub}/{partition_id}"
    entries = lake.files("landing", prefix, suffix=".avro")
    return read_capture_files(iter([(e.path, lake.read_bytes("landing", e.path)) for e in entries]))


# --- command line ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    settings = Settings()
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.eventhubs.capture",
        description=(
            "Event Hubs Capture into the landing zone as Avro (Azure's Capture schema and file layout). "
            "By default it runs as an Event Hubs consumer (EventHubConsumerClient) against any endpoint: "
            "the project's, Microsoft's emulator (which has no Capture) or Azure."
        ),
    )
    parser.add_argument(
        "--from-log", action="store_true", help="tail the local endpoint's partition logs instead"
    )
    parser.add_argument(
        "--connection-string", help="Event Hubs connection string (default: the local endpoint's)"
    )
    parser.add_argument(
        "--fully-qualified-namespace",
        default=settings.eventhubs_fully_qualified_namespace,
        help="<ns>.servicebus.windows.net, signed in with DefaultAzureCredential (Azure profile)",
    )
    parser.add_argument(
        "--eventhub", default=settings.reviews_hub, help="event hub to capture (consumer mode)"
    )
    parser.add_argument("--consumer-group", default="$Default", help="consumer group (consumer mode)")
    parser.add_argument(
        "--namespace", default=settings.eventhubs_namespace, help="namespace name in file paths"
    )
    parser.add_argument("--window-seconds", type=float, default=settings.capture_window_seconds)
    parser.add_argument("--window-bytes", type=int, default=settings.capture_window_bytes)
    parser.add_argument(
        "--skip-empty", action=argparse.BooleanOptionalAction, default=settings.capture_skip_empty
    )
    parser.add_argument(
        "--output", type=Path, help="write into this local folder instead of the landing zone"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = settings.model_copy(
        update={
            "capture_window_seconds": args.window_seconds,
            "capture_window_bytes": args.window_bytes,
            "capture_skip_empty": args.skip_empty,
        }
    )
    sink: CaptureSink = FolderSink(args.output) if args.output else LakeSink(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.from_log:
        run_from_log(settings, sink, stop)
        return

    def client_factory() -> Any:
        from azure.eventhub import EventHubConsumerClient

        if args.connection_string or settings.is_local:
            return EventHubConsumerClient.from_connection_string(
                args.connection_string or settings.eventhubs_connection_string,
                consumer_group=args.consumer_group,
                eventhub_name=args.eventhub,
            )
        from infra.identity import azure_credential

        # Keywords: the third positional parameter is the consumer group, not the credential.
        return EventHubConsumerClient(
            fully_qualified_namespace=args.fully_qualified_namespace,
            eventhub_name=args.eventhub,
            consumer_group=args.consumer_group,
            credential=azure_credential(),
        )

    run_consumer(
        settings,
        sink,
        stop,
        eventhub=args.eventhub,
        consumer_group=args.consumer_group,
        namespace=args.namespace,
        client_factory=client_factory,
    )


if __name__ == "__main__":
    main()
