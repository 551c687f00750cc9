"""The synthetic generator against docs/data-contract.md: files, determinism, counts and the manifest.

Defects are re-detected from the files alone (parsing numbers and dates, checking foreign keys, ratings,
quantities, 2099 timestamps, repeated lines) and compared with the manifest and summary.json.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from ingestion.synthetic import clean_records, generate, iter_app_events, iter_reviews
from transforms import contract

START = date(2026, 1, 1)
DAYS = 3
CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"
ENTITIES = ("customers", "products", "orders", "order_lines", "reviews", "app_events", "finance_entries")
CSV_ENTITIES = {"customers", "products", "orders", "order_lines", "finance_entries"}
# Rows per file at SF0.01: day 0, then each later day (customers: 20 new + 10 re-sent).
EXPECTED_ROWS = {
    "customers": (1_000, 30),
    "products": (50, 1),
    "orders": (3_000, 60),
    "reviews": (2_000, 40),
    "app_events": (10_000, 200),
    "finance_entries": (120, 4),
}
IDS = {
    "customer_id": re.compile(r"C\d{7}"),
    "product_id": re.compile(r"P\d{5}"),
    "order_id": re.compile(r"O\d{8}"),
    "review_id": re.compile(r"R\d{8}"),
    "event_id": re.compile(r"[0-9a-f]{32}"),
    "entry_id": re.compile(r"F\d{8}"),
}
AMOUNT = re.compile(r"\d+(\.\d{1,2})?")
KEY = {
    "customers": "customer_id",
    "products": "product_id",
    "orders": "order_id",
    "reviews": "review_id",
    "app_events": "event_id",
    "finance_entries": "entry_id",
}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic_seed7")
    generate(folder, sf=0.01, seed=7, days=DAYS)
    return folder


def _contract_columns() -> dict[str, list[str]]:
    """The column table of the contract page, parsed from the page itself."""
    columns: dict[str, list[str]] = {}
    for line in CONTRACT.read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0] in ENTITIES:
            columns[cells[0]] = [column.strip() for column in cells[1].split(",")]
    return columns


def _file(out: Path, entity: str, batch_date: date) -> Path:
    if entity in CSV_ENTITIES:
        return out / "batch" / entity / batch_date.isoformat() / f"{entity}.csv"
    return out / entity / batch_date.isoformat() / f"{entity}.jsonl"


@dataclass
class Record:
    line: str
    values: dict[str, object]


def _records(out: Path, entity: str, batch_date: date) -> list[Record]:
    """The raw lines of a file with their parsed values (CSV empty fields -> None)."""
    text = _file(out, entity, batch_date).read_text(encoding="utf-8")
    lines = text.splitlines()
    if entity in CSV_ENTITIES:
        header, *rows = list(csv.reader(lines))
        return [
            Record(line, {k: (v if v != "" else None) for k, v in zip(header, row, strict=True)})
            for line, row in zip(lines[1:], rows, strict=True)
        ]
    return [Record(line, json.loads(line)) for line in lines]


def _timestamp(value: object) -> datetime | None:
    try:
        return datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None


def _amount(value: object) -> bool:
    return value is not None and AMOUNT.fullmatch(str(value)) is not None


def _detect(out: Path) -> list[tuple[str, date, str, str, Record | None]]:
    """(entity, batch date, record_id, defect, clean record or None) for every row, found from files alone."""
    found: list[tuple[str, date, str, str, Record | None]] = []
    customers: set[str] = set()
    products: set[str] = set()
    for day in range(DAYS):
        batch_date = START + timedelta(days=day)
        for entity in ENTITIES:
            seen: set[str] = set()
            for record in _records(out, entity, batch_date):
                row = record.values
                if entity == "order_lines":
                    key = f"{row['order_id']}#{row['line_number']}"
                else:
                    key = str(row[KEY[entity]] or "")
                defect = _defect_of(entity, row, key, batch_date, day, customers, products)
                if record.line in seen:
                    defect = "exact_duplicate"
                seen.add(record.line)
                if defect is None and entity == "customers":
                    customers.add(key)
                if defect is None and entity == "products":
                    products.add(key)
                found.append((entity, batch_date, key, defect or "", record if defect is None else None))
    return found


def _defect_of(
    entity: str,
    row: dict[str, object],
    key: str,
    batch_date: date,
    day: int,
    customers: set[str],
    products: set[str],
) -> str | None:
    if entity != "order_lines" and not key:
        return "null_key"
    if entity == "customers" and _timestamp(row["signup_at"]) is None:
        return "unparseable_date"
    if entity == "products" and not _amount(row["price"]):
        return "unparseable_number"
    if entity == "orders":
        if _timestamp(row["ordered_at"]) is None:
            return "unparseable_date"
        if row["customer_id"] not in customers:
            return "orphan_fk"
    if entity == "order_lines":
        if not _amount(row["unit_price"]):
            return "unparseable_number"
        if int(str(row["quantity"])) < 0:
            return "negative_quantity"
        if row["product_id"] not in products:
            return "orphan_fk"
    if entity == "reviews":
        if row["rating"] not in (1, 2, 3, 4, 5):
            return "rating_out_of_range"
        if row["product_id"] not in products:
            return "orphan_fk"
        if str(row["reviewed_at"]).startswith("2099-"):
            return "future_event"
    if entity == "app_events":
        if str(row["occurred_at"]).startswith("2099-"):
            return "future_event"
        occurred = _timestamp(row["occurred_at"])
        if day > 0 and occurred is not None and occurred.date() < batch_date:
            return "late_event"
    if entity == "finance_entries":
        if not _amount(row["amount"]):
            return "unparseable_number"
        if _timestamp(row["booked_at"]) is None:
            return "unparseable_date"
    return None


@pytest.fixture(scope="module")
def detected(out: Path) -> list[tuple[str, date, str, str, Record | None]]:
    return _detect(out)


def _manifest(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_same_seed_gives_identical_bytes_and_another_seed_different_ones(out: Path, tmp_path: Path) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    # Another global random state than the `out` fixture saw: equal bytes below prove the generator does not
    # depend on it (other threads of the suite's process may draw from it, so its state is not compared).
    random.seed(12345)
    generate(again, sf=0.01, seed=7, days=DAYS)
    generate(other, sf=0.01, seed=8, days=DAYS)

    expected_files = {
        str(_file(Path(), entity, START + timedelta(days=day))) for entity in ENTITIES for day in range(DAYS)
    } | {"manifest.csv", "summary.json"}
    assert set(_hashes(out)) == expected_files
    assert _hashes(again) == _hashes(out)
    differing = {name for name, digest in _hashes(other).items() if _hashes(out)[name] != digest}
    assert differing == expected_files


def test_manifest_lists_exactly_the_defects_found_in_the_files(out: Path, detected: list) -> None:
    manifest = _manifest(out)
    assert list(manifest[0]) == ["entity", "record_id", "defect", "field"]
    found = Counter((entity, key, defect) for entity, _, key, defect, _ in detected if defect)
    listed = Counter((row["entity"], row["record_id"], row["defect"]) for row in manifest)
    assert listed == found

    fields = {
        ("customers", "null_key"): "customer_id",
        ("customers", "unparseable_date"): "signup_at",
        ("products", "null_key"): "product_id",
        ("products", "unparseable_number"): "price",
        ("orders", "null_key"): "order_id",
        ("orders", "unparseable_date"): "ordered_at",
        ("orders", "orphan_fk"): "customer_id",
        ("order_lines", "unparseable_number"): "unit_price",
        ("order_lines", "negative_quantity"): "quantity",
        ("order_lines", "orphan_fk"): "product_id",
        ("reviews", "null_key"): "review_id",
        ("reviews", "rating_out_of_range"): "rating",
        ("reviews", "orphan_fk"): "product_id",
        ("reviews", "future_event"): "reviewed_at",
        ("app_events", "null_key"): "event_id",
        ("app_events", "future_event"): "occurred_at",
        ("app_events", "late_event"): "occurred_at",
        ("finance_entries", "null_key"): "entry_id",
        ("finance_entries", "unparseable_number"): "amount",
        ("finance_entries", "unparseable_date"): "booked_at",
    }
    assert {(row["entity"], row["defect"], row["field"]) for row in manifest} == {
        (entity, defect, field) for (entity, defect), field in fields.items()
    } | {(entity, "exact_duplicate", "") for entity in ENTITIES}


def test_every_defect_kind_occurs_on_day_0_and_late_events_on_later_days(detected: list) -> None:
    kinds = Counter((entity, batch_date, defect) for entity, batch_date, _, defect, _ in detected if defect)
    day0 = {(entity, defect) for entity, batch_date, defect in kinds if batch_date == START}
    assert day0 == {
        ("customers", "exact_duplicate"),
        ("customers", "null_key"),
        ("customers", "unparseable_date"),
        ("products", "exact_duplicate"),
        ("products", "null_key"),
        ("products", "unparseable_number"),
        ("orders", "exact_duplicate"),
        ("orders", "null_key"),
        ("orders", "unparseable_date"),
        ("orders", "orphan_fk"),
        ("order_lines", "exact_duplicate"),
        ("order_lines", "unparseable_number"),
        ("order_lines", "negative_quantity"),
        ("order_lines", "orphan_fk"),
        ("reviews", "exact_duplicate"),
        ("reviews", "null_key"),
        ("reviews", "rating_out_of_range"),
        ("reviews", "orphan_fk"),
        ("reviews", "future_event"),
        ("app_events", "exact_duplicate"),
        ("app_events", "null_key"),
        ("app_events", "future_event"),
        ("finance_entries", "exact_duplicate"),
        ("finance_entries", "null_key"),
        ("finance_entries", "unparseable_number"),
        ("finance_entries", "unparseable_date"),
    }
    for day in range(1, DAYS):
        later = START + timedelta(days=day)
        assert {
            defect for entity, batch_date, defect in kinds if (entity, batch_date) == ("app_events", later)
        } == {
            "exact_duplicate",
            "null_key",
            "future_event",
            "late_event",
        }


def test_row_counts_follow_the_scale_factor_and_match_the_summary(out: Path, detected: list) -> None:
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert (summary["sf"], summary["seed"], summary["days"], summary["start"]) == (
        0.01,
        7,
        DAYS,
        "2026-01-01",
    )
    rows = Counter((entity, batch_date) for entity, batch_date, *_ in detected)
    bad = Counter((entity, batch_date, defect) for entity, batch_date, _, defect, _ in detected if defect)
    for entity in ENTITIES:
        for day in range(DAYS):
            batch_date = START + timedelta(days=day)
            stated = summary["entities"][entity]["by_date"][batch_date.isoformat()]
            defects = {kind: n for (e, d, kind), n in bad.items() if (e, d) == (entity, batch_date)}
            assert stated == {
                "rows": rows[entity, batch_date],
                "clean": rows[entity, batch_date] - sum(defects.values()),
                "bad": sum(defects.values()),
                "defects": defects,
            }
            if entity in EXPECTED_ROWS:
                assert rows[entity, batch_date] == EXPECTED_ROWS[entity][min(day, 1)]
        assert summary["entities"][entity]["rows"] == sum(n for (e, _), n in rows.items() if e == entity)
    # Bad fraction 0.02, at least one of each kind from 50 rows: day 0 carries these many bad records.
    assert {e: sum(n for (e2, d, _), n in bad.items() if (e2, d) == (e, START)) for e in EXPECTED_ROWS} == {
        "customers": 20,
        "products": 3,
        "orders": 60,
        "reviews": 40,
        "app_events": 200,
        "finance_entries": 4,
    }
    lines, orders = rows["order_lines", START], rows["orders", START]
    assert 3.1 < lines / orders < 3.5
    # Lines have no fixed count: 2% of the generated lines are bad, and the duplicates come on top of them.
    lines_bad = sum(n for (e, d, _), n in bad.items() if (e, d) == ("order_lines", START))
    assert lines_bad == round((lines - bad["order_lines", START, "exact_duplicate"]) * 0.02)


def test_columns_and_their_order_follow_the_contract_page(out: Path) -> None:
    columns = _contract_columns()
    assert set(columns) == set(ENTITIES)
    for entity in ENTITIES:
        for day in range(DAYS):
            path = _file(out, entity, START + timedelta(days=day))
            if entity in CSV_ENTITIES:
                assert path.read_text(encoding="utf-8").split("\n", 1)[0] == ",".join(columns[entity])
            else:
                for line in path.read_text(encoding="utf-8").splitlines():
                    assert list(json.loads(line)) == columns[entity]


_IN_BATCH_DAY = {"ordered_at", "reviewed_at", "occurred_at", "launched_at", "updated_at", "booked_at"}


def _low(column: str, batch_date: date) -> datetime:
    """Earliest clean timestamp: masters from three years, facts from one year before day 0; then in-day.

    Re-sent customers keep their old signup_at; late events are not clean records.
    """
    if batch_date != START and column in _IN_BATCH_DAY:
        return datetime(batch_date.year, batch_date.month, batch_date.day)
    if column in ("ordered_at", "reviewed_at", "occurred_at", "booked_at"):
        return datetime(2025, 1, 1)
    return datetime(2023, 1, 1)


def _high(batch_date: date) -> datetime:
    """Day 0 holds history before the start date; a later day holds that day."""
    end = batch_date if batch_date == START else batch_date + timedelta(days=1)
    return datetime(end.year, end.month, end.day)


def test_clean_rows_hold_valid_ids_enumerations_and_timestamps(detected: list) -> None:
    clean = [(entity, batch_date, record.values) for entity, batch_date, _, _, record in detected if record]
    anonymous = 0
    events_by_type: Counter[str] = Counter()
    for entity, batch_date, row in clean:
        for column, pattern in IDS.items():
            if column in row and row[column] is not None:
                assert pattern.fullmatch(str(row[column])), (entity, column, row[column])
        for column, value in row.items():
            if column.endswith("_at"):
                moment = _timestamp(value)
                assert moment is not None, (entity, column, value)
                assert _low(column, batch_date) <= moment < _high(batch_date), (entity, column, value)
        if entity == "customers":
            assert re.fullmatch(r"[A-Z]{2}", str(row["country"]).strip().upper())
            assert str(row["region"]).upper() in {"EMEA", "AMER", "APAC"}
            assert re.fullmatch(r"[a-z0-9.]+@[a-z0-9.-]+\.[a-z]+", str(row["email"]).strip().lower())
            assert row["segment"] in {"consumer", "small_business", "enterprise"}
            assert row["is_active"] in {"true", "false"}
            assert str(row["updated_at"]) >= str(row["signup_at"])
        if entity == "products":
            assert row["category"] in {"software", "hardware", "subscription", "service", "accessory"}
            assert float(str(row["price"])) >= 5
        if entity == "orders":
            assert row["status"] in {"placed", "shipped", "delivered", "cancelled", "returned"}
            assert str(row["region"]).upper() in {"EMEA", "AMER", "APAC"}
            assert row["channel"] in {"web", "mobile", "partner"}
            assert str(row["updated_at"]) >= str(row["ordered_at"])
        if entity == "order_lines":
            assert 1 <= int(str(row["line_number"])) <= 6
            assert int(str(row["quantity"])) >= 1
            assert 0 <= float(str(row["discount"])) < 1
        if entity == "reviews":
            assert row["rating"] in {1, 2, 3, 4, 5} and row["title"] and row["text"]
        if entity == "app_events":
            assert row["event_type"] in {"page_view", "search", "add_to_cart", "checkout", "purchase"}
            assert row["device"] in {"desktop", "mobile", "tablet"}
            assert IDS["event_id"].fullmatch(str(row["session_id"]))
            anonymous += row["customer_id"] is None
            events_by_type[str(row["event_type"])] += 1
            if row["event_type"] == "search":
                assert row["product_id"] is None
            if row["event_type"] in {"add_to_cart", "checkout", "purchase"}:
                assert row["product_id"] is not None
            if row["event_type"] == "purchase":
                assert row["customer_id"] is not None
        if entity == "finance_entries":
            assert row["category"] in contract.FINANCE_CATEGORIES[str(row["kind"])]
            assert float(str(row["amount"])) >= 10 and row["note"]
    funnel = [events_by_type[kind] for kind in ("page_view", "add_to_cart", "checkout", "purchase")]
    assert funnel == sorted(funnel, reverse=True) and funnel[-1] > 0
    assert 0.15 < anonymous / sum(events_by_type.values()) < 0.45
    statuses = Counter(row["status"] for entity, _, row in clean if entity == "orders")
    assert statuses.most_common(1)[0][0] == "delivered" and statuses["cancelled"] and statuses["returned"]


def test_clean_records_reference_clean_customers_and_products(detected: list) -> None:
    customers: set[str] = set()
    products: set[str] = set()
    for entity, _, key, _, record in detected:
        if record is None:
            continue
        row = record.values
        if entity == "customers":
            customers.add(key)
        elif entity == "products":
            products.add(key)
        elif entity in ("reviews", "app_events"):
            assert row["customer_id"] is None or row["customer_id"] in customers
            assert row["product_id"] is None or row["product_id"] in products


def test_later_days_carry_customer_updates_and_late_events(out: Path, detected: list) -> None:
    latest: dict[str, dict[str, object]] = {}
    for day in range(DAYS):
        batch_date = START + timedelta(days=day)
        rows = [
            (record.values if record else None, key)
            for e, d, key, _, record in detected
            if (e, d) == ("customers", batch_date)
        ]
        resent = [row for row, key in rows if row is not None and key in latest]
        new = [row for row, key in rows if row is not None and key not in latest]
        bad = [key for row, key in rows if row is None]
        if day > 0:  # 20 new customers and 10 re-sent ones, one of the 30 rows is bad
            assert (len(new) + len(resent), len(bad)) == (29, 1)
            assert len(resent) in (9, 10)
        for row in resent:
            before = latest[str(row["customer_id"])]
            assert str(row["updated_at"]) > str(before["updated_at"])
            assert (row["name"], row["signup_at"]) == (before["name"], before["signup_at"])
            changed = {
                field
                for field, norm in (
                    ("segment", str),
                    ("country", lambda v: str(v).strip().upper()),
                    ("email", lambda v: str(v).strip().lower()),
                )
                if norm(row[field]) != norm(before[field])
            }
            assert len(changed) == 1, (row, before)
        for row, key in rows:
            if row is not None:
                latest[key] = row

        events = _records(out, "app_events", batch_date)
        late = {
            str(r.values["event_id"])
            for r in events
            if str(r.values["occurred_at"])[:10] < batch_date.isoformat()
        }
        listed = {
            row["record_id"]
            for row in _manifest(out)
            if row["defect"] == "late_event" and row["record_id"] in late
        }
        if day > 0:
            assert late == listed
            assert len(late) == 1


def test_iterators_yield_exactly_the_file_content(out: Path) -> None:
    day1 = START + timedelta(days=1)
    assert list(iter_reviews(sf=0.01, seed=7, day=1)) == [r.values for r in _records(out, "reviews", day1)]
    assert list(iter_app_events(sf=0.01, seed=7, day=0)) == [
        r.values for r in _records(out, "app_events", START)
    ]


def test_clean_records_are_the_rows_silver_keeps(detected: list) -> None:
    for entity in ("customers", "orders", "app_events"):
        expected = [
            (batch_date, record.values)
            for e, batch_date, _, defect, record in detected
            if e == entity and record is not None
        ]
        late = {key for e, _, key, defect, _ in detected if e == entity and defect == "late_event"}
        kept = list(clean_records(entity, sf=0.01, seed=7, days=DAYS))
        assert [(d, r) for d, r in kept if r.get("event_id") not in late] == expected
        assert len(kept) == len(expected) + len(late)


def test_bad_fraction_zero_writes_no_bad_records(tmp_path: Path) -> None:
    summary = generate(tmp_path, sf=0.002, seed=1, days=2, bad_fraction=0)
    assert (tmp_path / "manifest.csv").read_text(encoding="utf-8") == "entity,record_id,defect,field\n"
    assert all(count.bad == 0 for count in summary.counts)
    assert summary.rows("customers") == 200 + 6


def test_an_anomaly_date_multiplies_that_days_quantities_and_changes_nothing_else(tmp_path: Path) -> None:
    spike = date(2025, 7, 15)
    plain, spiked = tmp_path / "plain", tmp_path / "spiked"
    generate(plain, sf=0.01, seed=7, days=1)
    generate(spiked, sf=0.01, seed=7, days=1, anomaly_date=spike, anomaly_factor=10)
    assert {k: v for k, v in _hashes(plain).items() if "order_lines" not in k and "summary" not in k} == {
        k: v for k, v in _hashes(spiked).items() if "order_lines" not in k and "summary" not in k
    }
    summary = json.loads((spiked / "summary.json").read_text(encoding="utf-8"))
    assert (summary["anomaly_date"], summary["anomaly_factor"]) == ("2025-07-15", 10)
    assert "anomaly_date" not in json.loads((plain / "summary.json").read_text(encoding="utf-8"))

    def lines(folder: Path) -> list[dict[str, str]]:
        path = folder / "batch" / "order_lines" / "2026-01-01" / "order_lines.csv"
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))

    with (plain / "batch" / "orders" / "2026-01-01" / "orders.csv").open(newline="") as handle:
        on_spike = {r["order_id"] for r in csv.DictReader(handle) if r["ordered_at"].startswith("2025-07-15")}
    changed = [
        (a["order_id"], int(a["quantity"]), int(b["quantity"]))
        for a, b in zip(lines(plain), lines(spiked), strict=True)
        if a != b
    ]
    # Orders whose date was made unparseable (a defect) still had their lines scaled, hence <=.
    assert on_spike and on_spike <= {order for order, _, _ in changed}
    assert all(after == before * 10 for _, before, after in changed)
