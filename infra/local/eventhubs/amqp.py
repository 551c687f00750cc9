"""The AMQP 1.0 endpoint: connections, sessions and links over asyncio, speaking Event Hubs.

One :class:`Connection` per TCP connection. The SASL layer offers ANONYMOUS (the client then authorizes
with CBS put-token) and PLAIN (user = key name, password = key: the whole connection is authorized).
Frames are parsed as they arrive, so pipelined open/begin/attach work. Incoming transfers split across
frames are reassembled; outgoing messages larger than the peer's max-frame-size are split. Credit is
honoured in both directions and the session windows of the peer are respected.

Everything the server sends goes through :mod:`infra.local.eventhubs.codec`, which writes every performative
field; everything it reads is decoded leniently.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections import deque
from typing import Any

from infra.local.eventhubs import codec
from infra.local.eventhubs.broker import (
    BATCH_FORMAT,
    EPOCH,
    MAX_MESSAGE_SIZE,
    RUNTIME_METRIC,
    SELECTOR_FILTER,
    SELECTOR_FILTER_CODE,
    Broker,
    BrokerError,
    Claim,
    Hub,
    Partition,
    delivery_message,
    entity_path,
    message_partition_key,
    not_found,
    parse_position,
    split_batch,
)
from infra.local.eventhubs.codec import (
    Array,
    Described,
    Symbol,
    UByte,
    UInt,
    ULong,
    UShort,
)
from infra.local.eventhubs.config import DEFAULT_CONSUMER_GROUP

_LOGGER = logging.getLogger(__name__)

SASL_HEADER = b"AMQP\x03\x01\x00\x00"
AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
MAX_FRAME_SIZE = 1024 * 1024
BIG_WINDOW = 2**31 - 1
PRODUCER_CREDIT = 1000
CONSUMER_BATCH = 256
_unpack_I = struct.Struct(">I").unpack_from
_unpack_H = struct.Struct(">H").unpack_from
# Transfer frame header + performative for one pre-settled delivery: every one of the 11 fields written.
_TRANSFER = struct.Struct(">IBBH" + "3sBII" + "BI" + "BI" + "BBQ" + "BI" + "BB" + "5s")
_TRANSFER_SIZE = _TRANSFER.size
_TRANSFER_PREFIX = b"\x00\x53\x14"
_TRANSFER_LIST_SIZE = _TRANSFER_SIZE - 8 - 3 - 1 - 4  # list32 size field: bytes after it


class Link:
    """One attached link. ``outgoing`` links are ours to send on (consumers, CBS/management replies)."""

    def __init__(
        self, session: Session, name: str, remote_handle: int, local_handle: int, outgoing: bool
    ) -> None:
        self.session = session
        self.name = name
        self.remote_handle = remote_handle
        self.local_handle = local_handle
        self.outgoing = outgoing
        self.kind = ""  # "cbs" | "management" | "producer" | "consumer" | "reply"
        self.address = ""
        self.closed = False
        self.detach_sent = False
        # incoming (we receive)
        self.credit = 0
        self.delivery_count = 0
        self.partial: bytearray | None = None
        self.partial_id: int | None = None
        self.partial_format = 0
        self.partial_settled = False
        self.partial_too_large = False
        self.hub: Hub | None = None
        self.partition: Partition | None = None
        # outgoing (we send)
        self.drain = False
        self.outbox: deque[bytes] = deque()
        self.position = 0
        self.metrics = False
        self.epoch: int | None = None
        self.group = ""
        self._scheduled = False

    # --- consumers are woken by appends; reply links by queued replies --------------------------
    def wake(self) -> None:
        if not self._scheduled and not self.closed:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.pump)

    def pump(self) -> None:
        self._scheduled = False
        connection = self.session.connection
        if self.closed or connection.closed or connection.paused or self.session.ended:
            return
        try:
            if self.kind == "consumer":
                self._pump_consumer()
            else:
                while self.outbox and self.credit > 0:
                    self.session.send_message(self, self.outbox.popleft())
            if self.drain and self.credit > 0 and not self.outbox and not self._has_more():
                self.delivery_count += self.credit
                self.credit = 0
                self.session.send_flow(self, drain=True)
        finally:
            connection.flush()

    def _has_more(self) -> bool:
        return (
            self.kind == "consumer"
            and self.partition is not None
            and self.position < self.partition.log.end_offset
        )

    def _pump_consumer(self) -> None:
        session = self.session
        partition = self.partition
        assert partition is not None
        log = partition.log
        sent = 0
        while self.credit > 0 and session.remote_incoming_window > 0 and not session.connection.paused:
            if self.position >= log.end_offset:
                return
            wanted = min(self.credit, CONSUMER_BATCH, session.remote_incoming_window)
            events, next_position = log.read(self.position, wanted, 512 * 1024)
            if not events:
                self.position = max(self.position, next_position)
                return
            metrics = partition.runtime_metrics() if self.metrics else None
            for event in events:
                session.send_message(self, delivery_message(event, metrics))
            self.position = next_position
            sent += len(events)
            if sent >= 4 * CONSUMER_BATCH:
                self.wake()  # let other links and connections have the loop
                return


class Session:
    def __init__(self, connection: Connection, channel: int, remote_channel: int, begin: list[Any]) -> None:
        self.connection = connection
        self.channel = channel
        self.remote_channel = remote_channel
        self.next_outgoing_id = 0  # transfer frames we sent
        self.next_delivery_id = 0
        self.next_incoming_id = begin[1] or 0
        self.remote_incoming_window = begin[2] or 0
        self.links: dict[int, Link] = {}  # by remote handle
        self.local_handles: dict[int, Link] = {}
        self.ended = False
        self._accepted: list[int] = []

    # --- frames -------------------------------------------------------------------------------
    def send(self, code: int, fields: list[Any], payload: bytes = b"") -> None:
        self.connection.write(codec.frame(self.channel, codec.encode_described_list(code, fields) + payload))

    def send_flow(self, link: Link | None, *, drain: bool = False, echo: bool = False) -> None:
        fields: list[Any] = [
            UInt(self.next_incoming_id), UInt(BIG_WINDOW), UInt(self.next_outgoing_id), UInt(BIG_WINDOW),
            None, None, None, None, None, False, None,
        ]  # fmt: skip
        if link is not None:
            fields[4] = UInt(link.local_handle)
            fields[5] = UInt(link.delivery_count)
            fields[6] = UInt(max(link.credit, 0))
            fields[7] = UInt(0) if link.outgoing else None
            fields[8] = drain or link.drain
            fields[9] = echo
        self.send(codec.FLOW, fields)

    def send_message(self, link: Link, message: bytes, message_format: int = 0) -> None:
        """One pre-settled delivery on ``link``, split into frames of the peer's max-frame-size."""
        connection = self.connection
        delivery_id = self.next_delivery_id
        self.next_delivery_id = (delivery_id + 1) & 0xFFFFFFFF
        room = connection.remote_max_frame_size - _TRANSFER_SIZE
        start, total = 0, len(message)
        pack = _TRANSFER.pack
        while True:
            chunk = message[start : start + room] if (start or total > room) else message
            start += len(chunk)
            more = start < total
            connection.write(
                pack(
                    _TRANSFER_SIZE + len(chunk),
                    2,
                    0,
                    self.channel,
                    _TRANSFER_PREFIX,
                    0xD0,
                    _TRANSFER_LIST_SIZE,
                    11,
                    0x70,
                    link.local_handle,
                    0x70,
                    delivery_id,
                    0xA0,
                    8,
                    delivery_id,
                    0x70,
                    message_format,
                    0x41,
                    0x41 if more else 0x42,
                    b"\x40\x40\x40\x40\x40",
                )
            )
            connection.write(chunk)
            self.next_outgoing_id = (self.next_outgoing_id + 1) & 0xFFFFFFFF
            self.remote_incoming_window -= 1
            if not more:
                break
        link.delivery_count = (link.delivery_count + 1) & 0xFFFFFFFF
        link.credit -= 1

    def accept(self, delivery_id: int) -> None:
        self._accepted.append(delivery_id)

    def settle(self, delivery_id: int, state: Described) -> None:
        self.send(codec.DISPOSITION, [True, UInt(delivery_id), UInt(delivery_id), True, state, None])

    def flush_dispositions(self) -> None:
        """Accepted deliveries as few settled dispositions as possible (contiguous ranges)."""
        if not self._accepted:
            return
        ids, self._accepted = self._accepted, []
        accepted = Described(ULong(codec.ACCEPTED), [])
        first = last = ids[0]
        for delivery_id in ids[1:]:
            if delivery_id == last + 1:
                last = delivery_id
                continue
            self.send(codec.DISPOSITION, [True, UInt(first), UInt(last), True, accepted, None])
            first = last = delivery_id
        self.send(codec.DISPOSITION, [True, UInt(first), UInt(last), True, accepted, None])

    # --- links --------------------------------------------------------------------------------
    def _free_handle(self) -> int:
        handle = 0
        while handle in self.local_handles:
            handle += 1
        return handle

    def on_attach(self, fields: list[Any]) -> None:
        name, handle, role = fields[0], fields[1], fields[2]
        source = codec.described_fields(fields[5], codec.SOURCE)
        target = codec.described_fields(fields[6], codec.TARGET)
        properties = fields[13] if isinstance(fields[13], dict) else {}
        desired = fields[12] if isinstance(fields[12], list) else ([fields[12]] if fields[12] else [])
        outgoing = bool(role)  # the peer receives, so we send
        link = Link(self, str(name), int(handle), self._free_handle(), outgoing)
        terminus = source if outgoing else target
        address = str(terminus[0]) if terminus and terminus[0] is not None else ""
        link.address = address
        offered: list[str] = []
        error: Described | None = None
        try:
            self.connection.server.attach(link, address, source, properties, desired)
            if link.metrics:
                offered.append(RUNTIME_METRIC)
        except BrokerError as exc:
            error = codec.error(exc.condition, exc.description)
        self.links[link.remote_handle] = link
        self.local_handles[link.local_handle] = link
        reply_source: Described | None = Described(
            ULong(codec.SOURCE), _source_fields(source, address if outgoing else None)
        )
        reply_target: Described | None = Described(ULong(codec.TARGET), _target_fields(target))
        if error is not None:
            # A refused link: the terminus we would have created is null, then a detach carries the error
            # (AMQP 1.0 section 2.6.3), so a client never takes the link for open.
            if outgoing:
                reply_source = None
            else:
                reply_target = None
        self.send(
            codec.ATTACH,
            [
                str(name), UInt(link.local_handle), not outgoing,
                UByte(1) if outgoing else UByte(fields[3] if fields[3] is not None else 2), UByte(0),
                reply_source, reply_target,
                None, False, UInt(0) if outgoing else None, ULong(MAX_MESSAGE_SIZE),
                Array(Symbol, offered) if offered else None, None, None,
            ],
        )  # fmt: skip
        if error is not None:
            self.detach(link, error)
            return
        if not outgoing:
            link.credit = PRODUCER_CREDIT
            self.send_flow(link)
        elif link.outbox or link.kind == "consumer":
            link.wake()

    def detach(self, link: Link, error: Described | None) -> None:
        """Detach ``link`` from our side (closed), e.g. an attach we refuse or a stolen link."""
        if link.detach_sent:
            return
        link.detach_sent = True
        self.connection.server.release(link)
        link.closed = True
        if error is not None:
            _LOGGER.info(
                "detaching link %r (%s) from %s: %r", link.name, link.address, self.connection.peer, error
            )
        self.send(codec.DETACH, [UInt(link.local_handle), True, error])

    def on_detach(self, fields: list[Any]) -> None:
        link = self.links.pop(fields[0], None)
        if link is None:
            return
        self.local_handles.pop(link.local_handle, None)
        if not link.detach_sent:
            link.detach_sent = True
            self.connection.server.release(link)
            link.closed = True
            self.send(codec.DETACH, [UInt(link.local_handle), bool(fields[1]), None])

    def on_flow(self, fields: list[Any]) -> None:
        next_incoming = fields[0] if fields[0] is not None else 0
        self.remote_incoming_window = next_incoming + (fields[1] or 0) - self.next_outgoing_id
        handle = fields[4]
        if handle is None:
            for each in self.links.values():
                if each.outgoing:
                    each.wake()
            return
        link = self.links.get(handle)
        if link is None:
            return
        if link.outgoing:
            delivery_count = fields[5] if fields[5] is not None else 0
            link.credit = delivery_count + (fields[6] or 0) - link.delivery_count
            link.drain = bool(fields[8])
            link.wake()
        if fields[9]:
            self.send_flow(link, echo=False)

    def on_transfer(self, fields: list[Any], payload: bytes) -> None:
        self.next_incoming_id = (self.next_incoming_id + 1) & 0xFFFFFFFF
        link = self.links.get(fields[0])
        if link is None or link.outgoing:
            raise _ConnectionError(
                "amqp:session:unattached-handle", f"transfer on unknown handle {fields[0]}"
            )
        if link.partial is None:
            link.partial = bytearray()
            link.partial_id = fields[1]
            link.partial_format = fields[3] or 0
            link.partial_settled = bool(fields[4])
            link.partial_too_large = False
        if fields[9]:  # aborted
            link.partial = None
            return
        if fields[5]:  # more frames follow
            if len(link.partial) + len(payload) > MAX_MESSAGE_SIZE + 64 * 1024:
                link.partial_too_large = True  # keep counting frames, stop buffering
            elif not link.partial_too_large:
                link.partial += payload
            return
        message = bytes(link.partial) + payload if link.partial else payload
        too_large = link.partial_too_large or len(message) > MAX_MESSAGE_SIZE
        delivery_id, message_format, settled = link.partial_id, link.partial_format, link.partial_settled
        link.partial = None
        link.credit -= 1
        link.delivery_count = (link.delivery_count + 1) & 0xFFFFFFFF
        state = self.connection.server.on_message(link, message, message_format, too_large)
        if not settled and delivery_id is not None:
            if state is None:
                self.accept(delivery_id)
            else:
                self.settle(delivery_id, state)
        if link.credit < PRODUCER_CREDIT // 2:
            link.credit = PRODUCER_CREDIT
            self.send_flow(link)

    def end(self) -> None:
        self.ended = True
        for link in list(self.links.values()):
            self.connection.server.release(link)
            link.closed = True
        self.links.clear()
        self.local_handles.clear()


