"""The reviews producer's batching and pacing (with a fake producer), the client seam, and path helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from azure.eventhub import EventDataBatch

from infra.settings import Settings
from ingestion import reviews


class FakeProducer:
    """Hands out real EventDataBatch objects with a small size limit and records what is sent."""

    def __init__(self, max_size_in_bytes: int = 1_000) -> None:
        self.max_size = max_size_in_bytes
        self.sent: list[tuple[str | None, list[dict]]] = []

    def create_batch(self, partition_key: str | None = None) -> EventDataBatch:
        return EventDataBatch(max_size_in_bytes=self.max_size, partition_key=partition_key)

    def send_batch(self, batch: EventDataBatch) -> None:
        key = (
            batch._partition_key.decode() if isinstance(batch._partition_key, bytes) else batch._partition_key
        )
        self.sent.append((key, [json.loads(e.body_as_str()) for e in batch._internal_events]))


def review(i: int, product_id: str | None) -> dict:
    return {"review_id": f"R{i:08d}", "product_id": product_id, "customer_id": "C0000001", "rating": 5,
            "title": "t", "text": "x" * 100, "reviewed_at": "2026-01-01T00:00:00Z"}  # fmt: skip


def test_batches_are_per_product_and_sent_when_full() -> None:
    producer = FakeProducer()
    records = [review(i, "P00001" if i % 3 else "P00002") for i in range(30)]
    stats = reviews.send(producer, records)

    assert stats.events == 30 and stats.batches == len(producer.sent)
    assert stats.events_by_key == {"P00001": 20, "P00002": 10}
    assert all(len(events) <= 4 for _, events in producer.sent)  # ~250 bytes each in a 1,000-byte batch
    assert all({e["product_id"] for e in events} == {key} for key, events in producer.sent)
    sent = [e for _, events in producer.sent for e in events]
    assert sorted(e["review_id"] for e in sent) == sorted(r["review_id"] for r in records)
    for key in ("P00001", "P00002"):  # order kept within a partition key
        ids = [e["review_id"] for k, events in producer.sent if k == key for e in events]
        assert ids == [r["review_id"] for r in records if r["product_id"] == key]


def test_a_review_without_product_goes_without_partition_key() -> None:
    producer = FakeProducer(10_000)
    reviews.send(producer, [review(1, None), review(2, "P00001")])
    assert sorted((k or "", len(e)) for k, e in producer.sent) == [("", 1), ("P00001", 1)]


def test_rate_paces_the_sends() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    producer = FakeProducer(100_000)
    records = [review(i, "P00001") for i in range(100)]
    reviews.send(producer, records, rate=40.0, clock=lambda: now[0], sleep=sleep)
    assert len(producer.sent) == 10  # flushed every 10 events (a quarter of a second at 40/s)
    assert now[0] == pytest.approx(2.5)  # 100 events at 40 events/s


def test_per_partition_counts_from_sequence_numbers() -> None:
    assert reviews.per_partition({"0": -1, "1": 9, "10": 3}, {"0": 4, "1": 9, "10": 5}) == {
        "0": 5,
        "1": 0,
        "10": 2,
    }


def test_reviews_to_send_takes_the_first_count_and_refuses_more_than_there_are() -> None:
    from datetime import date

    first = reviews.reviews_to_send(5, seed=7, sf=0.01, day=0, start=date(2026, 1, 1))
    assert [r["review_id"] for r in first] == [f"R{i:08d}" for i in range(1, 6)]
    with pytest.raises(ValueError, match="has 2000 reviews, fewer than count=3000"):
        reviews.reviews_to_send(3000, seed=7, sf=0.01, day=0, start=date(2026, 1, 1))


def test_producer_client_seam(tmp_path: Path) -> None:
    local = reviews.producer_client(Settings(state_dir=tmp_path, amqp_port=5999))
    assert local.eventhub_name == "product-reviews"
    assert local._address.hostname == "127.0.0.1:5999"
    azure = Settings(
        profile="azure",
        storage_account="acct",
        eventhubs_fully_qualified_namespace="ns.servicebus.windows.net",
        state_dir=tmp_path,
    )
    remote = reviews.producer_client(azure)
    assert (remote._address.hostname, remote.eventhub_name) == (
        "ns.servicebus.windows.net",
        "product-reviews",
    )
    assert type(remote._credential).__name__ == "DefaultAzureCredential"
    local.close()
    remote.close()


def test_paths() -> None:
    settings = Settings()
    assert reviews.capture_prefix(settings) == "eventhubs/emulatorNs1/product-reviews"
    path = "eventhubs/emulatorNs1/product-reviews/3/2026/01/02/10/04/05.avro"
    assert reviews.relative(path) == "emulatorNs1/product-reviews/3/2026/01/02/10/04/05.avro"


class VirtualTime:
    """A clock that moves only when the waiter sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_wait_for_capture_waits_as_long_as_capture_keeps_writing() -> None:
    time, heard = VirtualTime(), []
    lags = iter([{"0": 900 - 10 * i, "1": 5} for i in range(90)] + [{}])  # 90 s in all, shrinking each second
    reviews.wait_for_capture(
        lambda: next(lags), stall_seconds=20, progress=heard.append, clock=time.clock, sleep=time.sleep
    )
    assert time.now == 90
    assert heard == [905 - 100 * k for k in range(1, 9)]  # every 10 s: what is still to write


def test_wait_for_capture_fails_once_capture_stops_writing() -> None:
    time = VirtualTime()
    lags = iter([{"0": 30}, {"0": 20}] + [{"0": 20, "3": 0}] * 100)
    with pytest.raises(reviews.CaptureStalledError, match=r"wrote nothing for 20 s with 20 sent event\(s\)"):
        reviews.wait_for_capture(lambda: next(lags), stall_seconds=20, clock=time.clock, sleep=time.sleep)
    assert time.now == 21  # progress at t=1, then 20 s of nothing
    assert issubclass(reviews.CaptureStalledError, TimeoutError)
