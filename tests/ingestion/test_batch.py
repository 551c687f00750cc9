"""Pure parts of the batch copy: where a landing file goes, and why a file is rejected."""

from __future__ import annotations

import pytest

from ingestion.batch import (
    CopyOutcome,
    LandingPlace,
    bronze_destination,
    manifest_path,
    outcome_rows,
    place_of,
    rejected_path,
    rejection_reason,
)

HEADER = b"product_id,name,category,price,launched_at,updated_at\n"


def test_place_of_reads_entity_date_and_name() -> None:
    assert place_of("batch/products/2026-01-02/products.csv") == LandingPlace(
        "products", "2026-01-02", "products.csv"
    )
    assert place_of("batch/products/products.csv") is None
    assert place_of("batch/products/2026-01-02/x/products.csv") is None


def test_first_version_keeps_its_name_later_versions_carry_their_md5() -> None:
    place = LandingPlace("orders", "2026-01-01", "orders.csv")
    md5 = "0123456789abcdef0123456789abcdef"
    assert bronze_destination(place, md5, first_version=True) == "orders/ingest_date=2026-01-01/orders.csv"
    assert (
        bronze_destination(place, md5, first_version=False)
        == "orders/ingest_date=2026-01-01/orders.0123456789ab.csv"
    )


def test_control_paths() -> None:
    source = "batch/orders/2026-01-01/orders.csv"
    assert manifest_path(source, "abc") == "_ops/manifest/batch/orders/2026-01-01/orders.csv/abc.json"
    assert rejected_path(source) == "_rejected/batch/orders/2026-01-01/orders.csv"


@pytest.mark.parametrize(
    ("source", "data", "reason"),
    [
        ("batch/products/2026-01-01/products.csv", HEADER + b"P00001,a,software,1.00,x,y\n", None),
        ("batch/products/2026-01-01/products.csv", b"\xef\xbb\xbf" + HEADER, None),  # a BOM is tolerated
        ("batch/products/2026-01-01/products.csv", HEADER.replace(b"\n", b"\r\n"), None),
        (
            "batch/products/2026-01-01/products.csv",
            b"product_id,name,price\n",
            "header mismatch for products: expected product_id,name,category,price,launched_at,updated_at; "
            "found product_id,name,price",
        ),
        ("batch/products/2026-01-01/products.csv", b"", "empty file: no header row"),
        (
            "batch/finance_entries/2026-01-01/finance_entries.csv",
            b"entry_id,kind,category,amount,note,booked_at\n"
            b'F00000001,revenue,sales,10.00,"sales 2026-01, ref 1",2026-01-01T00:00:00Z\n',
            None,
        ),
        (
            "batch/suppliers/2026-01-01/suppliers.csv",
            HEADER,
            "unknown entity 'suppliers': expected one of customers, finance_entries, order_lines, orders, "
            "products",
        ),
        ("batch/products/2026-01-01/products.json", HEADER, "not a CSV file: 'products.json'"),
        (
            "batch/products.csv",
            HEADER,
            "unexpected location 'batch/products.csv': expected batch/<entity>/<yyyy-mm-dd>/<file>.csv",
        ),
        (
            "batch/products/2026-01-01/products.csv",
            b"\xff\xfe\n",
            "unreadable header: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        ),
    ],
)
def test_rejection_reason(source: str, data: bytes, reason: str | None) -> None:
    assert rejection_reason(source, data) == reason


def test_report_rows_leave_unchanged_files_out() -> None:
    outcomes = [
        CopyOutcome("batch/a/2026-01-01/a.csv", "unchanged", "a/x.csv", "m1", 1),
        CopyOutcome("batch/b/2026-01-01/b.csv", "rejected", "_rejected/b", "m2", 2, "bad"),
    ]
    row = {"source": "batch/b/2026-01-01/b.csv", "status": "rejected", "destination": "_rejected/b"}
    assert outcome_rows(outcomes) == [row | {"size": 2, "md5": "m2", "reason": "bad"}]
