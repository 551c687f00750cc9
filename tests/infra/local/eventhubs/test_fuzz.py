"""Bad input never crashes a client nor the endpoint: a bounded, seeded fuzz over loopback.

A few thousand inputs, each on its own TCP connection (CBS tokens share a few): bad protocol headers,
garbage SASL frames, undecodable and truncated performatives, unknown performatives, frames that break the
framing rules (size beyond max-frame-size, data offset, frame type) and bad SAS tokens on CBS put-token.
Each gets the answer AMQP 1.0 prescribes and Azure gives (``amqp:decode-error``,
``amqp:connection:framing-error``, ``amqp:not-implemented``, CBS status 401, ``amqp:unauthorized-access``),
each is logged once, and afterwards the endpoint still serves the real SDK.

The raw client below frames its bytes with the endpoint's codec (:mod:`infra.local.eventhubs.codec`) and
reads the answers with it: the codec's own correctness is covered by ``test_codec.py`` and the SDK tests.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from azure.eventhub import EventData

from infra.local.eventhubs import codec
from infra.local.eventhubs.amqp import AMQP_HEADER, MAX_FRAME_SIZE, SASL_HEADER
from infra.local.eventhubs.codec import Described, Symbol, UByte, UInt, ULong
from tests.infra.local.eventhubs.conftest import Endpoint, receive_events, send_bodies
from tests.infra.local.eventhubs.test_sdk import sas_token

pytestmark = pytest.mark.services

SEED = 20261201
HUB = "fuzz-hub"


# --- a raw AMQP peer ---------------------------------------------------------------------------------


def frame(body: bytes, *, channel: int = 0, frame_type: int = 0) -> bytes:
    return codec.frame(channel, body, frame_type=frame_type)


def performative(code: int, fields: list[Any]) -> bytes:
    return codec.encode_described_list(code, fields)


SASL_INIT = frame(performative(codec.SASL_INIT, [Symbol("ANONYMOUS"), None, None]), frame_type=1)
OPEN = frame(performative(codec.OPEN, ["fuzzer", "localhost", UInt(MAX_FRAME_SIZE), None, None]))
HANDSHAKE = SASL_HEADER + SASL_INIT + AMQP_HEADER + OPEN


@dataclass
class Frame:
    frame_type: int
    channel: int
    code: Any
    fields: list[Any]
    payload: bytes


def parse_stream(data: bytes) -> tuple[list[bytes], list[Frame], bytes]:
    """Protocol headers and frames in what the endpoint wrote, and an unparsed rest."""
    headers: list[bytes] = []
    frames: list[Frame] = []
    pos = 0
    while pos < len(data):
        if data[pos : pos + 4] == b"AMQP":
            headers.append(data[pos : pos + 8])
            pos += 8
            continue
        if len(data) - pos < 8:
            break
        size, doff, frame_type, channel = struct.unpack_from(">IBBH", data, pos)
        if len(data) - pos < size:
            break
        body = data[pos + doff * 4 : pos + size]
        pos += size
        if body:
            code, fields, after = codec.decode_performative(body)
            frames.append(Frame(frame_type, channel, code, fields, body[after:]))
    return headers, frames, data[pos:]


def exchange(port: int, payload: bytes, timeout: float = 10.0) -> bytes:
    """Send ``payload`` on a new connection and read until the endpoint closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # it may close before reading everything; what it wrote before is still there
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(payload)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        return b"".join(chunks)


def close_condition(data: bytes) -> str | None:
    """The error condition of the endpoint's close after an accepted handshake (None if it sent none)."""
    headers, frames, rest = parse_stream(data)
    assert headers == [SASL_HEADER, AMQP_HEADER] and rest == b"", (headers, rest)
    codes = [f.code for f in frames]
    assert codes == [codec.SASL_MECHANISMS, codec.SASL_OUTCOME, codec.OPEN, codec.CLOSE], codes
    assert frames[1].fields[0] == 0  # SASL ok
    error = frames[3].fields[0]
    if error is None:
        return None
    assert isinstance(error, Described) and error.descriptor == codec.ERROR
    return str(error.value[0])


# --- the inputs ---------------------------------------------------------------------------------------

VALID_CONSTRUCTORS = {
    0x00, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x60, 0x61,
    0x70, 0x71, 0x72, 0x73, 0x74, 0x80, 0x81, 0x82, 0x83, 0x84, 0x94, 0x98, 0xA0, 0xA1, 0xA3, 0xB0,
    0xB1, 0xB3, 0xC0, 0xC1, 0xD0, 0xD1, 0xE0, 0xF0,
}  # fmt: skip
INVALID_CONSTRUCTORS = sorted(set(range(256)) - VALID_CONSTRUCTORS)


