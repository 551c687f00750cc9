"""Partition logs: offsets and sequence numbers survive reopening; a torn tail never hurts earlier events."""

from __future__ import annotations

from pathlib import Path

from infra.local.eventhubs.storage import HEADER_SIZE, PartitionLog


def fill(log: PartitionLog, count: int, start_ms: int = 1_000) -> list[bytes]:
    messages = [f"event-{i}".encode() * 10 for i in range(count)]
    for i in range(0, count, 10):
        log.append(messages[i : i + 10], start_ms + i)
    return messages


def test_reopen_keeps_offsets_and_sequence_numbers(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, segment_bytes=4_000)
    messages = fill(log, 100)
    before, _ = log.read(0, 1_000)
    log.close()
    reopened = PartitionLog(tmp_path, segment_bytes=4_000)
    after, _ = reopened.read(0, 1_000)
    assert [(e.offset, e.sequence_number, e.message) for e in after] == [
        (e.offset, e.sequence_number, e.message) for e in before
    ]
    assert [e.message for e in after] == messages
    assert len(list(tmp_path.glob("*.log"))) > 1
    assert reopened.append([b"next"], 5_000) == 100


def test_torn_tail_is_cut_and_earlier_events_survive(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path)
    fill(log, 20)
    end = log.end_offset
    log.close()
    segment = next(tmp_path.glob("*.log"))
    with segment.open("ab") as handle:  # a crash in the middle of writing the next record
        handle.write(b"\x00\x00\x00\x40" + b"\x01" * (HEADER_SIZE + 10))
    reopened = PartitionLog(tmp_path)
    assert (reopened.end_offset, reopened.last_sequence_number) == (end, 19)
    assert segment.stat().st_size == end
    assert reopened.append([b"after-crash"], 9_000) == 20
    events, _ = reopened.read(0, 100)
    assert [e.sequence_number for e in events] == list(range(21))


def test_positions_by_offset_sequence_number_and_time(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path)
    fill(log, 50)
    events, _ = log.read(0, 100)

    def first_after(position: int) -> int:
        return log.read(position, 1)[0][0].sequence_number

    assert first_after(log.position_for_offset(events[7].offset, inclusive=False)) == 8
    assert first_after(log.position_for_offset(events[7].offset, inclusive=True)) == 7
    assert first_after(log.position_for_sequence(30, inclusive=False)) == 31
    assert first_after(log.position_for_sequence(30, inclusive=True)) == 30
    assert first_after(log.position_for_time(1_020, inclusive=True)) == 20  # events 20..29 share 1_020
    assert first_after(log.position_for_time(1_020, inclusive=False)) == 30
    assert log.position_for_sequence(49, inclusive=False) == log.end_offset


def test_retention_drops_old_segments_only(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, segment_bytes=2_000)
    fill(log, 60)
    removed = log.apply_retention(oldest_ms=1_030)
    events, _ = log.read(0, 100)
    assert removed > 0
    assert log.begin_sequence_number == events[0].sequence_number > 0
    assert events[-1].sequence_number == 59
