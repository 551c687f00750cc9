"""Durable partitions: each partition is an append-only log of length-prefixed, CRC-checked records.

One folder per partition under ``<state_dir>/eventhubs/<hub>/<partition>/`` holds segment files named by
the offset of their first record (``00000000000000000000.log``). An event's **offset** is the byte position
of its record in the partition's log, counted across segments, so offsets (and sequence numbers) stay the
same after a restart. A record is::

    u32 length | u32 crc32(sequence number .. message) | i64 sequence number | i64 enqueued ms | message

where the message is the event's encoded AMQP message, exactly as the producer sent it. On open, the last
segment is checked record by record and a torn tail (a crash mid-write) is cut off, so earlier events are
never lost. Appends are written (and optionally fsynced) one batch at a time.
"""

from __future__ import annotations

import bisect
import logging
import os
import struct
import zlib
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

_LOGGER = logging.getLogger(__name__)

RECORD_HEADER = struct.Struct(">IIqq")
HEADER_SIZE = RECORD_HEADER.size
_SEQ_TIME = struct.Struct(">qq")
_INDEX_EVERY_BYTES = 256 * 1024  # index density when rebuilding from disk
_READ_CHUNK = 1024 * 1024


class StoredEvent(NamedTuple):
    """One event read back from a partition log."""

    offset: int
    sequence_number: int
    enqueued_ms: int
    message: bytes


@dataclass
class _Segment:
    base: int  # offset of its first record
    path: Path
    fd: int
    size: int  # bytes of complete records
    last_time: int = 0