def bad_headers(rng: random.Random, count: int) -> list[bytes]:
    fixed = [
        b"GET / HT",
        b"\x16\x03\x01\x02\x00\x01\x00\x01",
        b"AMQP\x02\x01\x00\x00",
        b"AMQP\x00\x00\x09\x01",
    ]
    out = list(fixed)
    while len(out) < count:
        header = (b"AMQP" + rng.randbytes(4)) if rng.random() < 0.5 else rng.randbytes(8)
        if header not in (SASL_HEADER, AMQP_HEADER):
            out.append(header)
    return out


def random_flow(rng: random.Random) -> bytes:
    return performative(
        codec.FLOW,
        [UInt(rng.getrandbits(32)) for _ in range(4)] + [UInt(0), UInt(0), UInt(rng.getrandbits(10)), None,
                                                         False, False, None],
    )  # fmt: skip


def random_begin(rng: random.Random) -> bytes:
    return performative(
        codec.BEGIN, [None, UInt(rng.getrandbits(32)), UInt(rng.getrandbits(31)), UInt(rng.getrandbits(31))]
    )


def undecodable_bodies(rng: random.Random, count: int) -> list[bytes]:
    """Frame bodies that cannot be decoded as a performative, in several families."""
    families = [
        # an unknown constructor where the body (or the descriptor) starts
        lambda: bytes([rng.choice(INVALID_CONSTRUCTORS)]) + rng.randbytes(rng.randint(0, 40)),
        lambda: b"\x00" + bytes([rng.choice(INVALID_CONSTRUCTORS)]) + rng.randbytes(rng.randint(0, 40)),
        # a strict prefix of a valid performative with fixed-width fields only
        lambda: (lambda b: b[: rng.randint(1, len(b) - 1)])(rng.choice([random_flow, random_begin])(rng)),
        # a value that is not a described performative
        lambda: codec.encode(rng.choice(["text", 7, [UInt(1)], {"k": "v"}, b"bin", None, True])),
        # a symbolic descriptor that is not ASCII
        lambda: b"\x00\xa3\x04" + bytes(rng.randint(0x80, 0xFF) for _ in range(4)) + b"\x45",
        # a list or array that claims more elements than the frame holds
        lambda: b"\x00\x53\x11\xd0\x00\x00\x00\x08"
        + struct.pack(">I", rng.randint(2**20, 2**32 - 1))
        + b"\x40",
        lambda: b"\x00\x53\x11\xf0\x00\x00\x00\x08"
        + struct.pack(">I", rng.randint(2**20, 2**32 - 1))
        + b"\x40",
        # an odd number of map elements, and a map keyed by a list (unhashable)
        lambda: b"\x00\x53\x11\xc1\x04\x03\x40\x40\x40",
        lambda: b"\x00\x53\x11\xc1\x05\x02\x45\x40",
        # nesting deeper than any decoder should follow
        lambda: b"\x00\x53\x11" + b"\xc0\x02\x01" * rng.randint(3000, 20000) + b"\x40",
    ]
    return [families[i % len(families)]() for i in range(count)]


def unknown_performatives(rng: random.Random, count: int) -> list[bytes]:
    out = []
    known = set(range(codec.OPEN, codec.CLOSE + 1))
    while len(out) < count:
        kind = rng.random()
        if kind < 0.5:
            code = rng.choice([rng.randint(0, 0xFF), rng.getrandbits(64), *range(0x40, 0x45)])
            if code in known:
                continue
            out.append(codec.encode(Described(ULong(code), [])))
        else:
            name = "x-fuzz:" + "".join(rng.choices("abcdefgh:-", k=rng.randint(1, 20)))
            out.append(codec.encode(Described(Symbol(name), [None])))
    return out


def framing_violations(rng: random.Random, count: int) -> list[bytes]:
    """Raw frame headers (and a little body) that break the framing rules."""
    families = [
        lambda: struct.pack(">IBBH", rng.randint(MAX_FRAME_SIZE + 1, 2**32 - 1), 2, 0, 0) + rng.randbytes(16),
        lambda: struct.pack(">IBBH", rng.randint(0, 7), 2, 0, 0) + rng.randbytes(16),
        lambda: struct.pack(">IBBH", 16, rng.randint(0, 1), 0, 0) + rng.randbytes(8),
        lambda: struct.pack(">IBBH", 16, rng.randint(5, 255), 0, 0) + rng.randbytes(8),
        lambda: struct.pack(">IBBH", 12, 2, rng.randint(2, 255), 0) + rng.randbytes(4),
        lambda: frame(performative(codec.BEGIN, [None, UInt(0), UInt(10), UInt(10)]), frame_type=1),
    ]
    return [families[i % len(families)]() for i in range(count)]


