"""Event Hubs semantics on top of the partition logs: hubs, routing, SAS auth, $management, positions.

The AMQP layer (:mod:`infra.local.eventhubs.amqp`) calls into :class:`Broker`; nothing here knows frames.
Events stay bytes: a batch (message-format 0x80013700) is split into its inner messages by walking the
data sections, and broker annotations (sequence number, offset, enqueued time) are merged into each
event's message-annotations only when it is delivered (:func:`delivery_message`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from infra.local.eventhubs import codec
from infra.local.eventhubs.codec import Array, Int, Symbol, Timestamp
from infra.local.eventhubs.config import HubConfig, NamespaceConfig
from infra.local.eventhubs.partition_key import partition_for_key
from infra.local.eventhubs.storage import PartitionLog, StoredEvent

_LOGGER = logging.getLogger(__name__)

BATCH_FORMAT = 0x80013700
MAX_MESSAGE_SIZE = 1024 * 1024
PARTITION_KEY = "x-opt-partition-key"
SELECTOR_FILTER = "apache.org:selector-filter:string"
SELECTOR_FILTER_CODE = 0x0000468C00000004
RUNTIME_METRIC = "com.microsoft:enable-receiver-runtime-metric"
EPOCH = "com.microsoft:epoch"

_SELECTOR = re.compile(
    r"amqp\.annotation\.(x-opt-offset|x-opt-sequence-number|x-opt-enqueued-time)\s*(>=|>|=)\s*'([^']*)'",
    re.IGNORECASE,
)


_unpack_I = struct.Struct(">I").unpack_from
_DATA_VBIN32 = b"\x00\x53\x75\xb0"  # a data section holding a vbin32


class BrokerError(Exception):
    """An Event Hubs error with its AMQP condition (``amqp:not-found`` ...) and HTTP-like status."""

    def __init__(self, condition: str, description: str, status: int) -> None:
        super().__init__(description)
        self.condition = condition
        self.description = description
        self.status = status


def not_found(what: str) -> BrokerError:
    return BrokerError("amqp:not-found", f"The messaging entity '{what}' could not be found.", 404)


def unauthorized(description: str) -> BrokerError:
    return BrokerError("amqp:unauthorized-access", description, 401)


# --- addresses -------------------------------------------------------------------------------


def entity_path(address: str) -> str:
    """``amqps://host/hub/Partitions/0`` -> ``hub/Partitions/0`` (scheme and host dropped)."""
    match = re.match(r"^[a-z][a-z0-9+.-]*://[^/]*/?(.*)$", address, re.IGNORECASE)
    path = match.group(1) if match else address
    return path.strip("/")


@dataclass(frozen=True)
class Position:
    """Where a consumer starts: a filter on offset, sequence number or enqueued time."""

    kind: str  # "offset" | "sequence" | "time" | "start" | "latest"
    value: int = 0
    inclusive: bool = False


def parse_position(selector: str | None) -> Position:
    """The start position from the source filter's selector (no filter = from the start)."""
    if not selector:
        return Position("start")
    match = _SELECTOR.search(selector)
    if not match:
        raise BrokerError("amqp:invalid-field", f"unsupported selector filter {selector!r}", 400)
    name, operator, raw = match.group(1).lower(), match.group(2), match.group(3)
    inclusive = operator in (">=", "=")
    if name == "x-opt-offset":
        if raw == "@latest":
            return Position("latest")
        if raw == "-1":
            return Position("start")
        return Position("offset", _as_int(raw), inclusive)
    if name == "x-opt-sequence-number":
        return Position("sequence", _as_int(raw), inclusive)
    return Position("time", _as_int(raw), inclusive)


def _as_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise BrokerError("amqp:invalid-field", f"{raw!r} is not a number", 400) from None


# --- messages ------------------------------------------------------------------------------------


