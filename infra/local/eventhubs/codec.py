"""AMQP 1.0 type system: a strict encoder and a lenient decoder, plus zero-copy helpers for messages.

Two rules shape this module (see docs in ``/work/shared/reference/eventhubs-amqp.md``):

* **Write every field.** The azure-eventhub SDK reads performative fields by position, so every
  performative the server sends is a described list8/list32 with all of its fields, nulls written out.
* **Read leniently.** Spec-compliant peers (proton, rhea) omit trailing null fields and encode empty lists
  as ``list0``; :func:`decode_performative` pads missing fields with ``None``.

Messages are kept as bytes. :func:`iter_sections` walks a message's sections without decoding them, so a
batch can be split into its inner messages and broker annotations merged in at delivery time.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Iterator
from typing import Any, NamedTuple

# --- typed wrappers (what the encoder needs to pick an AMQP type) ---------------------------------


class Symbol(str):
    """An AMQP symbol (ASCII); decoded symbols are returned as this type too."""

    __slots__ = ()


class UByte(int):
    __slots__ = ()


class UShort(int):
    __slots__ = ()


class UInt(int):
    __slots__ = ()


class ULong(int):
    __slots__ = ()


class Int(int):
    __slots__ = ()


class Timestamp(int):
    """Milliseconds since the Unix epoch (AMQP ``timestamp``)."""

    __slots__ = ()


class Described(NamedTuple):
    descriptor: Any
    value: Any


class Array(NamedTuple):
    """A homogeneous AMQP array; ``kind`` is the Python wrapper type of its elements (Symbol, str, ...)."""

    kind: type
    items: list[Any]


class DecodeError(ValueError):
    """The bytes are not valid AMQP."""


# What malformed input can raise while it is decoded (truncated buffers, bad UTF-8, odd map counts,
# unhashable keys, out-of-range chars, nesting deeper than Python's recursion limit): callers treat all of
# them as ``amqp:decode-error``.
MALFORMED = (
    DecodeError,
    IndexError,
    KeyError,
    TypeError,
    ValueError,
    OverflowError,
    RecursionError,
    struct.error,
)


# --- performative and section codes ------------------------------------------------------------

OPEN, BEGIN, ATTACH, FLOW, TRANSFER, DISPOSITION, DETACH, END, CLOSE = range(0x10, 0x19)
SASL_MECHANISMS, SASL_INIT, SASL_CHALLENGE, SASL_RESPONSE, SASL_OUTCOME = range(0x40, 0x45)
ERROR = 0x1D
RECEIVED, ACCEPTED, REJECTED, RELEASED, MODIFIED = range(0x23, 0x28)
SOURCE, TARGET = 0x28, 0x29
HEADER, DELIVERY_ANNOTATIONS, MESSAGE_ANNOTATIONS, PROPERTIES = 0x70, 0x71, 0x72, 0x73
APPLICATION_PROPERTIES, DATA, AMQP_SEQUENCE, AMQP_VALUE, FOOTER = 0x74, 0x75, 0x76, 0x77, 0x78

# How many fields each performative has; incoming lists are padded to this length.
FIELD_COUNTS = {
    OPEN: 10, BEGIN: 8, ATTACH: 14, FLOW: 11, TRANSFER: 11, DISPOSITION: 6, DETACH: 3, END: 1, CLOSE: 1,
    SASL_MECHANISMS: 1, SASL_INIT: 3, SASL_CHALLENGE: 1, SASL_RESPONSE: 1, SASL_OUTCOME: 2,
    SOURCE: 11, TARGET: 7, ERROR: 3, PROPERTIES: 13, HEADER: 5, REJECTED: 1, MODIFIED: 3,
}  # fmt: skip

# Symbolic descriptors that peers may use instead of the numeric codes.
_SYMBOLIC_DESCRIPTORS = {
    "amqp:open:list": OPEN, "amqp:begin:list": BEGIN, "amqp:attach:list": ATTACH, "amqp:flow:list": FLOW,
    "amqp:transfer:list": TRANSFER, "amqp:disposition:list": DISPOSITION, "amqp:detach:list": DETACH,
    "amqp:end:list": END, "amqp:close:list": CLOSE, "amqp:error:list": ERROR, "amqp:source:list": SOURCE,
    "amqp:target:list": TARGET, "amqp:accepted:list": ACCEPTED, "amqp:rejected:list": REJECTED,
    "amqp:released:list": RELEASED, "amqp:modified:list": MODIFIED, "amqp:received:list": RECEIVED,
    "amqp:sasl-mechanisms:list": SASL_MECHANISMS, "amqp:sasl-init:list": SASL_INIT,
    "amqp:sasl-outcome:list": SASL_OUTCOME, "amqp:header:list": HEADER,
    "amqp:delivery-annotations:map": DELIVERY_ANNOTATIONS,
    "amqp:message-annotations:map": MESSAGE_ANNOTATIONS,
    "amqp:properties:list": PROPERTIES, "amqp:application-properties:map": APPLICATION_PROPERTIES,
    "amqp:data:binary": DATA, "amqp:amqp-sequence:list": AMQP_SEQUENCE, "amqp:amqp-value:*": AMQP_VALUE,
    "amqp:footer:map": FOOTER,
}  # fmt: skip


def descriptor_code(descriptor: Any) -> Any:
    """The numeric code of a descriptor (symbolic forms mapped), or the descriptor unchanged."""
    if isinstance(descriptor, str):
        return _SYMBOLIC_DESCRIPTORS.get(descriptor, descriptor)
    return descriptor


# --- encoder ------------------------------------------------------------------------------------

_pack_B = struct.Struct(">B").pack
_pack_H = struct.Struct(">H").pack
_pack_I = struct.Struct(">I").pack
_pack_Q = struct.Struct(">Q").pack
_pack_q = struct.Struct(">q").pack
_pack_i = struct.Struct(">i").pack
_pack_d = struct.Struct(">d").pack
_pack_BB = struct.Struct(">BB").pack
_pack_II = struct.Struct(">II").pack


def _encode_variable(small: int, large: int, data: bytes) -> bytes:
    if len(data) < 256:
        return bytes((small, len(data))) + data
    return bytes((large,)) + _pack_I(len(data)) + data


def encode(value: Any) -> bytes:
    """One AMQP value, type chosen from the Python type (wrappers above pick the narrower ones)."""
    if value is None:
        return b"\x40"
    if value is True:
        return b"\x41"
    if value is False:
        return b"\x42"
    if isinstance(value, Symbol):
        return _encode_variable(0xA3, 0xB3, value.encode("ascii"))
    if isinstance(value, str):
        return _encode_variable(0xA1, 0xB1, value.encode("utf-8"))
    if isinstance(value, bytes | bytearray | memoryview):
        return _encode_variable(0xA0, 0xB0, bytes(value))
    if isinstance(value, int):
        if isinstance(value, UInt):
            if value == 0:
                return b"\x43"
            return b"\x52" + _pack_B(value) if value < 256 else b"\x70" + _pack_I(value)
        if isinstance(value, ULong):
            if value == 0:
                return b"\x44"
            return b"\x53" + _pack_B(value) if value < 256 else b"\x80" + _pack_Q(value)
        if isinstance(value, UByte):
            return b"\x50" + _pack_B(value)
        if isinstance(value, UShort):
            return b"\x60" + _pack_H(value)
        if isinstance(value, Int):
            return b"\x54" + struct.pack(">b", value) if -128 <= value <= 127 else b"\x71" + _pack_i(value)
        if isinstance(value, Timestamp):
            return b"\x83" + _pack_q(value)
        return b"\x55" + struct.pack(">b", value) if -128 <= value <= 127 else b"\x81" + _pack_q(value)
    if isinstance(value, float):
        return b"\x82" + _pack_d(value)
    if isinstance(value, uuid.UUID):
        return b"\x98" + value.bytes
    if isinstance(value, Described):
        descriptor = value.descriptor
        if type(descriptor) is int:  # a decoded numeric descriptor is a ulong on the wire
            descriptor = ULong(descriptor)
        return b"\x00" + encode(descriptor) + encode(value.value)
    if isinstance(value, dict):
        return encode_map(value)
    if isinstance(value, Array):
        return encode_array(value)
    if isinstance(value, list | tuple):
        return encode_list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as AMQP")


def encode_list(values: list[Any] | tuple[Any, ...]) -> bytes:
    """A list in list8/list32 form (never list0: the SDK cannot read a compact performative)."""
    body = b"".join(encode(v) for v in values)
    if len(body) + 1 < 256 and len(values) < 256:
        return _pack_BB(0xC0, len(body) + 1) + _pack_B(len(values)) + body
    return b"\xd0" + _pack_II(len(body) + 4, len(values)) + body


def encode_map(mapping: dict[Any, Any]) -> bytes:
    body = b"".join(encode(k) + encode(v) for k, v in mapping.items())
    count = 2 * len(mapping)
    if len(body) + 1 < 256 and count < 256:
        return _pack_BB(0xC1, len(body) + 1) + _pack_B(count) + body
    return b"\xd1" + _pack_II(len(body) + 4, count) + body


def encode_array(array: Array) -> bytes:
    """An array32 (symbols and strings as sym32/str32, so every element has the same constructor)."""
    kind, items = array.kind, array.items
    if kind is Symbol:
        constructor = b"\xb3"
        body = b"".join(_pack_I(len(s)) + s.encode("ascii") for s in items)
    elif kind is str:
        constructor = b"\xb1"
        body = b"".join(_pack_I(len(b)) + b for b in (s.encode("utf-8") for s in items))
    elif kind is ULong:
        constructor = b"\x80"
        body = b"".join(_pack_Q(v) for v in items)
    else:
        raise TypeError(f"arrays of {kind.__name__} are not supported")
    return b"\xf0" + _pack_II(len(body) + 5, len(items)) + constructor + body


def encode_described_list(code: int, fields: list[Any]) -> bytes:
    """A performative or section body: ``0x00 0x53 code`` + a full list."""
    return b"\x00\x53" + _pack_B(code) + encode_list(fields)


def frame(channel: int, body: bytes, frame_type: int = 0) -> bytes:
    """An AMQP frame (doff 2) around an encoded performative (+ payload)."""
    return _pack_I(len(body) + 8) + bytes((2, frame_type)) + _pack_H(channel) + body


EMPTY_FRAME = b"\x00\x00\x00\x08\x02\x00\x00\x00"


def error(condition: str, description: str | None = None, info: dict | None = None) -> Described:
    return Described(ULong(ERROR), [Symbol(condition), description, info])


# --- decoder ------------------------------------------------------------------------------------

_unpack_H = struct.Struct(">H").unpack_from
_unpack_h = struct.Struct(">h").unpack_from
_unpack_I = struct.Struct(">I").unpack_from
_unpack_i = struct.Struct(">i").unpack_from
_unpack_Q = struct.Struct(">Q").unpack_from
_unpack_q = struct.Struct(">q").unpack_from
_unpack_b = struct.Struct(">b").unpack_from
_unpack_f = struct.Struct(">f").unpack_from
_unpack_d = struct.Struct(">d").unpack_from
_unpack_II = struct.Struct(">II").unpack_from

# Width of the fixed-size types, by constructor (for skipping without decoding).
_FIXED_WIDTH = {
    0x40: 0, 0x41: 0, 0x42: 0, 0x43: 0, 0x44: 0, 0x45: 0, 0x56: 1, 0x50: 1, 0x51: 1, 0x52: 1, 0x53: 1,
    0x54: 1, 0x55: 1, 0x60: 2, 0x61: 2, 0x70: 4, 0x71: 4, 0x72: 4, 0x73: 4, 0x74: 4, 0x80: 8, 0x81: 8,
    0x82: 8, 0x83: 8, 0x84: 8, 0x94: 16, 0x98: 16,
}  # fmt: skip


def skip(buf: bytes, pos: int) -> int:
    """Position just after the value at ``pos``, without decoding it."""
    code = buf[pos]
    pos += 1
    if code == 0x00:
        pos = skip(buf, pos)
        return skip(buf, pos)
    width = _FIXED_WIDTH.get(code)
    if width is not None:
        return pos + width
    kind = code & 0xF0
    if kind in (0xA0, 0xC0, 0xE0):
        return pos + 1 + buf[pos]
    if kind in (0xB0, 0xD0, 0xF0):
        return pos + 4 + _unpack_I(buf, pos)[0]
    raise DecodeError(f"unknown AMQP constructor 0x{code:02x}")


def decode(buf: bytes, pos: int = 0) -> tuple[Any, int]:
    """Decode the value at ``pos``; returns it and the position after it."""
    return decode_as(buf[pos], buf, pos + 1)


def decode_as(code: int, buf: bytes, pos: int) -> tuple[Any, int]:
    """Decode a value of constructor ``code`` whose body starts at ``pos`` (arrays share constructors)."""
    if code == 0x40:
        return None, pos
    if code == 0xA1:
        n = buf[pos]
        return bytes(buf[pos + 1 : pos + 1 + n]).decode("utf-8"), pos + 1 + n
    if code == 0xA3:
        n = buf[pos]
        return Symbol(bytes(buf[pos + 1 : pos + 1 + n]).decode("ascii")), pos + 1 + n
    if code == 0xA0:
        n = buf[pos]
        return bytes(buf[pos + 1 : pos + 1 + n]), pos + 1 + n
    if code == 0x00:
        descriptor, pos = decode(buf, pos)
        value, pos = decode(buf, pos)
        return Described(descriptor_code(descriptor), value), pos
    if code in (0x52, 0x53, 0x50):
        return buf[pos], pos + 1
    if code in (0x43, 0x44):
        return 0, pos
    if code == 0x41:
        return True, pos
    if code == 0x42:
        return False, pos
    if code == 0x56:
        return buf[pos] != 0, pos + 1
    if code == 0x70:
        return _unpack_I(buf, pos)[0], pos + 4
    if code == 0x80:
        return _unpack_Q(buf, pos)[0], pos + 8
    if code in (0x54, 0x55, 0x51):
        return _unpack_b(buf, pos)[0], pos + 1
    if code == 0x71:
        return _unpack_i(buf, pos)[0], pos + 4
    if code == 0x81:
        return _unpack_q(buf, pos)[0], pos + 8
    if code == 0x83:
        return Timestamp(_unpack_q(buf, pos)[0]), pos + 8
    if code == 0x60:
        return _unpack_H(buf, pos)[0], pos + 2
    if code == 0x61:
        return _unpack_h(buf, pos)[0], pos + 2
    if code == 0x72:
        return _unpack_f(buf, pos)[0], pos + 4
    if code == 0x82:
        return _unpack_d(buf, pos)[0], pos + 8
    if code == 0x98:
        return uuid.UUID(bytes=bytes(buf[pos : pos + 16])), pos + 16
    if code == 0x73:  # char (UTF-32)
        return chr(_unpack_I(buf, pos)[0]), pos + 4
    if code in (0xB0, 0xB1, 0xB3):
        n = _unpack_I(buf, pos)[0]
        raw = bytes(buf[pos + 4 : pos + 4 + n])
        if code == 0xB0:
            return raw, pos + 4 + n
        text = raw.decode("utf-8")
        return (Symbol(text) if code == 0xB3 else text), pos + 4 + n
    if code == 0x45:
        return [], pos
    if code in (0xC0, 0xD0, 0xC1, 0xD1):
        if code in (0xC0, 0xC1):
            count = buf[pos + 1]
            pos += 2
        else:
            count = _unpack_I(buf, pos + 4)[0]
            pos += 8
        if count > len(buf) - pos:  # each element takes a byte at least: a lying count is no reason to loop
            raise DecodeError(f"compound of {count} elements in {len(buf) - pos} bytes at {pos}")
        values = []
        for _ in range(count):
            value, pos = decode(buf, pos)
            values.append(value)
        if code in (0xC0, 0xD0):
            return values, pos
        return dict(zip(values[0::2], values[1::2], strict=True)), pos
    if code in (0xE0, 0xF0):
        if code == 0xE0:
            end = pos + 1 + buf[pos]
            count = buf[pos + 1]
            pos += 2
        else:
            end = pos + 4 + _unpack_I(buf, pos)[0]
            count = _unpack_I(buf, pos + 4)[0]
            pos += 8
        if count == 0:
            return [], end
        if count > len(buf) - pos:  # zero-width elements (nulls, booleans) would loop on a lying count
            raise DecodeError(f"array of {count} elements in {len(buf) - pos} bytes at {pos}")
        element_code = buf[pos]
        pos += 1
        if element_code == 0x00:  # described elements share one descriptor
            descriptor, pos = decode(buf, pos)
            element_code = buf[pos]
            pos += 1
        items = []
        for _ in range(count):
            value, pos = decode_as(element_code, buf, pos)
            items.append(value)
        return items, end
    if code == 0x74:  # decimal32
        return bytes(buf[pos : pos + 4]), pos + 4
    if code == 0x84:  # decimal64
        return bytes(buf[pos : pos + 8]), pos + 8
    if code == 0x94:  # decimal128
        return bytes(buf[pos : pos + 16]), pos + 16
    raise DecodeError(f"unknown AMQP constructor 0x{code:02x} at {pos - 1}")


def decode_performative(body: bytes) -> tuple[int, list[Any], int]:
    """Decode a frame body: (performative code, fields padded to full length, position after it)."""
    value, pos = decode(body, 0)
    if not isinstance(value, Described):
        raise DecodeError("frame body is not a described performative")
    code = value.descriptor
    fields = value.value if isinstance(value.value, list) else []
    return code, pad(code, fields), pos


def pad(code: int, fields: list[Any] | None) -> list[Any]:
    """``fields`` padded with ``None`` to the full length of composite ``code`` (lenient decoding)."""
    fields = list(fields or [])
    wanted = FIELD_COUNTS.get(code, len(fields))
    if len(fields) < wanted:
        fields.extend([None] * (wanted - len(fields)))
    return fields


def described_fields(value: Any, code: int) -> list[Any] | None:
    """Fields of a described list such as a source or target (padded), or None if absent."""
    if value is None:
        return None
    if isinstance(value, Described):
        return pad(code, value.value if isinstance(value.value, list) else [])
    if isinstance(value, list):
        return pad(code, value)
    return None


# --- messages as bytes --------------------------------------------------------------------------


class Section(NamedTuple):
    code: int
    start: int  # position of the 0x00 that starts the section
    value_start: int  # position of the section's value constructor
    end: int


def section_at(message: bytes, pos: int) -> Section:
    """The section starting at ``pos``, located but not decoded."""
    if message[pos] != 0x00:
        raise DecodeError(f"message section must be described (byte 0x{message[pos]:02x} at {pos})")
    descriptor, value_start = decode(message, pos + 1)
    return Section(descriptor_code(descriptor), pos, value_start, skip(message, value_start))


def iter_sections(message: bytes) -> Iterator[Section]:
    """The sections of an encoded message, located but not decoded."""
    pos, end = 0, len(message)
    while pos < end:
        section = section_at(message, pos)
        yield section
        pos = section.end


def binary_value(message: bytes, value_start: int) -> bytes:
    """The bytes of a binary value (a data section's body) at ``value_start``."""
    code = message[value_start]
    if code == 0xA0:
        n = message[value_start + 1]
        return message[value_start + 2 : value_start + 2 + n]
    if code == 0xB0:
        n = _unpack_I(message, value_start + 1)[0]
        return message[value_start + 5 : value_start + 5 + n]
    raise DecodeError("data section does not hold binary")


def map_elements(message: bytes, value_start: int) -> tuple[int, bytes]:
    """(element count, raw element bytes) of an encoded map, for merging without decoding it."""
    code = message[value_start]
    if code == 0xC1:
        size, count = message[value_start + 1], message[value_start + 2]
        return count, message[value_start + 3 : value_start + 2 + size]
    if code == 0xD1:
        size, count = _unpack_II(message, value_start + 1)
        return count, message[value_start + 9 : value_start + 5 + size]
    if code == 0x40:
        return 0, b""
    raise DecodeError("annotations section does not hold a map")


def map_section(code: int, count: int, elements: bytes) -> bytes:
    """An annotations/properties section holding a map32 of ``count`` already-encoded elements."""
    return b"\x00\x53" + _pack_B(code) + b"\xd1" + _pack_II(len(elements) + 4, count) + elements


class Message(NamedTuple):
    """A decoded message (only for the few messages the server reads: CBS, management, Capture)."""

    header: list[Any] | None
    delivery_annotations: dict[Any, Any] | None
    annotations: dict[Any, Any] | None
    properties: list[Any] | None
    application_properties: dict[Any, Any] | None
    data: list[bytes]
    value: Any


def decode_message(message: bytes) -> Message:
    """Decode every section of a message."""
    header = delivery_annotations = annotations = properties = application_properties = value = None
    data: list[bytes] = []
    for section in iter_sections(message):
        code = section.code
        if code == DATA:
            data.append(bytes(binary_value(message, section.value_start)))
            continue
        decoded, _ = decode(message, section.value_start)
        if code == HEADER:
            header = pad(HEADER, decoded)
        elif code == DELIVERY_ANNOTATIONS:
            delivery_annotations = decoded
        elif code == MESSAGE_ANNOTATIONS:
            annotations = decoded
        elif code == PROPERTIES:
            properties = pad(PROPERTIES, decoded)
        elif code == APPLICATION_PROPERTIES:
            application_properties = decoded
        elif code == AMQP_VALUE:
            value = decoded
        elif code == AMQP_SEQUENCE:
            value = decoded if value is None else [*value, *decoded]
    return Message(header, delivery_annotations, annotations, properties, application_properties, data, value)


def encode_message(
    *,
    properties: list[Any] | None = None,
    application_properties: dict[str, Any] | None = None,
    value: Any = None,
    annotations: dict[Any, Any] | None = None,
    data: bytes | None = None,
) -> bytes:
    """Encode a message from its parts (properties given as the full 13-field list)."""
    parts = []
    if annotations:
        parts.append(b"\x00\x53\x72" + encode_map(annotations))
    if properties is not None:
        parts.append(encode_described_list(PROPERTIES, pad(PROPERTIES, properties)))
    if application_properties is not None:
        parts.append(b"\x00\x53\x74" + encode_map(application_properties))
    if data is not None:
        parts.append(b"\x00\x53\x75" + encode(bytes(data)))
    else:
        parts.append(b"\x00\x53\x77" + encode(value))
    return b"".join(parts)


def message_id_value(value: Any) -> Any:
    """A message-id/correlation-id re-typed for encoding (ulong, uuid, binary or string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return ULong(value)
    return value