def sasl_garbage(rng: random.Random, count: int) -> list[bytes]:
    families = [
        lambda: frame(rng.randbytes(rng.randint(1, 60)), frame_type=1),
        lambda: frame(performative(codec.SASL_OUTCOME, [UByte(0), None]), frame_type=1),
        lambda: OPEN,  # an AMQP frame where SASL is expected
        lambda: struct.pack(">IBBH", rng.randint(513, 2**32 - 1), 2, 1, 0) + rng.randbytes(8),
    ]
    return [families[i % len(families)]() for i in range(count)]


def bad_tokens(rng: random.Random, count: int, port: int, key: str) -> list[tuple[Any, int]]:
    """(put-token body, the CBS status Azure answers) pairs: all refused."""
    audience = f"sb://127.0.0.1:{port}/{HUB}"
    now = int(time.time())

    def forged(
        resource: str, expires: int, key_used: str, key_name: str = "RootManageSharedAccessKey"
    ) -> str:
        return sas_token(resource, key_used, expires).replace(
            "skn=RootManageSharedAccessKey", f"skn={key_name}"
        )

    families = [
        lambda: (forged(audience, now + 600, "not-the-key"), 401),
        lambda: (forged(audience, now - rng.randint(1, 10**6), key), 401),
        lambda: (forged(audience, now + 600, key, "SomeOtherKeyName"), 401),
        lambda: ("SharedAccessSignature " + rng.randbytes(rng.randint(0, 60)).hex(), 401),
        lambda: ("".join(rng.choices("abc=&% \u00e9\u4e2d", k=rng.randint(0, 80))), 401),
        lambda: (forged(audience, now + 600, key).replace("&se=", "&se=x"), 401),
        lambda: (forged(audience, now + 600, key).replace("sig=", "sig=%C3%A9\u00e9"), 401),
        lambda: (forged(audience, now + 600, key).split("&skn=")[0], 401),
        lambda: (rng.choice([7, None, [1, 2], {"a": 1}, 3.5]), 400),
    ]
    return [families[i % len(families)]() for i in range(count)]


# --- CBS put-token on one connection -----------------------------------------------------------------


def put_tokens(port: int, tokens: list[Any]) -> tuple[list[tuple[int, Any]], Any]:
    """Send every token as a put-token on one CBS link pair; returns (status, correlation id) per reply and
    the error of the detach that follows an attempt to attach a producer to the hub."""
    setup = [
        frame(performative(codec.BEGIN, [None, UInt(0), UInt(100000), UInt(100000)])),
        frame(performative(codec.ATTACH, ["cbs-sender", UInt(0), False, None, None,
              Described(ULong(codec.SOURCE), ["fuzz"]), Described(ULong(codec.TARGET), ["$cbs"])])),
        frame(performative(codec.ATTACH, ["cbs-receiver", UInt(1), True, None, None,
              Described(ULong(codec.SOURCE), ["$cbs"]), Described(ULong(codec.TARGET), ["fuzz"])])),
        frame(performative(codec.FLOW, [UInt(0), UInt(100000), UInt(0), UInt(100000), UInt(1), UInt(0),
              UInt(len(tokens) + 10), None, False, False, None])),
    ]  # fmt: skip
    transfers = []
    for i, token in enumerate(tokens):
        message = codec.encode_message(
            properties=[uuid.UUID(int=i + 1)],
            application_properties={
                "operation": "put-token", "type": "servicebus.windows.net:sastoken",
                "name": f"sb://127.0.0.1:{port}/{HUB}",
            },
            value=token,
        )  # fmt: skip
        transfer = performative(codec.TRANSFER, [UInt(0), UInt(i), struct.pack(">I", i), UInt(0), False])
        transfers.append(frame(transfer + message))
    producer = frame(performative(codec.ATTACH, [
        "producer", UInt(2), False, None, None, Described(ULong(codec.SOURCE), ["fuzz"]),
        Described(ULong(codec.TARGET), [f"amqps://127.0.0.1:{port}/{HUB}"])]))  # fmt: skip
    data = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(HANDSHAKE + b"".join(setup))
        for start in range(0, len(transfers), 100):  # a window at a time: replies flow while we send
            sock.sendall(b"".join(transfers[start : start + 100]))
        deadline = time.time() + 20
        replies: list[tuple[int, Any]] = []
        while len(replies) < len(tokens) and time.time() < deadline:
            data += sock.recv(65536)
            _headers, frames, _rest = parse_stream(bytes(data))
            replies = reply_statuses(frames)
        sock.sendall(producer)
        detach_error = None
        while detach_error is None and time.time() < deadline:
            data += sock.recv(65536)
            _headers, frames, _rest = parse_stream(bytes(data))
            detaches = [f for f in frames if f.code == codec.DETACH and f.fields[2] is not None]
            detach_error = detaches[0].fields[2] if detaches else None
        sock.sendall(frame(performative(codec.CLOSE, [None])))
    return replies, detach_error