class PartitionLog:
    """The append-only, crash-safe event log of one partition."""

    def __init__(
        self, directory: Path, *, segment_bytes: int = 64 * 1024 * 1024, fsync: bool = False
    ) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self._segments: list[_Segment] = []
        self._bases: list[int] = []
        # Sparse index: one entry per appended batch (and every ~256 KB when rebuilt from disk).
        self._idx_pos = array("q")
        self._idx_seq = array("q")
        self._idx_time = array("q")
        self.next_sequence_number = 0
        self.last_offset = -1
        self.last_enqueued_ms = 0
        self.begin_sequence_number = 0
        self._open()

    # --- opening and recovery -------------------------------------------------------------
    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        paths = sorted(self.directory.glob("*.log"))
        for number, path in enumerate(paths):
            base = int(path.stem)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            segment = _Segment(base=base, path=path, fd=fd, size=0)
            self._recover(segment, verify=number == len(paths) - 1)
            if self._segments and base != self._segments[-1].base + self._segments[-1].size:
                _LOGGER.warning("segment %s does not follow its predecessor; offsets may jump", path)
            self._segments.append(segment)
            self._bases.append(base)
        if not self._segments:
            self._new_segment(0)
        if self._idx_seq:
            self.begin_sequence_number = self._idx_seq[0]
        else:
            self.begin_sequence_number = self.next_sequence_number

    def _recover(self, segment: _Segment, *, verify: bool) -> None:
        """Scan ``segment``: rebuild the index; on the last segment check CRCs and cut a torn tail."""
        file_size = os.fstat(segment.fd).st_size
        pos = 0
        last_indexed = -_INDEX_EVERY_BYTES
        while pos + HEADER_SIZE <= file_size:
            header = os.pread(segment.fd, HEADER_SIZE, pos)
            length, crc, seq, enqueued = RECORD_HEADER.unpack(header)
            end = pos + HEADER_SIZE + length
            if end > file_size:
                break
            if verify:
                message = os.pread(segment.fd, length, pos + HEADER_SIZE)
                if zlib.crc32(message, zlib.crc32(header[8:])) != crc:
                    break
            if seq < self.next_sequence_number and self.next_sequence_number:
                break  # garbage that happens to have a valid length; never go backwards
            if pos - last_indexed >= _INDEX_EVERY_BYTES:
                self._index(segment.base + pos, seq, enqueued)
                last_indexed = pos
            self.next_sequence_number = seq + 1
            self.last_offset = segment.base + pos
            self.last_enqueued_ms = enqueued
            segment.last_time = enqueued
            pos = end
        if pos != file_size:
            if not verify:
                _LOGGER.warning("segment %s has %d unreadable trailing bytes", segment.path, file_size - pos)
            else:
                _LOGGER.warning("cutting a torn tail of %d bytes off %s", file_size - pos, segment.path)
                os.ftruncate(segment.fd, pos)
                os.fsync(segment.fd)
        segment.size = pos

    def _new_segment(self, base: int) -> _Segment:
        path = self.directory / f"{base:020d}.log"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        segment = _Segment(base=base, path=path, fd=fd, size=0)
        self._segments.append(segment)
        self._bases.append(base)
        return segment

    def _index(self, position: int, seq: int, enqueued: int) -> None:
        self._idx_pos.append(position)
        self._idx_seq.append(seq)
        self._idx_time.append(enqueued)

    # --- properties ---------------------------------------------------------------------------
    @property
    def first_offset(self) -> int:
        return self._segments[0].base

    @property
    def end_offset(self) -> int:
        """The offset the next record will get (one past the last byte)."""
        last = self._segments[-1]
        return last.base + last.size

    @property
    def last_sequence_number(self) -> int:
        return self.next_sequence_number - 1

    @property
    def is_empty(self) -> bool:
        return self.next_sequence_number == self.begin_sequence_number

    # --- writing ------------------------------------------------------------------------------
    def append(self, messages: list[bytes], enqueued_ms: int) -> int:
        """Append ``messages`` as one write; returns the sequence number of the first one."""
        # Enqueued time never goes backwards within a partition, whatever the wall clock does.
        enqueued_ms = max(enqueued_ms, self.last_enqueued_ms)
        segment = self._segments[-1]
        if segment.size >= self.segment_bytes:
            segment = self._new_segment(segment.base + segment.size)
        first_seq = seq = self.next_sequence_number
        parts = []
        pack_tail = _SEQ_TIME.pack
        pack_header = RECORD_HEADER.pack
        crc32 = zlib.crc32
        position = segment.size
        last_position = position
        for message in messages:
            tail = pack_tail(seq, enqueued_ms)
            parts.append(pack_header(len(message), crc32(message, crc32(tail)), seq, enqueued_ms))
            parts.append(message)
            last_position = position
            position += HEADER_SIZE + len(message)
            seq += 1
        data = b"".join(parts)
        written = os.write(segment.fd, data)
        while written < len(data):  # short writes are rare but legal
            written += os.write(segment.fd, data[written:])
        if self.fsync:
            os.fsync(segment.fd)
        self._index(segment.base + segment.size, first_seq, enqueued_ms)
        segment.size = position
        segment.last_time = enqueued_ms
        self.next_sequence_number = seq
        self.last_offset = segment.base + last_position
        self.last_enqueued_ms = enqueued_ms
        return first_seq

    # --- reading ------------------------------------------------------------------------------
    def _segment_at(self, position: int) -> _Segment | None:
        i = bisect.bisect_right(self._bases, position) - 1
        if i < 0:
            return None
        segment = self._segments[i]
        if position >= segment.base + segment.size:
            if i + 1 < len(self._segments):
                return self._segments[i + 1]
            return None
        return segment

    def read(
        self, position: int, max_events: int, max_bytes: int = _READ_CHUNK
    ) -> tuple[list[StoredEvent], int]:
        """Up to ``max_events`` events (about ``max_bytes``) from ``position``, and the position after."""
        position = max(position, self.first_offset)
        events: list[StoredEvent] = []
        budget = max_bytes
        while len(events) < max_events and budget > 0:
            segment = self._segment_at(position)
            if segment is None:
                break
            local = max(position - segment.base, 0)
            available = segment.size - local
            chunk = os.pread(segment.fd, min(max(budget, HEADER_SIZE), available), local)
            pos = 0
            while len(events) < max_events and pos + HEADER_SIZE <= len(chunk):
                length, _crc, seq, enqueued = RECORD_HEADER.unpack_from(chunk, pos)
                end = pos + HEADER_SIZE + length
                if end > len(chunk):
                    if pos:
                        break
                    chunk = os.pread(segment.fd, HEADER_SIZE + length, local)  # one record larger than asked
                    continue
                events.append(
                    StoredEvent(segment.base + local + pos, seq, enqueued, chunk[pos + HEADER_SIZE : end])
                )
                pos = end
            if not pos:
                break
            position = segment.base + local + pos
            budget -= pos
        return events, position

    def _scan_from_index(self, i: int, keep: Callable[[StoredEvent], bool]) -> int:
        """From index entry ``i``, the offset of the first record for which ``keep(event)`` holds."""
        position = self._idx_pos[i] if i >= 0 else self.first_offset
        while True:
            events, next_position = self.read(position, 1024)
            if not events:
                return self.end_offset
            for event in events:
                if keep(event):
                    return event.offset
            position = next_position

    def position_for_offset(self, offset: int, inclusive: bool) -> int:
        """Where a reader starts for ``x-opt-offset >[=] offset``."""
        if offset < self.first_offset:
            return self.first_offset
        if offset >= self.end_offset:
            return self.end_offset
        i = bisect.bisect_right(self._idx_pos, offset) - 1
        if inclusive:
            return self._scan_from_index(i, lambda e: e.offset >= offset)
        return self._scan_from_index(i, lambda e: e.offset > offset)

    def position_for_sequence(self, sequence_number: int, inclusive: bool) -> int:
        """Where a reader starts for ``x-opt-sequence-number >[=] n``."""
        wanted = sequence_number if inclusive else sequence_number + 1
        if wanted >= self.next_sequence_number:
            return self.end_offset
        i = bisect.bisect_right(self._idx_seq, wanted) - 1
        return self._scan_from_index(i, lambda e: e.sequence_number >= wanted)

    def position_for_time(self, enqueued_ms: int, inclusive: bool) -> int:
        """Where a reader starts for ``x-opt-enqueued-time >[=] ms``."""
        i = bisect.bisect_left(self._idx_time, enqueued_ms) - 1
        if inclusive:
            return self._scan_from_index(i, lambda e: e.enqueued_ms >= enqueued_ms)
        return self._scan_from_index(i, lambda e: e.enqueued_ms > enqueued_ms)

    # --- retention and shutdown ---------------------------------------------------------------
    def apply_retention(self, oldest_ms: int) -> int:
        """Delete whole segments whose newest event is older than ``oldest_ms``; returns how many."""
        removed = 0
        while len(self._segments) > 1 and self._segments[0].last_time < oldest_ms:
            segment = self._segments.pop(0)
            self._bases.pop(0)
            os.close(segment.fd)
            segment.path.unlink(missing_ok=True)
            removed += 1
        if removed:
            cut = bisect.bisect_left(self._idx_pos, self.first_offset)
            del self._idx_pos[:cut], self._idx_seq[:cut], self._idx_time[:cut]
            events, _ = self.read(self.first_offset, 1)
            self.begin_sequence_number = events[0].sequence_number if events else self.next_sequence_number
            if not self._idx_pos or self._idx_pos[0] != self.first_offset:
                self._idx_pos.insert(0, self.first_offset)
                self._idx_seq.insert(0, self.begin_sequence_number)
                self._idx_time.insert(0, events[0].enqueued_ms if events else self.last_enqueued_ms)
        return removed

    def close(self) -> None:
        for segment in self._segments:
            try:
                if self.fsync:
                    os.fsync(segment.fd)
                os.close(segment.fd)
            except OSError:
                pass
        self._segments.clear()
        self._bases.clear()