def _source_fields(source: list[Any] | None, address: str | None) -> list[Any]:
    """The source we answer with: the peer's address and filter, every field written."""
    source = source or [None] * 11
    filters = source[7] if isinstance(source[7], dict) else None
    return [
        address if address is not None else source[0], UInt(0), Symbol("session-end"), UInt(0), False,
        None, None, filters, None, None, None,
    ]  # fmt: skip


def _target_fields(target: list[Any] | None) -> list[Any]:
    target = target or [None] * 7
    return [target[0], UInt(0), Symbol("session-end"), UInt(0), False, None, None]


def _selector(source: list[Any] | None) -> str | None:
    if not source or not isinstance(source[7], dict):
        return None
    for key, value in source[7].items():
        if isinstance(value, Described) and value.descriptor in (SELECTOR_FILTER, SELECTOR_FILTER_CODE):
            return str(value.value)
        if key == SELECTOR_FILTER:
            return str(value.value if isinstance(value, Described) else value)
    return None


class _ConnectionError(Exception):
    def __init__(self, condition: str, description: str) -> None:
        super().__init__(description)
        self.condition = condition
        self.description = description


class _SaslError(Exception):
    """The SASL exchange cannot go on: the socket is closed (SASL has no error frame)."""


_PERFORMATIVES = frozenset(range(codec.OPEN, codec.CLOSE + 1))


