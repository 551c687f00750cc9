"""The Power BI drift guard: the TMDL model against the gold schemas (constants and real Delta tables)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from powerbi.tmdl import (
    check_model,
    check_model_against_delta,
    check_project,
    check_structure,
    gold_schema_constants,
    load_model,
    switch_gold_source,
)
from tests.powerbi.conftest import PROJECT, SEMANTIC_MODEL
from transforms.gold_schemas import GOLD_SCHEMAS

REQUIRED_MEASURES = {
    "Revenue",
    "Orders",
    "Average Order Value",
    "Return Rate",
    "Cancellation Rate",
    "Average Rating",
    "Review Count",
    "Conversion Rate",
    "Active Customers",
    "Revenue MoM %",
    "RFM Customers",
}
CURRENCY = "\\€#,0.00;-\\€#,0.00;\\€#,0.00"


@pytest.fixture(scope="module")
def model():
    return load_model(SEMANTIC_MODEL)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A scratch copy of powerbi/ to break on purpose."""
    shutil.copytree(PROJECT.parent, tmp_path / "powerbi")
    return tmp_path / "powerbi"


# --- against transforms/gold_schemas.py ---------------------------------------------------------------------
def test_model_matches_the_gold_schema_constants(model) -> None:
    assert check_model(model, gold_schema_constants()) == []


def test_every_gold_table_is_a_model_table(model) -> None:
    assert sorted(t.gold_table for t in model.tables.values()) == sorted([*GOLD_SCHEMAS, "_ops/dq_results"])


def test_the_check_results_leave_out_only_their_nested_sample_keys(model) -> None:
    dq = model.tables["Data Quality"]
    assert (dq.gold_table, dq.removed_columns) == ("_ops/dq_results", {"sample_keys"})
    schemas = gold_schema_constants()
    assert schemas["_ops/dq_results"]["sample_keys"] == "array<string>"
    dq_columns = schemas["_ops/dq_results"]
    renamed = {("sample_ids" if c == "sample_keys" else c): t for c, t in dq_columns.items()}
    assert check_model(model, {**schemas, "_ops/dq_results": renamed}) == [
        "table 'Data Quality': removes sample_keys, which is not a column of gold/_ops/dq_results",
        "gold/_ops/dq_results.sample_ids is not in the model (table 'Data Quality')",
    ]


def test_renaming_a_gold_column_without_the_model_fails(model) -> None:
    schemas = gold_schema_constants()
    sales = schemas["fact_sales"]
    schemas["fact_sales"] = {("net_amount_eur" if c == "net_amount" else c): t for c, t in sales.items()}
    assert check_model(model, schemas) == [
        "Sales[Net Amount]: sourceColumn net_amount is not a column of gold/fact_sales",
        "gold/fact_sales.net_amount_eur is not in the model (table 'Sales')",
    ]


def test_a_changed_gold_type_or_missing_table_fails(model) -> None:
    schemas = gold_schema_constants()
    schemas["dim_product"] = {**schemas["dim_product"], "price": "double"}
    schemas["fact_reviews"] = {**schemas["fact_reviews"], "reviewed_at": "timestamp_ntz"}
    del schemas["mart_funnel"]
    schemas["mart_new"] = {"date_key": "int"}
    assert sorted(check_model(model, schemas)) == sorted(
        [
            "Product[Price]: dataType decimal but gold/dim_product.price is double (expects double)",
            "gold/fact_reviews.reviewed_at: type timestamp_ntz cannot be read by Power BI",
            "table 'Daily Funnel' reads gold/mart_funnel, which does not exist",
            "gold/mart_new is not read by any model table",
        ]
    )


# --- the model's shape ------------------------------------------------------------------------------------
def test_structure_has_no_problems(model) -> None:
    assert check_structure(model) == []


def test_star_relationships(model) -> None:
    edges = {(r.from_table, r.from_column, r.to_table, r.to_column) for r in model.relationships}
    facts = {"Sales", "Reviews", "App Events"}
    expected = {(f, f"{d} Key", d, f"{d} Key") for f in facts for d in ("Customer", "Product", "Date")}
    expected |= {
        (m, "Date Key", "Date", "Date Key") for m in ("Monthly Revenue", "Daily Region Sales", "Daily Funnel")
    }
    expected |= {("Customer RFM", "Customer Key", "Customer", "Customer Key")}
    expected |= {("Product Rating", "Product Key", "Product", "Product Key")}
    assert edges == expected
    assert {
        (r.from_cardinality, r.to_cardinality, r.cross_filtering_behavior) for r in model.relationships
    } == {("many", "one", "oneDirection")}


def test_date_table_is_marked(model) -> None:
    date_table = model.tables["Date"]
    assert date_table.data_category == "Time"
    assert [(c.name, c.source_column) for c in date_table.columns.values() if c.is_key] == [("Date", "date")]


def test_keys_hidden_names_friendly_formats_set(model) -> None:
    for table in model.tables.values():
        for column in table.columns.values():
            assert column.source_column is not None and column.source_column.islower()
            assert (column.source_column.endswith("_key")) <= column.is_hidden, column
            assert "_" not in column.name, column
            if column.data_type in ("decimal", "double", "dateTime"):
                assert column.format_string, column
    money = {c.source_column: c.format_string for c in model.tables["Sales"].columns.values()}
    assert (money["net_amount"], money["unit_price"], money["discount"]) == (CURRENCY, CURRENCY, "0.00%")
    assert model.tables["Monthly Revenue"].columns["Month Return Rate"].format_string == "0.00%"


