"""Schemas: the contract's column order, Power BI's limits on gold, no zone-less timestamps anywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pyspark.sql.types import DataType, DecimalType, StructType, TimestampNTZType

from transforms import bronze_schemas, contract, gold_schemas, silver_schemas
from transforms.gold_schemas import GOLD_SCHEMAS

MONEY_COLUMNS = {"price", "unit_price", "net_amount", "revenue", "average_order_value", "monetary"}
SNAKE_CASE = re.compile(r"^_?[a-z][a-z0-9_]*$")


def schemas_of(module: object) -> dict[str, StructType]:
    return {name: value for name, value in vars(module).items() if isinstance(value, StructType)}


def data_types(data_type: DataType) -> list[DataType]:
    """``data_type`` and every type nested in it."""
    nested: list[DataType] = [data_type]
    for child in getattr(data_type, "fields", []):
        nested += data_types(child.dataType)
    for attribute in ("elementType", "keyType", "valueType"):
        if hasattr(data_type, attribute):
            nested += data_types(getattr(data_type, attribute))
    return nested


def test_the_contract_module_matches_the_documented_contract() -> None:
    """docs/data-contract.md is what people read; transforms.contract is what the code derives from."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "data-contract.md").read_text()
    table = doc.split("## Columns (in this order)")[1].split("\n\n")[0]
    documented = {}
    for line in table.splitlines()[3:]:
        entity, columns, key = (cell.strip() for cell in line.strip("|").split("|"))
        documented[entity] = (tuple(columns.split(", ")), tuple(key.strip("()").split(", ")))
    assert documented == {e: (contract.COLUMNS[e], contract.KEY_COLUMNS[e]) for e in contract.ENTITIES}


def test_bronze_read_schemas_take_the_contract_columns_in_file_order() -> None:
    assert {
        "customers": bronze_schemas.CUSTOMERS_COLUMNS,
        "products": bronze_schemas.PRODUCTS_COLUMNS,
        "orders": bronze_schemas.ORDERS_COLUMNS,
        "order_lines": bronze_schemas.ORDER_LINES_COLUMNS,
        "reviews": bronze_schemas.REVIEW_COLUMNS,
        "app_events": bronze_schemas.APP_EVENTS_COLUMNS,
        "finance_entries": bronze_schemas.FINANCE_ENTRIES_COLUMNS,
    } == contract.COLUMNS
    assert bronze_schemas.CUSTOMERS_CSV_SCHEMA.fieldNames()[-1] == "_corrupt_record"
    assert "_corrupt_record" not in bronze_schemas.APP_EVENTS_PARQUET_SCHEMA.fieldNames()


@pytest.mark.parametrize("module", [bronze_schemas, silver_schemas, gold_schemas], ids=lambda m: m.__name__)
def test_no_timestamp_ntz_anywhere(module: object) -> None:
    for name, schema in schemas_of(module).items():
        assert not any(isinstance(t, TimestampNTZType) for t in data_types(schema)), name


@pytest.mark.parametrize("table_name", sorted(GOLD_SCHEMAS))
def test_gold_is_power_bi_friendly(table_name: str) -> None:
    for field in GOLD_SCHEMAS[table_name].fields:
        assert SNAKE_CASE.match(field.name) and not field.name.startswith("_"), (table_name, field.name)
        if field.name in MONEY_COLUMNS:
            assert field.dataType == DecimalType(19, 4), (table_name, field.name)
        if isinstance(field.dataType, DecimalType):
            assert field.dataType.scale <= 6 and field.dataType.precision <= 19, (table_name, field.name)


def test_every_gold_schema_is_listed() -> None:
    declared = {name.removesuffix("_SCHEMA").lower() for name in schemas_of(gold_schemas)}
    assert declared == set(GOLD_SCHEMAS)


def test_silver_money_is_decimal_19_4() -> None:
    for name, schema in schemas_of(silver_schemas).items():
        for field in schema.fields:
            if field.name in MONEY_COLUMNS:
                assert field.dataType == DecimalType(19, 4), (name, field.name)
