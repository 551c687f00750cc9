"""The AMQP codec: every field written on the way out, lenient on the way in."""

from __future__ import annotations

import uuid

from infra.local.eventhubs import codec
from infra.local.eventhubs.broker import delivery_message, split_batch
from infra.local.eventhubs.codec import Described, Symbol, Timestamp, UInt, ULong
from infra.local.eventhubs.storage import StoredEvent


def test_performatives_are_written_with_every_field() -> None:
    encoded = codec.encode_described_list(codec.END, [None])
    assert encoded == b"\x00\x53\x17\xc0\x02\x01\x40"
    flow = codec.encode_described_list(codec.FLOW, [UInt(0)] * 4 + [None] * 7)
    code, fields, end = codec.decode_performative(flow)
    assert (code, len(fields), end) == (codec.FLOW, 11, len(flow))


def test_compact_frames_from_spec_compliant_peers_are_padded() -> None:
    # Begin as proton writes it: only the first fields, and a Close with list0.
    begin = b"\x00\x53\x11\xc0\x0b\x05\x40\x43\x70\x00\x00\x08\x00\x70\x00\x00\x08\x00\x52\xff"
    code, fields, _ = codec.decode_performative(begin)
    assert (code, fields) == (codec.BEGIN, [None, 0, 2048, 2048, 255, None, None, None])
    code, fields, _ = codec.decode_performative(b"\x00\x53\x18\x45")
    assert (code, fields) == (codec.CLOSE, [None])
    code, fields, _ = codec.decode_performative(b"\x00\xa3\x0damqp:end:list\x45")
    assert (code, fields) == (codec.END, [None])


def test_values_round_trip() -> None:
    value = {
        Symbol("sym"): "text",
        "long": -5,
        "big": 2**40,
        "ts": Timestamp(1_700_000_000_000),
        "uuid": uuid.UUID(int=7),
        "bin": b"\x00\x01",
        "list": [1, None, True],
        "described": Described(ULong(0x1D), [Symbol("amqp:not-found"), "gone", None]),
        "long-text": "x" * 300,
    }
    decoded, end = codec.decode(codec.encode(value))
    assert decoded == value and end == len(codec.encode(value))
    assert isinstance(decoded[Symbol("sym")], str) and isinstance(next(iter(decoded)), Symbol)
    assert isinstance(decoded["ts"], Timestamp)
    array = codec.encode(codec.Array(Symbol, ["ANONYMOUS", "PLAIN"]))
    assert codec.decode(array)[0] == ["ANONYMOUS", "PLAIN"]


def test_batch_is_split_without_decoding_and_annotations_are_merged_on_delivery() -> None:
    inner = [
        codec.encode_message(annotations={Symbol("x-opt-partition-key"): "k"}, data=b"first"),
        codec.encode_message(data=b"second"),
    ]
    envelope = (
        b"\x00\x53\x72"
        + codec.encode_map({Symbol("x-opt-partition-key"): "k"})
        + b"".join(b"\x00\x53\x75" + codec.encode(m) for m in inner)
    )
    events, key = split_batch(envelope)
    assert (events, key) == (inner, "k")
    delivered = codec.decode_message(delivery_message(StoredEvent(123, 4, 1_700_000_000_000, events[0])))
    assert delivered.annotations == {
        "x-opt-partition-key": "k",
        "x-opt-sequence-number": 4,
        "x-opt-offset": "123",
        "x-opt-enqueued-time": 1_700_000_000_000,
    }
    assert delivered.data == [b"first"]
    plain = codec.decode_message(delivery_message(StoredEvent(0, 0, 5, events[1])))
    assert (plain.annotations["x-opt-offset"], plain.data) == ("0", [b"second"])