def reply_statuses(frames: list[Frame]) -> list[tuple[int, Any]]:
    out = []
    for f in frames:
        if f.code == codec.TRANSFER:
            reply = codec.decode_message(f.payload)
            out.append((reply.application_properties["status-code"], reply.properties[5]))
    return out


# --- the test -------------------------------------------------------------------------------------------


def test_bad_input_gets_amqp_errors_is_logged_and_the_endpoint_keeps_serving(endpoint: Endpoint) -> None:
    rng = random.Random(SEED)
    port = endpoint.settings.amqp_port
    key = endpoint.settings.eventhubs_key.get_secret_value()
    log = endpoint.launcher.log_path("eventhubs")
    log_start = log.stat().st_size
    started = time.monotonic()

    headers = bad_headers(rng, 400)
    for header in headers:
        assert exchange(port, header) == SASL_HEADER, header  # the header we speak, then close (spec 2.2)

    sasl = sasl_garbage(rng, 200)
    for body in sasl:
        answer = exchange(port, SASL_HEADER + body)
        got_headers, frames, _ = parse_stream(answer)
        assert (got_headers, [f.code for f in frames]) == ([SASL_HEADER], [codec.SASL_MECHANISMS]), body

    expected: Counter[str] = Counter()
    cases = [
        ("amqp:decode-error", undecodable_bodies(rng, 1200), True),
        ("amqp:not-implemented", unknown_performatives(rng, 400), True),
        ("amqp:connection:framing-error", framing_violations(rng, 600), False),
    ]
    for condition, inputs, wrap in cases:
        for item in inputs:
            got = close_condition(exchange(port, HANDSHAKE + (frame(item) if wrap else item)))
            assert got == condition, (item[:60], got)
            expected[condition] += 1
    # a frame before the open
    before_open = frame(performative(codec.BEGIN, [None, UInt(0), UInt(10), UInt(10)]))
    answer = exchange(port, SASL_HEADER + SASL_INIT + AMQP_HEADER + before_open)
    assert close_condition(answer) == "amqp:not-allowed"

    tokens = bad_tokens(rng, 600, port, key)
    replies, detach_error = put_tokens(port, [token for token, _ in tokens])
    assert replies == [(status, uuid.UUID(int=i + 1)) for i, (_, status) in enumerate(tokens)]
    assert isinstance(detach_error, Described) and detach_error.value[0] == "amqp:unauthorized-access"
    elapsed = time.monotonic() - started
    assert elapsed < 30, f"the fuzz took {elapsed:.1f} s"

    # every refusal is in the endpoint's log, once, and nothing failed inside the endpoint
    text = log.read_bytes()[log_start:].decode("utf-8", "replace")
    assert text.count("unsupported protocol header") == len(headers)
    assert text.count("bad SASL exchange") == len(sasl)
    for condition, count in expected.items():
        assert text.count(f": {condition}: ") == count, condition
    refused = sum(1 for _, status in tokens if status == 401)
    assert text.count("put-token from") == refused
    assert "Traceback" not in text and "internal-error" not in text

    # and the endpoint still serves the SDK
    send_bodies(endpoint, HUB, ["after-the-fuzz-1", "after-the-fuzz-2"], partition_id="0")
    received = receive_events(endpoint, HUB, 2, partition_id="0")
    assert [e.body_as_str() for _p, e in received] == ["after-the-fuzz-1", "after-the-fuzz-2"]
    with endpoint.producer(HUB) as producer:
        producer.send_event(EventData("single"))
        assert producer.get_partition_properties("0")["last_enqueued_sequence_number"] == 2
