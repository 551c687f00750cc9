"""Which partition a partition key maps to: the Event Hubs service's own mapping, so keys land as on Azure.

The service hashes the key's UTF-8 bytes with Bob Jenkins' lookup3 (``hashlittle2``, both seeds 0),
folds the two 32-bit results into a signed 16-bit value (``c ^ b``, truncated) and takes the absolute value
of its *truncating* remainder by the partition count (C#'s ``Math.Abs(hash % count)``). The .NET, Java and
JavaScript SDKs carry ports of that service code for their buffered producers; this module is written from
the algorithm's description, for the broker only (it imports nothing of ours).

Note the Python SDK's buffered producer (``_buffered_producer/_partition_resolver.py``, 5.15.1) computes the
same hash for ASCII keys but reduces it with Python's flooring ``%`` and hashes code points rather than UTF-8
bytes, so for a negative hash with 3+ partitions, and for non-ASCII keys, it picks another partition than
the service does. The endpoint follows the service.
"""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFF
_WORDS = struct.Struct("<III")


def _rot(value: int, bits: int) -> int:
    return ((value << bits) | (value >> (32 - bits))) & _MASK


def lookup3(data: bytes, seed1: int = 0, seed2: int = 0) -> tuple[int, int]:
    """Jenkins' ``hashlittle2`` of ``data``: the primary and secondary 32-bit hashes ``(c, b)``."""
    remaining = len(data)
    a = b = c = (0xDEADBEEF + remaining + seed1) & _MASK
    c = (c + seed2) & _MASK
    pos = 0
    while remaining > 12:
        x, y, z = _WORDS.unpack_from(data, pos)
        a = (a + x) & _MASK
        b = (b + y) & _MASK
        c = (c + z) & _MASK
        # mix(a, b, c)
        a = ((a - c) & _MASK) ^ _rot(c, 4)
        c = (c + b) & _MASK
        b = ((b - a) & _MASK) ^ _rot(a, 6)
        a = (a + c) & _MASK
        c = ((c - b) & _MASK) ^ _rot(b, 8)
        b = (b + a) & _MASK
        a = ((a - c) & _MASK) ^ _rot(c, 16)
        c = (c + b) & _MASK
        b = ((b - a) & _MASK) ^ _rot(a, 19)
        a = (a + c) & _MASK
        c = ((c - b) & _MASK) ^ _rot(b, 4)
        b = (b + a) & _MASK
        pos += 12
        remaining -= 12
    if remaining == 0:
        return c, b  # only for empty input: the last block is never empty otherwise
    # The last 1-12 bytes, read as three little-endian words with zero padding: the same sums as
    # lookup3's switch on the tail length.
    x, y, z = _WORDS.unpack(data[pos:] + bytes(12 - remaining))
    a = (a + x) & _MASK
    b = (b + y) & _MASK
    c = (c + z) & _MASK
    # final(a, b, c)
    c = ((c ^ b) - _rot(b, 14)) & _MASK
    a = ((a ^ c) - _rot(c, 11)) & _MASK
    b = ((b ^ a) - _rot(a, 25)) & _MASK
    c = ((c ^ b) - _rot(b, 16)) & _MASK
    a = ((a ^ c) - _rot(c, 4)) & _MASK
    b = ((b ^ a) - _rot(a, 14)) & _MASK
    c = ((c ^ b) - _rot(b, 24)) & _MASK
    return c, b


def partition_key_hash(key: str) -> int:
    """The service's signed 16-bit hash code of ``key`` (its UTF-8 bytes)."""
    primary, secondary = lookup3(key.encode("utf-8"))
    folded = (primary ^ secondary) & 0xFFFF
    return folded - 0x10000 if folded & 0x8000 else folded


def partition_for_key(key: str, partition_count: int) -> int:
    """The index of the partition (0-based) that the service assigns to events with ``key``."""
    if partition_count < 1:
        raise ValueError(f"partition_count must be at least 1, got {partition_count}")
    # |hash rem count| with a truncating remainder equals |hash| mod count.
    return abs(partition_key_hash(key)) % partition_count
