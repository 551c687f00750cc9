"""python-qpid-proton, an independent spec-compliant client (compact frames, SASL PLAIN), on the endpoint."""

from __future__ import annotations

import socket
import time

import pytest
from proton import Message
from proton.utils import BlockingConnection, LinkDetached

from infra.local.eventhubs import codec
from infra.local.eventhubs.codec import UInt, UShort
from tests.infra.local.eventhubs.conftest import Endpoint, receive_events

pytestmark = pytest.mark.services


def connect(endpoint: Endpoint) -> BlockingConnection:
    settings = endpoint.settings
    key = settings.eventhubs_key.get_secret_value() if settings.eventhubs_key else ""
    return BlockingConnection(
        f"amqp://{settings.host}:{settings.amqp_port}",
        user=settings.eventhubs_key_name,
        password=key,
        allowed_mechs="PLAIN",
        allow_insecure_mechs=True,
        timeout=20,
    )


def test_proton_sends_and_receives(endpoint: Endpoint) -> None:
    big = "z" * 200_000  # larger than proton's max frame: split on the way in and on the way out
    connection = connect(endpoint)
    try:
        sender = connection.create_sender("proton-hub/Partitions/0")
        for body in ["one", "two", big]:
            sender.send(Message(body=body.encode(), properties={"source": "proton"}))
        receiver = connection.create_receiver("proton-hub/ConsumerGroups/$Default/Partitions/0", credit=10)
        messages = [receiver.receive(timeout=20) for _ in range(3)]
    finally:
        connection.close()
    assert [bytes(m.body) for m in messages] == [b"one", b"two", big.encode()]
    assert [m.annotations["x-opt-sequence-number"] for m in messages] == [0, 1, 2]
    assert all(isinstance(m.annotations["x-opt-offset"], str) for m in messages)
    assert [m.properties for m in messages] == [{"source": "proton"}] * 3
    # and the SDK reads what proton sent
    sdk = receive_events(endpoint, "proton-hub", 3, partition_id="0")
    assert [(e.sequence_number, e.body_as_str()) for _p, e in sdk] == [(0, "one"), (1, "two"), (2, big)]


def test_proton_attach_to_unknown_entities_is_refused(endpoint: Endpoint) -> None:
    connection = connect(endpoint)
    try:
        with pytest.raises(LinkDetached, match="amqp:not-found"):
            connection.create_receiver("proton-hub/ConsumerGroups/$Default/Partitions/7")
        with pytest.raises(LinkDetached, match="amqp:not-found"):
            connection.create_sender("no-such-hub")
    finally:
        connection.close()


def read_frame(sock: socket.socket) -> bytes:
    header = _read_exactly(sock, 8)
    size = int.from_bytes(header[:4], "big")
    return header + _read_exactly(sock, size - 8)


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, "connection closed"
        data += chunk
    return data


def test_raw_peer_without_sasl_gets_full_frames_and_heartbeats(endpoint: Endpoint) -> None:
    """A bare AMQP peer: no SASL layer, trailing fields omitted, a list0 Close, and a 4 s idle timeout."""
    settings = endpoint.settings
    with socket.create_connection((settings.host, settings.amqp_port), timeout=10) as sock:
        sock.sendall(b"AMQP\x00\x01\x00\x00")
        compact_open = codec.encode_described_list(
            codec.OPEN, ["raw-peer", None, UInt(4096), UShort(0), UInt(4000)]
        )
        sock.sendall(codec.frame(0, compact_open))
        assert _read_exactly(sock, 8) == b"AMQP\x00\x01\x00\x00"
        code, fields, _ = codec.decode_performative(read_frame(sock)[8:])
        assert (code, len(fields), fields[2]) == (codec.OPEN, 10, 1024 * 1024)
        started = time.monotonic()
        assert read_frame(sock) == codec.EMPTY_FRAME  # a heartbeat within the peer's idle timeout
        assert time.monotonic() - started < 4.0  # (the endpoint beats at half of it; slack for a busy CI)
        sock.sendall(codec.frame(0, b"\x00\x53\x18\x45"))  # Close as list0
        frame = read_frame(sock)
        while frame == codec.EMPTY_FRAME:
            frame = read_frame(sock)
        assert codec.decode_performative(frame[8:])[:2] == (codec.CLOSE, [None])