def split_batch(payload: bytes) -> tuple[list[bytes], str | None]:
    """The inner messages of a batch envelope and the envelope's partition key (not decoded further)."""
    events: list[bytes] = []
    key = None
    pos, end = 0, len(payload)
    while pos < end:
        # Fast path for the common case, a data section holding one encoded message (vbin32 or vbin8).
        if payload[pos : pos + 4] == _DATA_VBIN32:
            length = _unpack_I(payload, pos + 4)[0]
            events.append(payload[pos + 8 : pos + 8 + length])
            pos += 8 + length
            continue
        section = codec.section_at(payload, pos)
        if section.code == codec.DATA:
            events.append(bytes(codec.binary_value(payload, section.value_start)))
        elif section.code == codec.MESSAGE_ANNOTATIONS:
            key = _partition_key(payload, section.value_start)
        pos = section.end
    return events, key


def message_partition_key(message: bytes) -> str | None:
    """The ``x-opt-partition-key`` of a single message (only its annotations are decoded)."""
    for section in codec.iter_sections(message):
        if section.code == codec.MESSAGE_ANNOTATIONS:
            return _partition_key(message, section.value_start)
        if section.code > codec.MESSAGE_ANNOTATIONS:
            return None
    return None


def _partition_key(message: bytes, value_start: int) -> str | None:
    annotations, _ = codec.decode(message, value_start)
    if not isinstance(annotations, dict):
        return None
    key = annotations.get(PARTITION_KEY)
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    return None if key is None else str(key)


def _pair(key: str, value: bytes) -> bytes:
    return codec.encode(Symbol(key)) + value


_SEQ_KEY = codec.encode(Symbol("x-opt-sequence-number")) + b"\x81"
_OFFSET_KEY = codec.encode(Symbol("x-opt-offset"))
_TIME_KEY = codec.encode(Symbol("x-opt-enqueued-time")) + b"\x83"
_pack_q = struct.Struct(">q").pack


def broker_annotations(event: StoredEvent) -> bytes:
    """The three broker annotations of ``event`` as encoded map elements (6 of them)."""
    offset = str(event.offset).encode("ascii")
    return (
        _SEQ_KEY + _pack_q(event.sequence_number)
        + _OFFSET_KEY + b"\xa1" + bytes((len(offset),)) + offset
        + _TIME_KEY + _pack_q(event.enqueued_ms)
    )  # fmt: skip


def delivery_message(event: StoredEvent, delivery_annotations: bytes | None = None) -> bytes:
    """``event``'s message with the broker annotations merged into its message-annotations.

    The producer's own annotations (the partition key among them) are kept; the broker's come last so a
    reader that keeps the last duplicate sees the broker's values. Only section boundaries are read.
    """
    message = event.message
    insert_at = len(message)
    after = len(message)
    count, elements = 0, b""
    for section in codec.iter_sections(message):
        if section.code in (codec.HEADER, codec.DELIVERY_ANNOTATIONS):
            continue
        insert_at = section.start
        if section.code == codec.MESSAGE_ANNOTATIONS:
            count, elements = codec.map_elements(message, section.value_start)
            after = section.end
        else:
            after = section.start
        break
    annotations = codec.map_section(
        codec.MESSAGE_ANNOTATIONS, count + 6, bytes(elements) + broker_annotations(event)
    )
    parts = [message[:insert_at]]
    if delivery_annotations:
        parts.append(delivery_annotations)
    parts.append(annotations)
    parts.append(message[after:])
    return b"".join(parts)


# --- hubs and partitions -----------------------------------------------------------------------