def test_required_measures_exist_with_descriptions_and_formats(model) -> None:
    measures = {name: m for name, (_, m) in model.measures().items()}
    assert set(measures) >= REQUIRED_MEASURES
    assert all(m.description and m.format_string for m in measures.values())
    assert measures["Revenue"].format_string == CURRENCY
    assert measures["Return Rate"].format_string == "0.00%"


def test_partitions_read_delta_through_the_storage_url_parameter(model) -> None:
    for table in model.tables.values():
        (partition,) = table.partitions
        assert partition.mode == "import"
        assert partition.active_m.count('DeltaLake.Table(AzureStorage.DataLake(StorageUrl & "/gold/') == 1
        assert "[HierarchicalNavigation = true]" in partition.active_m
        local_path = (table.gold_table or "").replace("/", "\\")
        assert f'Folder.Contents(LocalGoldFolder & "\\{local_path}")' in partition.source
    assert model.expressions["StorageUrl"].is_parameter
    assert model.expressions["LocalGoldFolder"].is_parameter


def test_switching_to_the_local_copy_and_back(project_copy: Path) -> None:
    semantic_model = project_copy / "Lakehouse.SemanticModel"
    before = {p.name: p.read_text() for p in (semantic_model / "definition" / "tables").glob("*.tmdl")}
    assert len(switch_gold_source(semantic_model, "local")) == len(before)
    local = load_model(semantic_model)
    assert all("Folder.Contents(LocalGoldFolder" in t.partitions[0].active_m for t in local.tables.values())
    assert all("AzureStorage" not in t.partitions[0].active_m for t in local.tables.values())
    assert check_model(local, gold_schema_constants()) == []
    switch_gold_source(semantic_model, "azure")
    assert {
        p.name: p.read_text() for p in (semantic_model / "definition" / "tables").glob("*.tmdl")
    } == before
    with pytest.raises(ValueError, match="'azure' or 'local'"):
        switch_gold_source(semantic_model, "cloud")


def test_a_measure_on_a_renamed_model_column_fails(project_copy: Path) -> None:
    sales = project_copy / "Lakehouse.SemanticModel" / "definition" / "tables" / "Sales.tmdl"
    sales.write_text(sales.read_text().replace("column 'Net Amount'", "column 'Net Amount EUR'"))
    problems = check_structure(load_model(project_copy / "Lakehouse.SemanticModel"))
    assert problems == ["measure [Revenue]: column Sales[Net Amount] not in the model"]


def test_indentation_with_spaces_is_reported(project_copy: Path) -> None:
    reviews = project_copy / "Lakehouse.SemanticModel" / "definition" / "tables" / "Reviews.tmdl"
    reviews.write_text(reviews.read_text().replace("\t\tdataType: int64", "\t\t  dataType: int64", 1))
    problems = check_structure(load_model(project_copy / "Lakehouse.SemanticModel"))
    assert len(problems) == 1 and problems[0].endswith("indentation must be tabs only")


# --- the PBIP files -----------------------------------------------------------------------------------------
def test_project_files_reference_each_other() -> None:
    assert check_project(PROJECT) == []
    pbir = json.loads((PROJECT.parent / "Lakehouse.Report" / "definition.pbir").read_text())
    assert pbir["datasetReference"] == {"byPath": {"path": "../Lakehouse.SemanticModel"}}


def test_a_broken_dataset_reference_is_reported(project_copy: Path) -> None:
    pbir = project_copy / "Lakehouse.Report" / "definition.pbir"
    content = json.loads(pbir.read_text())
    content["datasetReference"]["byPath"]["path"] = "../Sales.SemanticModel"
    pbir.write_text(json.dumps(content))
    assert check_project(project_copy / "Lakehouse.pbip") == [
        "Lakehouse.Report/definition.pbir: ../Sales.SemanticModel is not a .SemanticModel folder"
    ]


# --- against gold Delta tables written by the gold transforms -------------------------------------------
@pytest.mark.spark
def test_model_matches_real_gold_delta_tables(model, spark_gold: Path) -> None:
    assert check_model_against_delta(model, spark_gold) == []


@pytest.mark.spark
def test_real_gold_check_reports_duplicate_keys(model, spark_gold: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    gold = tmp_path / "gold"
    shutil.copytree(spark_gold, gold)
    dates = DeltaTable(str(gold / "dim_date")).to_pyarrow_table()
    write_deltalake(str(gold / "dim_date"), pa.concat_tables([dates, dates.slice(0, 1)]), mode="overwrite")
    assert check_model_against_delta(model, gold) == [
        "Date[Date] (gold/dim_date.date) must be unique and non-blank: 1 duplicate(s), 0 blank(s)",
        "Date[Date Key] (gold/dim_date.date_key) must be unique and non-blank: 1 duplicate(s), 0 blank(s)",
    ]


def test_a_column_sourced_from_a_removed_gold_column_is_reported(project_copy: Path) -> None:
    dq = project_copy / "Lakehouse.SemanticModel" / "definition" / "tables" / "Data Quality.tmdl"
    column = "\tcolumn 'Sample Keys'\n\t\tdataType: string\n\t\tsourceColumn: sample_keys\n\n"
    dq.write_text(dq.read_text().replace("\tcolumn Expectation\n", column + "\tcolumn Expectation\n"))
    assert check_model(load_model(project_copy / "Lakehouse.SemanticModel"), gold_schema_constants()) == [
        "gold/_ops/dq_results.sample_keys: type array<string> cannot be read by Power BI",
        "table 'Data Quality': removes sample_keys but a column is sourced from it",
    ]