def _show(code: Any) -> str:
    return f"0x{code:02x}" if isinstance(code, int) else repr(code)


class Connection(asyncio.Protocol):
    """One AMQP connection: protocol headers, SASL, frames, and the sessions on it."""

    def __init__(self, server: AmqpServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.paused = False
        self.claims: list[Claim] = []
        self.sessions: dict[int, Session] = {}  # by remote channel
        self.remote_max_frame_size = 512
        self.remote_idle_timeout = 0.0
        self._buffer = bytearray()
        self._expect_header = True
        self._sasl_started = False
        self._sasl_done = False
        self._open_received = False
        self._open_sent = False
        self.peer = ""
        self._out: list[bytes] = []
        self._last_received = time.monotonic()
        self._last_sent = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None

    # --- transport ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not isinstance(transport, asyncio.Transport):
            raise TypeError(f"a stream transport is needed, not {type(transport).__name__}")
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self)
        self._schedule_tick()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.server.connections.discard(self)
        if self._timer:
            self._timer.cancel()
        for session in self.sessions.values():
            session.end()
        self.sessions.clear()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        for session in self.sessions.values():
            for link in session.links.values():
                if link.outgoing:
                    link.wake()

    def write(self, data: bytes) -> None:
        self._out.append(data)

    def flush(self) -> None:
        for session in self.sessions.values():
            session.flush_dispositions()
        if self._out and self.transport is not None and not self.transport.is_closing():
            self.transport.writelines(self._out)
            self._last_sent = time.monotonic()
        self._out = []

    def close(self, condition: str | None = None, description: str | None = None) -> None:
        if self.closed:
            return
        error = codec.error(condition, description) if condition else None
        if condition:
            _LOGGER.warning("closing connection from %s: %s: %s", self.peer, condition, description)
        if not self._open_sent:
            self._send_open()  # an AMQP connection is closed by a close after an open (spec 2.4.4)
        self.write(codec.frame(0, codec.encode_described_list(codec.CLOSE, [error])))
        self.flush()
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # --- heartbeats -----------------------------------------------------------------------------
    def _schedule_tick(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(1.0, self._tick)

    def _tick(self) -> None:
        if self.closed:
            return
        now = time.monotonic()
        if self.remote_idle_timeout and now - self._last_sent >= self.remote_idle_timeout / 2:
            self.write(codec.EMPTY_FRAME)
            self.flush()
        idle = self.server.idle_timeout
        if idle and now - self._last_received > 2 * idle:
            self.close("amqp:resource-limit-exceeded", "Connection idle for longer than the idle timeout.")
            return
        self._schedule_tick()

    # --- input ------------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        self._last_received = time.monotonic()
        pos = 0
        try:
            while not self.closed:
                available = len(buffer) - pos
                if self._expect_header:
                    if available < 8:
                        break
                    self._on_header(bytes(buffer[pos : pos + 8]))
                    pos += 8
                    continue
                if available < 8:
                    break
                size = _unpack_I(buffer, pos)[0]
                doff, frame_type = buffer[pos + 4], buffer[pos + 5]
                self._check_frame_header(size, doff, frame_type)
                if available < size:
                    break
                channel = _unpack_H(buffer, pos + 6)[0]
                body = bytes(buffer[pos + doff * 4 : pos + size])
                pos += size
                if not body:
                    continue  # heartbeat
                if frame_type == 1:
                    self._on_sasl(body)
                else:
                    self._on_frame(channel, body)
        except _SaslError as exc:
            _LOGGER.warning("connection from %s: bad SASL exchange (%s); closing the socket", self.peer, exc)
            self._drop()
        except _ConnectionError as exc:
            self.close(exc.condition, exc.description)
        except codec.MALFORMED as exc:
            self.close("amqp:decode-error", f"Cannot decode the frame: {exc}")
        except Exception as exc:  # a bug of ours: the peer gets an error, the endpoint keeps serving
            _LOGGER.exception("connection from %s: internal error on a frame", self.peer)
            self.close("amqp:internal-error", f"The endpoint failed on the frame: {type(exc).__name__}")
        finally:
            del buffer[:pos]
            self.flush()

    def _check_frame_header(self, size: int, doff: int, frame_type: int) -> None:
        """A frame header the peer may send: size within our max-frame-size, sane data offset, known type."""
        if self._sasl_started and not self._sasl_done:
            if frame_type != 1 or size < 8 or size > 512 or doff < 2 or doff * 4 > size:
                # SASL frames are small (MIN-MAX-FRAME-SIZE 512) and have no error performative
                raise _SaslError(f"bad SASL frame header (size {size}, doff {doff}, type {frame_type})")
            return
        if size < 8 or size > MAX_FRAME_SIZE:
            raise _ConnectionError(
                "amqp:connection:framing-error",
                f"Frame size {size} is outside 8..{MAX_FRAME_SIZE} (this endpoint's max-frame-size).",
            )
        if doff < 2 or doff * 4 > size:
            raise _ConnectionError(
                "amqp:connection:framing-error", f"Bad data offset {doff} in a {size}-byte frame."
            )
        if frame_type != 0:
            raise _ConnectionError("amqp:connection:framing-error", f"Unexpected frame type {frame_type}.")

    def _drop(self) -> None:
        """Close the socket without an AMQP close (before the AMQP layer exists)."""
        self.flush()
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _on_header(self, header: bytes) -> None:
        if header == SASL_HEADER and not self._sasl_done:
            self._sasl_started = True
            self.write(SASL_HEADER)
            mechanisms = codec.encode_described_list(
                codec.SASL_MECHANISMS, [Array(Symbol, ["ANONYMOUS", "PLAIN"])]
            )
            self.write(codec.frame(0, mechanisms, frame_type=1))
            self._expect_header = False
        elif header == AMQP_HEADER:
            self.write(AMQP_HEADER)
            self._expect_header = False
        else:
            # Unsupported protocol header: answer with the one we speak and close (AMQP 1.0 section 2.2).
            _LOGGER.warning("connection from %s: unsupported protocol header %r; closing", self.peer, header)
            self.write(SASL_HEADER if not self._sasl_done else AMQP_HEADER)
            self._drop()

    def _on_sasl(self, body: bytes) -> None:
        try:
            code, fields, _ = codec.decode_performative(body)
        except codec.MALFORMED as exc:
            raise _SaslError(f"undecodable SASL frame: {exc}") from exc
        if code != codec.SASL_INIT:
            raise _SaslError(f"unexpected SASL performative {code!r}")
        mechanism = str(fields[0] or "")
        outcome = 0
        if mechanism == "PLAIN":
            parts = fields[1].split(b"\x00") if isinstance(fields[1], bytes) else []
            user, password = (parts[1], parts[2]) if len(parts) == 3 else (b"", b"")
            if (
                user.decode(errors="replace") == self.server.broker.key_name
                and password.decode(errors="replace") == self.server.broker.key
            ):
                self.claims.append(Claim("", float("inf")))
            else:
                outcome = 1
        elif mechanism != "ANONYMOUS":
            outcome = 1
        self.write(codec.frame(0, codec.encode_described_list(codec.SASL_OUTCOME, [UByte(outcome), None]), 1))
        if outcome:
            _LOGGER.warning("connection from %s: SASL %s refused (outcome auth)", self.peer, mechanism)
            self._drop()
            return
        self._sasl_done = True
        self._expect_header = True

    def _on_frame(self, channel: int, body: bytes) -> None:
        code, fields, pos = codec.decode_performative(body)
        _LOGGER.debug("<- ch%d %r %r", channel, code, fields)
        if code not in _PERFORMATIVES:
            raise _ConnectionError("amqp:not-implemented", f"Unknown performative {_show(code)}.")
        if not self._open_received and code != codec.OPEN:
            raise _ConnectionError("amqp:not-allowed", f"The first frame must be an open, not {_show(code)}.")
        if code == codec.OPEN:
            if self._open_received:
                raise _ConnectionError("amqp:not-allowed", "The connection is already open.")
            self._on_open(fields)
            return
        if code == codec.BEGIN:
            self._on_begin(channel, fields)
            return
        if code == codec.CLOSE:
            self.close()
            return
        session = self.sessions.get(channel)
        if session is None:
            # The SDK sometimes detaches after ending its session; frames for a gone session are dropped.
            _LOGGER.debug("dropping performative 0x%02x for unknown channel %d", code, channel)
            return
        if code == codec.TRANSFER:
            session.on_transfer(fields, body[pos:])
        elif code == codec.FLOW:
            session.on_flow(fields)
        elif code == codec.DISPOSITION:
            pass  # we send pre-settled; the peer's dispositions need no answer
        elif code == codec.ATTACH:
            session.on_attach(fields)
        elif code == codec.DETACH:
            session.on_detach(fields)
        elif code == codec.END:
            del self.sessions[channel]
            session.end()
            session.send(codec.END, [None])
        else:
            raise _ConnectionError("amqp:not-implemented", f"Unexpected performative {_show(code)}.")

    def _on_open(self, fields: list[Any]) -> None:
        self._open_received = True
        self.remote_max_frame_size = max(512, min(int(fields[2] or 2**32 - 1), 16 * MAX_FRAME_SIZE))
        self.remote_idle_timeout = max(int(fields[4] or 0), 0) / 1000
        self._send_open()

    def _send_open(self) -> None:
        self._open_sent = True
        self.write(
            codec.frame(
                0,
                codec.encode_described_list(
                    codec.OPEN,
                    [
                        f"eventhubs-local-{self.server.broker.namespace.name}", None, UInt(MAX_FRAME_SIZE),
                        UShort(4095), UInt(int(self.server.idle_timeout * 1000)) if self.server.idle_timeout else None,  # noqa: E501
                        None, None, None, None, None,
                    ],
                ),
            )
        )  # fmt: skip

    def _on_begin(self, channel: int, fields: list[Any]) -> None:
        local = 0
        used = {s.channel for s in self.sessions.values()}
        while local in used:
            local += 1
        session = Session(self, local, channel, fields)
        self.sessions[channel] = session
        session.send(
            codec.BEGIN,
            [UShort(channel), UInt(0), UInt(BIG_WINDOW), UInt(BIG_WINDOW), UInt(1023), None, None, None],
        )

    def reply_link(self, address: str) -> Link | None:
        """Our sending link whose source is ``address`` ($cbs, $management, or a reply-to)."""
        wanted = address.lower()
        for session in self.sessions.values():
            for link in session.links.values():
                if link.outgoing and not link.closed and link.address.lower() == wanted:
                    return link
        return None


class AmqpServer:
    """The Event Hubs AMQP endpoint: binds links to the broker's hubs and partitions."""

    def __init__(self, broker: Broker, *, idle_timeout: float = 120.0) -> None:
        self.broker = broker
        self.idle_timeout = idle_timeout
        self.connections: set[Connection] = set()

    def protocol(self) -> Connection:
        return Connection(self)

    # --- links ------------------------------------------------------------------------------------
    def attach(
        self, link: Link, address: str, source: list[Any] | None, properties: dict, desired: list[Any]
    ) -> None:
        """Bind ``link`` to what its address names; raises :class:`BrokerError` if it cannot."""
        path = entity_path(address)
        lowered = path.lower()
        if lowered in ("$cbs", "$management"):
            link.kind = ("cbs" if lowered == "$cbs" else "management") if not link.outgoing else "reply"
            return
        connection = link.session.connection
        parts = path.split("/")
        hub = self.broker.hub(parts[0]) if parts and parts[0] else None
        if hub is None:
            raise not_found(address)
        link.hub = hub
        if not link.outgoing:  # a producer: <hub> or <hub>/Partitions/<id>
            link.kind = "producer"
            if len(parts) == 3 and parts[1].lower() == "partitions":
                link.partition = hub.partition(parts[2])
            elif len(parts) != 1:
                raise not_found(address)
            if not self.broker.allows(connection.claims, path):
                raise BrokerError("amqp:unauthorized-access", f"Unauthorized access to '{path}'.", 401)
            return
        # a consumer: <hub>/ConsumerGroups/<cg>/Partitions/<id>
        if len(parts) != 5 or parts[1].lower() != "consumergroups" or parts[3].lower() != "partitions":
            if len(parts) == 3 and parts[1].lower() == "partitions":
                parts = [parts[0], "ConsumerGroups", DEFAULT_CONSUMER_GROUP, "Partitions", parts[2]]
            else:
                raise not_found(address)
        group = hub.config.consumer_group(parts[2])
        if group is None:
            raise not_found(f"{hub.config.name}/ConsumerGroups/{parts[2]}")
        partition = hub.partition(parts[4])
        if not self.broker.allows(connection.claims, path):
            raise BrokerError("amqp:unauthorized-access", f"Unauthorized access to '{path}'.", 401)
        link.kind = "consumer"
        link.group = group.lower()
        link.partition = partition
        link.metrics = any(str(c) == RUNTIME_METRIC for c in desired)
        epoch = properties.get(EPOCH)
        link.epoch = int(epoch) if epoch is not None else None
        self._claim_ownership(hub, link)
        link.position = partition.start_position(parse_position(_selector(source)))
        partition.readers.add(link)

    def _claim_ownership(self, hub: Hub, link: Link) -> None:
        """Owner level (epoch): a higher (or equal) epoch steals the partition from the others."""
        assert link.partition is not None
        key = (link.group, link.partition.id)
        owners = [other for other in hub.owners.get(key, []) if not other.closed]
        epochs = [other.epoch for other in owners if other.epoch is not None]
        if epochs and (link.epoch is None or link.epoch < max(epochs)):
            raise BrokerError(
                "amqp:link:stolen",
                f"Receiver with epoch {link.epoch} refused: a receiver with epoch {max(epochs)} already owns "
                f"partition {link.partition.id} of consumer group '{link.group}'.",
                409,
            )
        if link.epoch is not None:
            for other in owners:
                other.session.detach(
                    other,
                    codec.error(
                        "amqp:link:stolen",
                        f"New receiver with epoch {link.epoch} took over partition {link.partition.id} of "
                        f"consumer group '{link.group}'.",
                    ),
                )
                other.session.connection.flush()
            owners = []
        owners.append(link)
        hub.owners[key] = owners

    def release(self, link: Link) -> None:
        if link.kind == "consumer" and link.partition is not None:
            link.partition.readers.discard(link)
            if link.hub is not None:
                key = (link.group, link.partition.id)
                owners = link.hub.owners.get(key)
                if owners and link in owners:
                    owners.remove(link)

    # --- messages ---------------------------------------------------------------------------------
    def on_message(
        self, link: Link, message: bytes, message_format: int, too_large: bool
    ) -> Described | None:
        """Handle one complete incoming message; returns None (accepted) or a rejected state."""
        if too_large:
            return _rejected(
                "amqp:link:message-size-exceeded",
                f"The received message exceeds the limit of {MAX_MESSAGE_SIZE} bytes.",
            )
        try:
            if link.kind == "producer":
                self._store(link, message, message_format)
            elif link.kind in ("cbs", "management"):
                self._request(link, message)
            else:
                return _rejected("amqp:not-allowed", "This link does not accept messages.")
        except BrokerError as exc:
            _LOGGER.info("rejected a message on %s: %s: %s", link.address, exc.condition, exc.description)
            return _rejected(exc.condition, exc.description)
        except codec.MALFORMED as exc:
            _LOGGER.warning("rejected an undecodable message on %s: %s", link.address, exc)
            return _rejected("amqp:decode-error", f"Cannot decode the message: {exc}")
        return None

    def _store(self, link: Link, message: bytes, message_format: int) -> None:
        assert link.hub is not None
        if message_format == BATCH_FORMAT:
            events, key = split_batch(message)
        else:
            events = [message]
            key = message_partition_key(message) if link.partition is None else None
        if not events:
            return
        partition = link.partition or link.hub.route(key)
        partition.append(events)

    def _request(self, link: Link, message: bytes) -> None:
        request = codec.decode_message(message)
        props = request.properties or [None] * 13
        reply_to = props[4]
        connection = link.session.connection
        if link.kind == "cbs":
            status, description, body = self._put_token(connection, request)
        else:
            status, description, body = self.broker.management(request, connection.claims)
        reply = codec.encode_message(
            properties=[None, None, None, None, None, codec.message_id_value(props[0])],
            application_properties={
                "status-code": codec.Int(status),
                "status-description": description,
                "statusCode": codec.Int(status),
                "statusDescription": description,
            },
            value=body,
        )
        target = connection.reply_link(str(reply_to)) if reply_to else None
        target = target or connection.reply_link(link.address)
        if target is None:
            _LOGGER.warning("no link to answer a %s request on", link.kind)
            return
        target.outbox.append(reply)
        target.wake()

    def _put_token(self, connection: Connection, request: codec.Message) -> tuple[int, str, Any]:
        props = request.application_properties or {}
        if str(props.get("operation", "")) != "put-token":
            return 400, f"Unsupported CBS operation '{props.get('operation')}'.", None
        token = request.value
        if isinstance(token, bytes):
            token = token.decode("utf-8", "replace")
        if not isinstance(token, str):
            return 400, "The put-token body must be the token string.", None
        try:
            claim = self.broker.verify_token(token)
        except BrokerError as exc:
            _LOGGER.warning("put-token from %s refused: %d %s", connection.peer, exc.status, exc.description)
            return exc.status, exc.description, None
        connection.claims.append(claim)
        return 202, "Accepted", None


def _rejected(condition: str, description: str) -> Described:
    return Described(ULong(codec.REJECTED), [codec.error(condition, description)])