class Partition:
    """One partition: its log, its attached readers and the callbacks run after each append."""

    def __init__(self, hub: str, partition_id: str, log: PartitionLog) -> None:
        self.hub = hub
        self.id = partition_id
        self.log = log
        self.readers: set[Any] = set()  # consumer links (anything with a ``wake()`` method)

    def append(self, messages: list[bytes], enqueued_ms: int | None = None) -> int:
        """Store ``messages`` (one write) and wake the readers; returns the first sequence number."""
        if enqueued_ms is None:
            enqueued_ms = int(time.time() * 1000)
        first = self.log.append(messages, enqueued_ms)
        for reader in tuple(self.readers):
            reader.wake()
        return first

    def start_position(self, position: Position) -> int:
        log = self.log
        if position.kind == "start":
            return log.first_offset
        if position.kind == "latest":
            return log.end_offset
        if position.kind == "offset":
            return log.position_for_offset(position.value, position.inclusive)
        if position.kind == "sequence":
            return log.position_for_sequence(position.value, position.inclusive)
        return log.position_for_time(position.value, position.inclusive)

    def properties(self) -> dict[str, Any]:
        log = self.log
        empty = log.is_empty
        return {
            "name": self.hub,
            "type": "com.microsoft:partition",
            "partition": self.id,
            "begin_sequence_number": log.begin_sequence_number,
            "last_enqueued_sequence_number": log.last_sequence_number,
            "last_enqueued_offset": "-1" if empty else str(log.last_offset),
            "last_enqueued_time_utc": Timestamp(0 if empty else log.last_enqueued_ms),
            "is_partition_empty": empty,
        }

    def runtime_metrics(self) -> bytes:
        """Delivery annotations for ``com.microsoft:enable-receiver-runtime-metric`` readers."""
        log = self.log
        return b"\x00\x53\x71" + codec.encode_map(
            {
                Symbol("last_enqueued_sequence_number"): log.last_sequence_number,
                Symbol("last_enqueued_offset"): str(log.last_offset),
                Symbol("last_enqueued_time_utc"): Timestamp(log.last_enqueued_ms),
                Symbol("runtime_info_retrieval_time_utc"): Timestamp(int(time.time() * 1000)),
            }
        )


@dataclass
class Hub:
    config: HubConfig
    partitions: list[Partition]
    created_at_ms: int
    _next: int = 0
    # (consumer group lower-case, partition id) -> attached consumer links, for owner level (epoch) rules
    owners: dict[tuple[str, str], list[Any]] = field(default_factory=dict)

    def partition(self, partition_id: str) -> Partition:
        for partition in self.partitions:
            if partition.id == partition_id:
                return partition
        raise not_found(f"{self.config.name}/Partitions/{partition_id}")

    def route(self, key: str | None) -> Partition:
        """The partition for an event sent to the hub: by partition key (as Azure maps it), else in turn."""
        if key is not None:
            return self.partitions[partition_for_key(key, len(self.partitions))]
        partition = self.partitions[self._next % len(self.partitions)]
        self._next += 1
        return partition

    def properties(self) -> dict[str, Any]:
        return {
            "name": self.config.name,
            "type": "com.microsoft:eventhub",
            "created_at": Timestamp(self.created_at_ms),
            "partition_count": Int(len(self.partitions)),
            "partition_ids": Array(str, [p.id for p in self.partitions]),
        }


# --- the broker --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """What a verified SAS token grants: the entity path prefix (lower case) until ``expires_at``."""

    path: str
    expires_at: float


