"""The TMDL parser and the DAX reference scanner on tiny literal inputs."""

from __future__ import annotations

from powerbi.tmdl import dax_references, normalize_type, parse_tmdl, split_column_ref, tmdl_data_type

TABLE = """/// One row per order line.
table Sales

\t/// Net amount of net orders.
\tmeasure Revenue =
\t\t\tCALCULATE(
\t\t\t\tSUM('Sales'[Net Amount])
\t\t\t)
\t\tformatString: 0.00

\tcolumn 'Net Amount'
\t\tdataType: decimal
\t\tisHidden
\t\tsourceColumn: net_amount

\tpartition Sales = m
\t\tmode: import
\t\tsource =
\t\t\t\tlet
\t\t\t\t\tSource = 1
\t\t\t\tin
\t\t\t\t\tSource
"""


def test_parse_table_with_measure_column_and_partition() -> None:
    parsed = parse_tmdl(TABLE)
    assert parsed.problems == []
    (table,) = parsed.nodes
    assert (table.keyword, table.name, table.description) == ("table", "Sales", "One row per order line.")
    measure, column, partition = table.children
    assert (measure.name, measure.description) == ("Revenue", "Net amount of net orders.")
    assert measure.expression == "CALCULATE(\n\tSUM('Sales'[Net Amount])\n)"
    assert measure.prop("formatString") == "0.00"
    assert (column.name, column.prop("dataType"), column.prop("isHidden"), column.prop("isKey")) == (
        "Net Amount",
        "decimal",
        "true",
        None,
    )
    assert (partition.name, partition.expression, partition.prop("mode")) == ("Sales", "m", "import")
    assert partition.prop("source") == "let\n\tSource = 1\nin\n\tSource"


def test_indentation_jump_and_spaces_are_problems() -> None:
    text = "table T\n\t\t\tcolumn C\n  \tdataType: string\n"
    assert parse_tmdl(text, "t.tmdl").problems == [
        "t.tmdl:2: indented 3 tab(s), at most 1 expected here",
        "t.tmdl:3: indentation must be tabs only",
    ]


def test_quoted_names_and_refs() -> None:
    (node,) = parse_tmdl("ref table 'It''s Sales'\n").nodes
    assert (node.keyword, node.value, node.name) == ("ref", "table", "It's Sales")
    assert split_column_ref("'App Events'.'Customer Key'") == ("App Events", "Customer Key")
    assert split_column_ref("Sales.Quantity") == ("Sales", "Quantity")


def test_dax_references() -> None:
    refs = dax_references(
        """VAR NetSales = FILTER('Sales', Sales[Is Returned] = FALSE()) // 'Ignored'[X]
        RETURN DIVIDE([Revenue], COUNTROWS(NetSales)) + CALCULATE([Orders], DATEADD('Date'[Date], -1, MONTH))
        + LEN("a 'b'[c]") + COUNTROWS(Salez) + COUNTROWS(Reviews)""",
        table_names=["Sales", "Date", "Reviews"],
    )
    assert refs.tables == {"Sales", "Date", "Reviews"}
    assert refs.columns == {("Sales", "Is Returned"), ("Date", "Date")}
    assert refs.measures == {"Revenue", "Orders"}
    assert refs.unknown == {"Salez"}


def test_type_mapping() -> None:
    assert [normalize_type(t) for t in ("integer", "long", "decimal(19, 4)", "timestamp")] == [
        "int",
        "bigint",
        "decimal(19,4)",
        "timestamp",
    ]
    cases = {
        "string": "string",
        "int": "int64",
        "bigint": "int64",
        "decimal(19,4)": "decimal",
        "decimal(9,6)": "double",
        "double": "double",
        "date": "dateTime",
        "timestamp": "dateTime",
        "boolean": "boolean",
        "timestamp_ntz": None,
        "binary": None,
    }
    assert {t: tmdl_data_type(t) for t in cases} == cases
