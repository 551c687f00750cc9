"""The PBIR report: every visual bound to fields the TMDL model has, and laid out on its 1280x720 page."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from powerbi.report import FieldRef, check_bindings, check_layout, field_refs, load_report
from powerbi.tmdl import check_project, load_model
from tests.powerbi.conftest import PROJECT, SEMANTIC_MODEL

DEFINITION = PROJECT.parent / "Lakehouse.Report" / "definition"
PAGES = {
    "kpis": "KPIs",
    "revenue-by-month": "Revenue by month",
    "daily-region": "Daily region sales",
    "rfm": "RFM segments",
    "product-ratings": "Product ratings",
    "funnel": "App funnel",
    "data-quality": "Data quality",
}


@pytest.fixture(scope="module")
def model():
    return load_model(SEMANTIC_MODEL)


@pytest.fixture(scope="module")
def pages():
    return load_report(DEFINITION)


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    shutil.copytree(PROJECT.parent, tmp_path / "powerbi")
    return tmp_path / "powerbi"


def measure(entity: str, name: str) -> dict:
    return {"Measure": {"Expression": {"SourceRef": {"Entity": entity}}, "Property": name}}


def column(entity: str, name: str) -> dict:
    return {"Column": {"Expression": {"SourceRef": {"Entity": entity}}, "Property": name}}


def edit_visual(root: Path, page: str, visual: str, edit) -> Path:
    file = root / "Lakehouse.Report" / "definition" / "pages" / page / "visuals" / visual / "visual.json"
    content = json.loads(file.read_text())
    edit(content)
    file.write_text(json.dumps(content))
    return file


# --- the committed report -----------------------------------------------------------------------------------
def test_the_pages_in_order(pages) -> None:
    assert {p.name: p.display_name for p in pages} == PAGES
    assert list(PAGES) == [p.name for p in pages]
    assert {(p.width, p.height) for p in pages} == {(1280, 720)}
    order = json.loads((DEFINITION / "pages" / "pages.json").read_text())
    assert (order["pageOrder"], order["activePageName"]) == (list(PAGES), "kpis")


def test_every_visual_binds_fields_that_exist_in_the_model(model) -> None:
    assert check_bindings(DEFINITION, model) == []


def test_the_layout_keeps_visuals_on_the_page_and_apart() -> None:
    assert check_layout(DEFINITION) == []


def test_the_project_check_covers_the_report() -> None:
    assert check_project(PROJECT) == []


def test_the_kpi_cards_show_the_five_headline_measures(pages) -> None:
    kpis = next(p for p in pages if p.name == "kpis")
    cards = [v for v in kpis.visuals if v.visual_type == "card"]
    shown = sorted((v.x, v.fields[0].entity, v.fields[0].property) for v in cards)
    assert [(entity, name) for _, entity, name in shown] == [
        ("Sales", "Revenue"),
        ("Sales", "Orders"),
        ("Sales", "Active Customers"),
        ("Sales", "Average Order Value"),
        ("Sales", "Return Rate"),
    ]
    assert {(v.y, v.width, v.height, len(v.fields)) for v in cards} == {(20, 232, 120, 1)}


def test_each_page_reads_the_tables_it_is_about(pages) -> None:
    tables = {p.name: {f.entity for v in p.visuals for f in v.fields} for p in pages}
    assert tables == {
        "kpis": {"Sales", "Date", "Customer"},
        "revenue-by-month": {"Monthly Revenue", "Date", "Sales"},
        "daily-region": {"Daily Region Sales"},
        "rfm": {"Customer RFM"},
        "product-ratings": {"Reviews", "Product", "Product Rating"},
        "funnel": {"App Events", "Daily Funnel"},
        "data-quality": {"Data Quality"},
    }
    types = {p.name: sorted({v.visual_type for v in p.visuals}) for p in pages}
    assert "funnel" in types["funnel"]
    assert "pivotTable" in types["rfm"] and "pivotTable" in types["data-quality"]


def test_every_model_measure_a_page_promises_is_on_it(pages) -> None:
    fields = [f for p in pages for v in p.visuals for f in v.fields]
    measures = {(f.entity, f.property) for f in fields if f.kind == "Measure"}
    dq_names = ("DQ Checks", "DQ Failing Checks", "DQ Failures", "DQ Pass Rate", "DQ Runs")
    dq = {("Data Quality", m) for m in dq_names}
    funnel = {("App Events", m) for m in ("Sessions", "Purchase Sessions", "Conversion Rate")}
    rfm = {("Customer RFM", "RFM Customers"), ("Customer RFM", "RFM Segment Share")}
    assert measures >= dq | funnel | rfm | {("Sales", "Revenue MoM %"), ("Reviews", "Average Rating")}


# --- the checks, on broken copies ---------------------------------------------------------------------------
def test_a_visual_bound_to_a_missing_measure_is_reported_with_file_and_field(project_copy: Path) -> None:
    def rename(content: dict) -> None:
        projection = content["visual"]["query"]["queryState"]["Values"]["projections"][0]
        projection["field"] = measure("Sales", "Revenue EUR")

    edit_visual(project_copy, "kpis", "revenueCard", rename)
    problem = (
        "pages/kpis/visuals/revenueCard/visual.json: Measure Sales[Revenue EUR] is not a measure of 'Sales'"
    )
    assert check_bindings(project_copy / "Lakehouse.Report", SEMANTIC_MODEL) == [problem]
    assert check_project(project_copy / "Lakehouse.pbip") == [problem]


def test_a_renamed_model_column_breaks_the_visuals_that_show_it(project_copy: Path) -> None:
    rfm = project_copy / "Lakehouse.SemanticModel" / "definition" / "tables" / "Customer RFM.tmdl"
    rfm.write_text(rfm.read_text().replace("column 'RFM Segment'\n", "column 'Segment Name'\n"))
    rfm.write_text(rfm.read_text().replace("'Customer RFM'[RFM Segment]", "'Customer RFM'[Segment Name]"))
    problems = check_bindings(project_copy / "Lakehouse.Report", project_copy / "Lakehouse.SemanticModel")
    field = "Column Customer RFM[RFM Segment] is not a column of 'Customer RFM'"
    assert problems == [
        f"pages/rfm/visuals/{name}/visual.json: {field}" for name in ("rfmSegmentBars", "rfmSegmentTable")
    ]


def test_wrong_table_kind_or_alias_and_empty_visuals_are_reported(project_copy: Path, model) -> None:
    def bad_fields(content: dict) -> None:
        values = content["visual"]["query"]["queryState"]["Values"]["projections"]
        values[0]["field"] = measure("Orders", "Orders")  # no such table
        values.append({"field": column("Sales", "Revenue"), "queryRef": "r"})  # a measure used as a column
        values.append({"field": measure("Sales", "Net Amount"), "queryRef": "n"})  # a column as a measure
        values.append({"field": {"Column": {"Expression": {"SourceRef": {"Source": "s"}}, "Property": "X"}}})

    edit_visual(project_copy, "kpis", "ordersCard", bad_fields)
    edit_visual(project_copy, "kpis", "returnRateCard", lambda c: c["visual"].pop("query"))
    where = "pages/kpis/visuals/ordersCard/visual.json"
    assert check_bindings(project_copy / "Lakehouse.Report", model) == [
        f"{where}: visual.query.queryState.Values.projections[3].field.Column ('X': no Entity) "
        "does not name its table",
        f"{where}: Measure Orders[Orders]: table 'Orders' not in the model",
        f"{where}: Column Sales[Revenue] is not a column of 'Sales'",
        f"{where}: Measure Sales[Net Amount] is not a measure of 'Sales'",
        "pages/kpis/visuals/returnRateCard/visual.json: binds no field of the model",
    ]


def test_field_refs_read_aggregations_sorts_and_filter_aliases() -> None:
    summed = {"Aggregation": {"Expression": column("Daily Funnel", "Device"), "Function": 0}}
    by_alias = {"Column": {"Expression": {"SourceRef": {"Source": "d"}}, "Property": "Year"}}
    visual = {
        "query": {
            "queryState": {"Y": {"projections": [{"field": summed}]}},
            "sortDefinition": {"sort": [{"field": measure("Sales", "Revenue"), "direction": "Descending"}]},
        },
        "filter": {
            "From": [{"Name": "d", "Entity": "Date", "Type": 0}],
            "Where": [{"Condition": {"Comparison": {"Left": by_alias}}}],
        },
    }
    refs, unresolved = field_refs(visual)
    assert [(r.kind, r.entity, r.property) for r in refs] == [
        ("Column", "Daily Funnel", "Device"),
        ("Measure", "Sales", "Revenue"),
        ("Column", "Date", "Year"),
    ]
    assert refs[1] == FieldRef("Measure", "Sales", "Revenue", "query.sortDefinition.sort[0].field.Measure")
    assert unresolved == []


def test_overlapping_off_page_and_misnamed_visuals_are_reported(project_copy: Path) -> None:
    def move_onto_revenue(content: dict) -> None:  # now (200..432, 100..220): over three neighbours
        content["position"].update(x=200, y=100)

    def off_page(content: dict) -> None:
        content["position"].update(x=1100, width=232)

    edit_visual(project_copy, "kpis", "ordersCard", move_onto_revenue)
    edit_visual(project_copy, "kpis", "returnRateCard", off_page)
    edit_visual(project_copy, "rfm", "rfmSegmentBars", lambda c: c.update(name="bars"))
    assert check_layout(project_copy / "Lakehouse.Report") == [
        "pages/kpis/visuals/returnRateCard/visual.json: box (1100, 20, 232x120) leaves the 1280x720 page",
        "page 'kpis': 'dateSlicer' and 'ordersCard' overlap",
        "page 'kpis': 'ordersCard' and 'revenueByRegion' overlap",
        "page 'kpis': 'ordersCard' and 'revenueCard' overlap",
        "pages/rfm/visuals/rfmSegmentBars/visual.json: name 'bars' differs from its folder 'rfmSegmentBars'",
    ]


def test_a_visual_filter_on_a_renamed_column_is_reported_through_its_alias(project_copy: Path) -> None:
    """The funnel keeps funnel steps only: a filter whose Where names the table by the alias ``a``."""
    events = project_copy / "Lakehouse.SemanticModel" / "definition" / "tables" / "App Events.tmdl"
    events.write_text(events.read_text().replace("column 'Funnel Step'\n", "column Step\n"))
    problems = check_bindings(project_copy / "Lakehouse.Report", project_copy / "Lakehouse.SemanticModel")
    problem = "Column App Events[Funnel Step] is not a column of 'App Events'"
    assert problems == [f"pages/funnel/visuals/sessionFunnel/visual.json: {problem}"] * 2