class Broker:
    """All hubs of the namespace, with their durable partitions."""

    def __init__(
        self,
        namespace: NamespaceConfig,
        data_dir: Path,
        *,
        key_name: str,
        key: str,
        retention_hours: float = 24.0,
        fsync: bool = False,
        segment_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        self.namespace = namespace
        self.data_dir = data_dir
        self.key_name = key_name
        self.key = key
        self.retention_ms = int(retention_hours * 3600 * 1000)
        self.hubs: dict[str, Hub] = {}
        for config in namespace.hubs:
            directory = data_dir / config.name
            partitions = [
                Partition(
                    config.name, pid, PartitionLog(directory / pid, segment_bytes=segment_bytes, fsync=fsync)
                )
                for pid in config.partition_ids
            ]
            self.hubs[config.name.lower()] = Hub(config, partitions, _created_at(directory))

    def hub(self, name: str) -> Hub:
        hub = self.hubs.get(name.lower())
        if hub is None:
            raise not_found(name)
        return hub

    # --- SAS ----------------------------------------------------------------------------------
    def verify_token(self, token: str, now: float | None = None) -> Claim:
        """Check a ``SharedAccessSignature`` token: key name, HMAC-SHA256 signature and expiry."""
        now = time.time() if now is None else now
        if not token.startswith("SharedAccessSignature "):
            raise unauthorized("InvalidIssuer: the token is not a SharedAccessSignature.")
        fields = dict(
            part.split("=", 1) for part in token[len("SharedAccessSignature ") :].split("&") if "=" in part
        )
        try:
            resource, signature, expiry, key_name = (
                fields["sr"],
                unquote(fields["sig"]),
                fields["se"],
                fields["skn"],
            )
            expires_at = int(expiry)
        except (KeyError, ValueError):
            raise unauthorized("InvalidSignature: the token needs sr, sig, se and skn.") from None
        if key_name != self.key_name:
            raise unauthorized(f"InvalidSignature: unknown shared access key name '{key_name}'.")
        string_to_sign = f"{resource}\n{expiry}".encode()
        expected = base64.b64encode(
            hmac.new(self.key.encode(), string_to_sign, hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise unauthorized("InvalidSignature: the token has an invalid signature.")
        if expires_at <= now:
            raise unauthorized("ExpiredToken: the token has expired.")
        return Claim(entity_path(unquote(resource)).lower(), float(expires_at))

    @staticmethod
    def allows(claims: list[Claim], path: str, now: float | None = None) -> bool:
        """Whether one unexpired claim covers entity ``path``."""
        now = time.time() if now is None else now
        wanted = path.lower().strip("/")
        for claim in claims:
            if claim.expires_at > now and (
                not claim.path or wanted == claim.path or wanted.startswith(claim.path + "/")
            ):
                return True
        return False

    # --- $management --------------------------------------------------------------------------
    def management(self, request: codec.Message, claims: list[Claim]) -> tuple[int, str, Any]:
        """Answer a READ request: (status code, description, body)."""
        props = request.application_properties or {}
        operation = str(props.get("operation", ""))
        entity_type = str(props.get("type", ""))
        name = str(props.get("name", ""))
        if operation.upper() != "READ":
            return 400, f"Unsupported operation '{operation}'.", None
        token = props.get("security_token")
        granted = list(claims)
        if isinstance(token, str | bytes):
            try:
                granted.append(self.verify_token(token.decode() if isinstance(token, bytes) else token))
            except BrokerError as exc:
                return exc.status, exc.description, None
        try:
            hub = self.hub(name)
            if not self.allows(granted, hub.config.name):
                return 401, f"Unauthorized access to '{name}'. Put a token for the hub first.", None
            if entity_type == "com.microsoft:eventhub":
                return 200, "OK", hub.properties()
            if entity_type == "com.microsoft:partition":
                return 200, "OK", hub.partition(str(props.get("partition", ""))).properties()
        except BrokerError as exc:
            return exc.status, exc.description, None
        return 400, f"Unsupported type '{entity_type}'.", None

    # --- housekeeping ---------------------------------------------------------------------------
    def apply_retention(self, now_ms: int | None = None) -> int:
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        return sum(
            p.log.apply_retention(now_ms - self.retention_ms)
            for h in self.hubs.values()
            for p in h.partitions
        )

    def close(self) -> None:
        for hub in self.hubs.values():
            for partition in hub.partitions:
                partition.log.close()


def _created_at(directory: Path) -> int:
    """When the hub was first created here (kept in a small file so it survives restarts)."""
    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / "created_at"
    try:
        return int(marker.read_text().strip())
    except (FileNotFoundError, ValueError):
        created = int(time.time() * 1000)
        marker.write_text(str(created))
        return created
