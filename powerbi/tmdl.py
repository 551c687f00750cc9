"""Read a Power BI semantic model written in TMDL, and hold it against the gold Delta schemas (drift guard).

TMDL is the text form of a tabular model: one object per line (``table Sales``, ``column 'Net Amount'``),
properties one tab deeper (``dataType: decimal``, ``isHidden``), ``///`` lines describe the object below them,
and an expression after ``=`` (DAX for measures, M for partitions) continues on lines two tabs deeper than
the line that opened it. This module parses the subset the project writes (tables, columns, measures, M
partitions, relationships, shared expressions, annotations, ``ref`` lines) into plain dataclasses, and
reports what it cannot accept (spaces in indentation, jumps of more than one level) instead of guessing.

No open-source validator catches a dangling column or a bad indent (see the project's reference notes), so the
checks below are the project's own: every model table maps to a gold Delta folder through its partition,
every column's ``sourceColumn`` exists there with a compatible type, relationships join columns of equal type,
measures reference only tables, columns and measures that exist, and the PBIP JSON files point at each other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deltalake import DeltaTable
    from pyspark.sql.types import StructType

# Keywords that open an object (everything else on a line of its own is a property or a flag).
_OBJECT_KINDS_TEXT = (
    "model database table column measure partition relationship expression annotation "
    "extendedProperty changedProperty hierarchy level calculationGroup calculationItem role "
    "tablePermission perspective perspectiveTable perspectiveColumn perspectiveMeasure "
    "perspectiveHierarchy cultureInfo linguisticMetadata queryGroup dataSource ref"
)
OBJECT_KINDS = frozenset(_OBJECT_KINDS_TEXT.split())
# A gold table is ``<name>`` or an operational table ``_ops/<name>`` (e.g. ``_ops/dq_results``).
GOLD_SOURCE = re.compile(r'StorageUrl\s*&\s*"/gold/((?:_ops/)?[A-Za-z0-9_]+)"')
LOCAL_SOURCE = re.compile(r'LocalGoldFolder\s*&\s*"[\\/]((?:_ops[\\/])?[A-Za-z0-9_]+)"')
OPS_FOLDER = "_ops"
# ``Table.RemoveColumns(Source, {"a", "b"})``: gold columns the model leaves out on purpose.
REMOVE_COLUMNS = re.compile(r"Table\.RemoveColumns\(\s*\w+\s*,\s*\{([^}]*)\}")


# --- generic tree -------------------------------------------------------------------------------------------
@dataclass
class Node:
    """One TMDL line with what hangs below it.

    ``keyword`` is the object kind (``column``) or the property name (``dataType``); ``name`` the object's
    name; ``value`` a ``key: value`` property's value; ``expression`` the text after ``=`` (joined lines).
    """

    keyword: str
    name: str = ""
    value: str | None = None
    expression: str | None = None
    description: str = ""
    children: list[Node] = field(default_factory=list)
    indent: int = 0
    line: int = 0

    def prop(self, key: str) -> str | None:
        """A property's value; ``"true"`` for a bare flag (``isHidden``); None when absent."""
        for child in self.children:
            if child.keyword == key and not child.name:
                if child.expression is not None:
                    return child.expression
                return child.value if child.value is not None else "true"
        return None

    def objects(self, kind: str) -> list[Node]:
        return [c for c in self.children if c.keyword == kind and kind in OBJECT_KINDS]


@dataclass
class ParsedFile:
    nodes: list[Node]
    problems: list[str]


def parse_tmdl(text: str, source: str = "<tmdl>") -> ParsedFile:
    """Parse one TMDL file into a tree of :class:`Node`; indentation problems are returned, not raised."""
    lines = text.splitlines()
    problems: list[str] = []
    roots: list[Node] = []
    stack: list[Node] = []
    description: list[str] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        number = i + 1
        i += 1
        if not raw.strip():
            continue
        lead = raw[: len(raw) - len(raw.lstrip(" \t"))]
        if " " in lead:
            problems.append(f"{source}:{number}: indentation must be tabs only")
        indent = lead.count("\t")
        content = raw.strip()
        while stack and stack[-1].indent >= indent:
            stack.pop()
        expected_max = stack[-1].indent + 1 if stack else 0
        if indent > expected_max:
            problems.append(
                f"{source}:{number}: indented {indent} tab(s), at most {expected_max} expected here"
            )
        if content.startswith("///"):
            description.append(content[3:].strip())
            continue
        if content.startswith("```"):
            problems.append(f"{source}:{number}: fenced (```) expressions are not supported by this parser")
            continue
        node = _parse_line(content, indent, number)
        if description:
            node.description = "\n".join(description)
            description = []
        if node.expression is not None:
            body, i = _read_expression(lines, i, indent + 2, source, problems)
            node.expression = "\n".join(part for part in (node.expression, body) if part).strip()
        if stack:
            stack[-1].children.append(node)
        else:
            roots.append(node)
        stack.append(node)
    if description:
        problems.append(f"{source}: a /// description at the end of the file describes nothing")
    return ParsedFile(roots, problems)


def _parse_line(content: str, indent: int, number: int) -> Node:
    expression_property = re.match(r"^([A-Za-z_]\w*)\s*=\s*(.*)$", content)
    if expression_property:
        return Node(
            expression_property.group(1),
            expression=expression_property.group(2),
            indent=indent,
            line=number,
        )
    value_property = re.match(r"^([A-Za-z_]\w*)\s*:\s*(.*)$", content)
    if value_property:
        return Node(
            value_property.group(1), value=_unquote(value_property.group(2)), indent=indent, line=number
        )
    keyword, _, rest = content.partition(" ")
    if keyword not in OBJECT_KINDS:
        return Node(content, indent=indent, line=number)  # a flag (isHidden) or a nested property block
    if keyword == "ref":
        kind, _, rest = rest.strip().partition(" ")
        name, _ = _read_name(rest.strip())
        return Node("ref", name=name, value=kind, indent=indent, line=number)
    name, rest = _read_name(rest.strip())
    node = Node(keyword, name=name, indent=indent, line=number)
    rest = rest.strip()
    if rest.startswith("="):
        node.expression = rest[1:].strip()
    elif rest:
        node.value = rest
    return node


def _read_name(text: str) -> tuple[str, str]:
    """A (possibly single-quoted) object name at the start of ``text``, and what follows it."""
    if text.startswith("'"):
        name, j = [], 1
        while j < len(text):
            if text[j] == "'":
                if text[j + 1 : j + 2] == "'":
                    name.append("'")
                    j += 2
                    continue
                return "".join(name), text[j + 1 :]
            name.append(text[j])
            j += 1
        return "".join(name), ""
    match = re.match(r"^(.*?)(\s*=.*)?$", text)
    assert match is not None
    return match.group(1).strip(), (match.group(2) or "")


def _name_value(value: str | None) -> str | None:
    """A property whose value is an object name (``sortByColumn: 'Day of Week'``), unquoted."""
    return None if value is None else _read_name(value.strip())[0]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('""', '"')
    return value


def _read_expression(
    lines: list[str], start: int, body_indent: int, source: str, problems: list[str]
) -> tuple[str, int]:
    """Lines from ``start`` indented at least ``body_indent`` tabs (blank lines inside kept), dedented."""
    body: list[str] = []
    i = start
    while i < len(lines):
        raw = lines[i]
        if not raw.strip():
            body.append("")
            i += 1
            continue
        lead = raw[: len(raw) - len(raw.lstrip(" \t"))]
        if not lead.startswith("\t" * body_indent):
            break
        if " " in lead:
            problems.append(f"{source}:{i + 1}: indentation must be tabs only")
        body.append(raw[body_indent:])
        i += 1
    while body and not body[-1].strip():
        body.pop()
        i -= 1
    # Leave trailing blank lines for the caller (they separate objects).
    return "\n".join(body), i


# --- typed model --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    name: str
    data_type: str | None
    source_column: str | None
    is_hidden: bool
    is_key: bool
    format_string: str | None
    summarize_by: str | None
    sort_by_column: str | None
    description: str
    expression: str | None  # a calculated column's DAX


@dataclass(frozen=True)
class Measure:
    name: str
    expression: str
    description: str
    format_string: str | None
    display_folder: str | None


@dataclass(frozen=True)
class Partition:
    name: str
    source_type: str  # "m", "calculated", ...
    mode: str | None
    source: str

    @property
    def active_m(self) -> str:
        """The M source without ``//`` comment lines (what Power Query evaluates)."""
        return "\n".join(line for line in self.source.splitlines() if not line.strip().startswith("//"))

    @property
    def gold_table(self) -> str | None:
        """The gold Delta folder this partition reads (Azure or local variant), if any."""
        for pattern in (GOLD_SOURCE, LOCAL_SOURCE):
            match = pattern.search(self.active_m)
            if match:
                return match.group(1).replace("\\", "/")
        return None

    @property
    def removed_columns(self) -> tuple[str, ...]:
        """Gold columns the M drops with ``Table.RemoveColumns`` (a nested column Power BI cannot load)."""
        names: list[str] = []
        for match in REMOVE_COLUMNS.finditer(self.active_m):
            names += re.findall(r'"([^"]+)"', match.group(1))
        return tuple(names)


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    data_category: str | None
    is_hidden: bool
    columns: dict[str, Column]
    measures: dict[str, Measure]
    partitions: list[Partition]
    file: str

    @property
    def gold_table(self) -> str | None:
        tables = {p.gold_table for p in self.partitions if p.gold_table}
        return tables.pop() if len(tables) == 1 else None

    @property
    def removed_columns(self) -> frozenset[str]:
        return frozenset(c for p in self.partitions for c in p.removed_columns)


@dataclass(frozen=True)
class Relationship:
    name: str
    from_table: str
    from_column: str
    to_table: str
    to_column: str
    from_cardinality: str
    to_cardinality: str
    cross_filtering_behavior: str
    is_active: bool


@dataclass(frozen=True)
class SharedExpression:
    name: str
    expression: str
    description: str

    @property
    def is_parameter(self) -> bool:
        return "IsParameterQuery=true" in self.expression.replace(" ", "")

    @property
    def value(self) -> str:
        """The expression without its ``meta [...]`` record."""
        return re.split(r"\smeta\s*\[", self.expression, maxsplit=1)[0].strip()


@dataclass
class SemanticModel:
    """A parsed ``<name>.SemanticModel/definition`` folder; ``problems`` lists what could not be accepted."""

    root: Path
    tables: dict[str, Table]
    relationships: list[Relationship]
    expressions: dict[str, SharedExpression]
    table_refs: list[str]
    model_properties: dict[str, str]
    database_properties: dict[str, str]
    problems: list[str]

    def measures(self) -> dict[str, tuple[Table, Measure]]:
        return {m.name: (t, m) for t in self.tables.values() for m in t.measures.values()}


def load_model(path: Path | str) -> SemanticModel:
    """Parse a semantic model: ``path`` is the ``.SemanticModel`` folder or its ``definition`` folder."""
    root = Path(path)
    definition = root / "definition" if (root / "definition").is_dir() else root
    if not (definition / "model.tmdl").exists():
        raise FileNotFoundError(f"no TMDL model at {definition} (model.tmdl missing)")
    problems: list[str] = []

    def parse(file: Path) -> list[Node]:
        parsed = parse_tmdl(file.read_text(encoding="utf-8-sig"), str(file.relative_to(definition)))
        problems.extend(parsed.problems)
        return parsed.nodes

    tables: dict[str, Table] = {}
    for file in sorted((definition / "tables").glob("*.tmdl")):
        for node in parse(file):
            if node.keyword != "table":
                problems.append(f"{file.name}:{node.line}: unexpected top-level {node.keyword!r}")
                continue
            if node.name in tables:
                problems.append(f"{file.name}: table {node.name!r} is defined twice")
            tables[node.name] = _table(node, file.name, problems)
    relationships: list[Relationship] = []
    if (definition / "relationships.tmdl").exists():
        for node in parse(definition / "relationships.tmdl"):
            relationships.append(_relationship(node, problems))
    expressions: dict[str, SharedExpression] = {}
    if (definition / "expressions.tmdl").exists():
        for node in parse(definition / "expressions.tmdl"):
            if node.keyword == "expression":
                expressions[node.name] = SharedExpression(node.name, node.expression or "", node.description)
    model_properties: dict[str, str] = {}
    table_refs: list[str] = []
    for node in parse(definition / "model.tmdl"):
        if node.keyword == "model":
            model_properties = {c.keyword: c.value or "true" for c in node.children if not c.name}
        elif node.keyword == "ref" and node.value == "table":
            table_refs.append(node.name)
    database_properties: dict[str, str] = {}
    if (definition / "database.tmdl").exists():
        for node in parse(definition / "database.tmdl"):
            database_properties = {c.keyword: c.value or "true" for c in node.children}
    return SemanticModel(
        definition,
        tables,
        relationships,
        expressions,
        table_refs,
        model_properties,
        database_properties,
        problems,
    )


def _table(node: Node, file: str, problems: list[str]) -> Table:
    columns: dict[str, Column] = {}
    measures: dict[str, Measure] = {}
    partitions: list[Partition] = []
    for child in node.children:
        if child.keyword == "column":
            if child.name in columns:
                problems.append(f"{file}:{child.line}: column {child.name!r} defined twice")
            columns[child.name] = Column(
                name=child.name,
                data_type=child.prop("dataType"),
                source_column=child.prop("sourceColumn"),
                is_hidden=child.prop("isHidden") == "true",
                is_key=child.prop("isKey") == "true",
                format_string=child.prop("formatString"),
                summarize_by=child.prop("summarizeBy"),
                sort_by_column=_name_value(child.prop("sortByColumn")),
                description=child.description,
                expression=child.expression,
            )
        elif child.keyword == "measure":
            if child.name in measures:
                problems.append(f"{file}:{child.line}: measure {child.name!r} defined twice")
            measures[child.name] = Measure(
                name=child.name,
                expression=child.expression or "",
                description=child.description,
                format_string=child.prop("formatString"),
                display_folder=child.prop("displayFolder"),
            )
        elif child.keyword == "partition":
            partitions.append(
                Partition(
                    name=child.name,
                    source_type=(child.expression or "").strip(),
                    mode=child.prop("mode"),
                    source=child.prop("source") or "",
                )
            )
    return Table(
        name=node.name,
        description=node.description,
        data_category=node.prop("dataCategory"),
        is_hidden=node.prop("isHidden") == "true",
        columns=columns,
        measures=measures,
        partitions=partitions,
        file=file,
    )


def _relationship(node: Node, problems: list[str]) -> Relationship:
    from_ref, to_ref = node.prop("fromColumn"), node.prop("toColumn")
    if node.keyword != "relationship" or not from_ref or not to_ref:
        problems.append(f"relationships.tmdl:{node.line}: a relationship needs fromColumn and toColumn")
        from_ref, to_ref = from_ref or ".", to_ref or "."
    from_table, from_column = split_column_ref(from_ref)
    to_table, to_column = split_column_ref(to_ref)
    return Relationship(
        name=node.name,
        from_table=from_table,
        from_column=from_column,
        to_table=to_table,
        to_column=to_column,
        from_cardinality=node.prop("fromCardinality") or "many",
        to_cardinality=node.prop("toCardinality") or "one",
        cross_filtering_behavior=node.prop("crossFilteringBehavior") or "oneDirection",
        is_active=(node.prop("isActive") or "true") == "true",
    )


def split_column_ref(ref: str) -> tuple[str, str]:
    """``Sales.'Customer Key'`` -> ("Sales", "Customer Key")."""
    table, rest = _read_name(ref.strip()) if ref.strip().startswith("'") else _split_unquoted(ref.strip())
    rest = rest.lstrip()
    if rest.startswith("."):
        rest = rest[1:]
    column, _ = _read_name(rest.strip())
    return table, column


def _split_unquoted(ref: str) -> tuple[str, str]:
    head, dot, tail = ref.partition(".")
    return head.strip(), dot + tail


# --- DAX references -----------------------------------------------------------------------------------------
_DAX_KEYWORDS_TEXT = (
    "VAR RETURN TRUE FALSE NOT IN AND OR ASC DESC DAY WEEK MONTH QUARTER YEAR HOUR MINUTE SECOND "
    "BLANK INTEGER DOUBLE STRING BOOLEAN CURRENCY DATETIME BOTH ONEWAY NONE DEFINE EVALUATE ORDER BY"
)
DAX_KEYWORDS = frozenset(_DAX_KEYWORDS_TEXT.split())


@dataclass(frozen=True)
class DaxReferences:
    """What a DAX expression names: tables, ``Table[Column]`` pairs, ``[Measure]`` names, unknown words."""

    tables: frozenset[str]
    columns: frozenset[tuple[str, str]]
    measures: frozenset[str]
    unknown: frozenset[str]


def dax_references(expression: str, table_names: Iterable[str] = ()) -> DaxReferences:
    """Tables, columns and measures a DAX expression references (strings and comments skipped).

    Quoted names (``'Sales'``) are tables; a name directly followed by ``[...]`` is a table whose column that
    is; a bracket without a table (``[Revenue]``) is a measure. A bare word that is not a function call, a
    ``VAR`` name, a keyword or a table of ``table_names`` is reported in ``unknown`` (usually a table name
    written without quotes and misspelt).
    """
    known_tables = set(table_names)
    tables: set[str] = set()
    columns: set[tuple[str, str]] = set()
    measures: set[str] = set()
    unknown: set[str] = set()
    variables: set[str] = set()
    text = expression
    i, n = 0, len(text)
    last_table: str | None = None
    previous_word = ""
    while i < n:
        char = text[i]
        if text.startswith(("//", "--"), i):
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if char == '"':
            i = _skip_quoted(text, i, '"')
            last_table = None
            continue
        if char == "'":
            end = _skip_quoted(text, i, "'")
            last_table = text[i + 1 : end - 1].replace("''", "'")
            tables.add(last_table)
            i = end
            continue
        if char == "[":
            end = _skip_bracket(text, i)
            name = text[i + 1 : end - 1].replace("]]", "]")
            if last_table is not None and i > 0 and text[i - 1] in "']" + _WORD_CHARS:
                columns.add((last_table, name))
            else:
                measures.add(name)
            last_table = None
            i = end
            continue
        if char.isalpha() or char == "_":
            j = i
            while j < n and (text[j] in _WORD_CHARS or text[j] == "."):
                j += 1
            word = text[i:j]
            k = j
            while k < n and text[k] in " \t\r\n":
                k += 1
            if j < n and text[j] == "[":
                tables.add(word)
                last_table = word
            elif k < n and text[k] == "(":
                last_table = None
            else:
                last_table = None
                if previous_word.upper() == "VAR":
                    variables.add(word)
                elif word in known_tables:
                    tables.add(word)
                elif word not in variables and word.upper() not in DAX_KEYWORDS:
                    unknown.add(word)
            previous_word = word
            i = j
            continue
        if char not in " \t\r\n":
            last_table = None if char not in "]" else last_table
        i += 1
    return DaxReferences(frozenset(tables), frozenset(columns), frozenset(measures), frozenset(unknown))


_WORD_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


def _skip_quoted(text: str, start: int, quote: str) -> int:
    """Index after the closing ``quote`` of the literal opened at ``start`` (doubled quotes escape)."""
    i = start + 1
    while i < len(text):
        if text[i] == quote:
            if text[i + 1 : i + 2] == quote:
                i += 2
                continue
            return i + 1
        i += 1
    return len(text)


def _skip_bracket(text: str, start: int) -> int:
    i = start + 1
    while i < len(text):
        if text[i] == "]":
            if text[i + 1 : i + 2] == "]":
                i += 2
                continue
            return i + 1
        i += 1
    return len(text)


# --- Delta / Spark types -> TMDL dataType ---------------------------------------------------------------
_TYPE_ALIASES = {
    "integer": "int",
    "long": "bigint",
    "short": "smallint",
    "byte": "tinyint",
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
# Power BI's fixed decimal number keeps 4 places; a decimal with more places is modelled as a double.
FIXED_DECIMAL_MAX_SCALE = 4


def normalize_type(type_name: str) -> str:
    """A Delta or Spark type name in Spark's spelling (``integer`` -> ``int``, ``long`` -> ``bigint``)."""
    name = type_name.strip().lower().replace(" ", "")
    return _TYPE_ALIASES.get(name, name)


def tmdl_data_type(type_name: str) -> str | None:
    """The TMDL ``dataType`` for a gold column of this Delta/Spark type; None if Power BI cannot read it.

    string -> string; int/bigint (and smaller) -> int64; decimal with up to 4 places -> decimal (fixed
    decimal), more places -> double; float/double -> double; date/timestamp -> dateTime; boolean -> boolean.
    ``timestamp_ntz``, binary and nested types have no place in gold.
    """
    name = normalize_type(type_name)
    if name == "string":
        return "string"
    if name in ("int", "bigint", "smallint", "tinyint"):
        return "int64"
    decimal = _DECIMAL.match(name)
    if decimal:
        return "decimal" if int(decimal.group(2)) <= FIXED_DECIMAL_MAX_SCALE else "double"
    if name in ("double", "float"):
        return "double"
    if name in ("date", "timestamp"):
        return "dateTime"
    if name == "boolean":
        return "boolean"
    return None


GoldSchemas = Mapping[str, Mapping[str, str]]


def schemas_from_spark(schemas: Mapping[str, StructType]) -> dict[str, dict[str, str]]:
    """``{table: {column: type}}`` from Spark StructTypes (e.g. ``transforms.gold_schemas.GOLD_SCHEMAS``)."""
    return {
        table: {f.name: normalize_type(f.dataType.simpleString()) for f in schema.fields}
        for table, schema in schemas.items()
    }


def gold_schema_constants() -> dict[str, dict[str, str]]:
    """``{table: {column: type}}`` of everything the model may read, from the schema constants: the gold
    tables (``transforms.gold_schemas``) and gold's operational ``_ops/dq_results`` (the check results)."""
    from transforms.gold_schemas import GOLD_SCHEMAS
    from transforms.silver_schemas import DQ_RESULTS_SCHEMA

    return schemas_from_spark({**GOLD_SCHEMAS, f"{OPS_FOLDER}/dq_results": DQ_RESULTS_SCHEMA})


def delta_column_types(table: DeltaTable) -> dict[str, str]:
    """``{column: type}`` of a delta-rs table in Spark's spelling (nested: ``struct``, ``array``, ``map``)."""
    types: dict[str, str] = {}
    for f in table.schema().fields:
        primitive = getattr(f.type, "type", None)
        if isinstance(primitive, str):
            types[f.name] = normalize_type(primitive)
        else:
            types[f.name] = type(f.type).__name__.replace("Type", "").lower()
    return types


# --- checks ---------------------------------------------------------------------------------------------
def check_model(
    model: SemanticModel | Path | str,
    gold_schemas: GoldSchemas,
    *,
    tables_without_gold: Iterable[str] = (),
) -> list[str]:
    """Everything wrong between the model and ``gold_schemas`` (``{table: {column: type}}``), as sentences.

    Checks: each model table reads exactly one gold table that exists (except ``tables_without_gold``,
    e.g. a measure-only table), each gold table is in the model, each column's ``sourceColumn`` exists with
    the matching TMDL ``dataType``, each gold column is modelled, relationships join columns of one type,
    plus every gold-independent check of :func:`check_structure`. An empty list means no drift.
    """
    model = model if isinstance(model, SemanticModel) else load_model(model)
    exempt = set(tables_without_gold)
    problems = check_structure(model)
    modelled: dict[str, str] = {}
    for table in model.tables.values():
        gold = table.gold_table
        if gold is None:
            if table.name not in exempt:
                problems.append(f"table {table.name!r}: no partition reads a single gold table")
            continue
        if gold in modelled:
            problems.append(f"gold/{gold} is read by both {modelled[gold]!r} and {table.name!r}")
        modelled[gold] = table.name
        if gold not in gold_schemas:
            problems.append(f"table {table.name!r} reads gold/{gold}, which does not exist")
            continue
        gold_columns = gold_schemas[gold]
        sourced: set[str] = set()
        for column in table.columns.values():
            where = f"{table.name}[{column.name}]"
            if column.source_column is None:
                if column.expression is None:
                    problems.append(f"{where}: neither a sourceColumn nor an expression")
                continue
            sourced.add(column.source_column)
            if column.source_column not in gold_columns:
                problems.append(
                    f"{where}: sourceColumn {column.source_column} is not a column of gold/{gold}"
                )
                continue
            gold_type = gold_columns[column.source_column]
            expected = tmdl_data_type(gold_type)
            if expected is None:
                problems.append(
                    f"gold/{gold}.{column.source_column}: type {gold_type} cannot be read by Power BI"
                )
            elif column.data_type != expected:
                problems.append(
                    f"{where}: dataType {column.data_type} but gold/{gold}.{column.source_column} is "
                    f"{gold_type} (expects {expected})"
                )
        for name in sorted(table.removed_columns):
            if name not in gold_columns:
                problems.append(f"table {table.name!r}: removes {name}, which is not a column of gold/{gold}")
            elif name in sourced:
                problems.append(f"table {table.name!r}: removes {name} but a column is sourced from it")
        for name in gold_columns:
            if name not in sourced and name not in table.removed_columns:
                problems.append(f"gold/{gold}.{name} is not in the model (table {table.name!r})")
    for gold in gold_schemas:
        if gold not in modelled:
            problems.append(f"gold/{gold} is not read by any model table")
    return problems


def check_structure(model: SemanticModel) -> list[str]:
    """Gold-independent checks: parse and indent problems, refs, relationships (star: many-to-one, single
    direction, equal types), the date table, measure descriptions and references, name clashes, parameters."""
    problems = list(model.problems)
    tables = model.tables
    if sorted(model.table_refs) != sorted(tables):
        problems.append(
            f"model.tmdl ref table lines {sorted(model.table_refs)} differ from tables/ {sorted(tables)}"
        )
    for rel in model.relationships:
        ends = ((rel.from_table, rel.from_column), (rel.to_table, rel.to_column))
        missing = [f"{t}[{c}]" for t, c in ends if t not in tables or c not in tables[t].columns]
        if missing:
            problems.append(f"relationship {rel.name}: {', '.join(missing)} not in the model")
            continue
        if (rel.from_cardinality, rel.to_cardinality) != ("many", "one"):
            problems.append(f"relationship {rel.name}: must be many-to-one")
        if rel.cross_filtering_behavior != "oneDirection":
            problems.append(f"relationship {rel.name}: must filter in one direction")
        from_type = tables[rel.from_table].columns[rel.from_column].data_type
        to_type = tables[rel.to_table].columns[rel.to_column].data_type
        if from_type != to_type:
            problems.append(f"relationship {rel.name}: joins {from_type} to {to_type}")
    for table in tables.values():
        if table.data_category == "Time":
            keys = [c for c in table.columns.values() if c.is_key]
            if len(keys) != 1 or keys[0].data_type != "dateTime":
                problems.append(f"date table {table.name!r}: needs exactly one isKey dateTime column")
        for column in table.columns.values():
            if column.sort_by_column and column.sort_by_column not in table.columns:
                problems.append(f"{table.name}[{column.name}]: sortByColumn {column.sort_by_column} missing")
        for partition in table.partitions:
            if partition.source_type == "m" and "DeltaLake.Table(" not in partition.active_m:
                problems.append(f"table {table.name!r}: partition must read Delta with DeltaLake.Table")
    column_names = {c for t in tables.values() for c in t.columns}
    measures = model.measures()
    seen: set[str] = set()
    for table in tables.values():
        for measure in table.measures.values():
            where = f"measure [{measure.name}]"
            if measure.name in seen:
                problems.append(f"{where}: defined in more than one table")
            seen.add(measure.name)
            if measure.name in column_names:
                problems.append(f"{where}: has the name of a column")
            if not measure.description.strip():
                problems.append(f"{where}: has no /// description")
            refs = dax_references(measure.expression, tables)
            problems += [f"{where}: table {t!r} not in the model" for t in sorted(refs.tables - set(tables))]
            problems += [
                f"{where}: column {t}[{c}] not in the model"
                for t, c in sorted(refs.columns)
                if t in tables and c not in tables[t].columns
            ]
            problems += [
                f"{where}: measure [{m}] not in the model" for m in sorted(refs.measures - set(measures))
            ]
            problems += [f"{where}: unknown name {w!r}" for w in sorted(refs.unknown)]
    for table in tables.values():
        for partition in table.partitions:
            for name in re.findall(r"\b(StorageUrl|LocalGoldFolder)\b", partition.source):
                if name not in model.expressions or not model.expressions[name].is_parameter:
                    problems.append(f"table {table.name!r}: parameter {name} is not defined in expressions")
    return problems


# --- against real Delta tables ------------------------------------------------------------------------------
GoldSource = Path | str | Mapping[str, "DeltaTable"] | Callable[[str], "DeltaTable"]


def open_gold_tables(gold: GoldSource, names: Iterable[str] = ()) -> dict[str, DeltaTable]:
    """delta-rs tables of a gold folder (every ``<dir>/<table>`` and ``<dir>/_ops/<table>`` with a
    ``_delta_log``, other ``_*`` folders skipped; the latter named ``_ops/<table>``), of a mapping, or of
    ``names`` through a callable (e.g. one that passes storage options for ``abfss://``)."""
    from deltalake import DeltaTable

    if isinstance(gold, Mapping):
        return dict(gold)
    if callable(gold):
        return {name: gold(name) for name in names}
    root = Path(gold)
    ops = root / OPS_FOLDER
    folders = [(c.name, c) for c in sorted(root.iterdir()) if not c.name.startswith(("_", "."))]
    if ops.is_dir():
        folders += [(f"{OPS_FOLDER}/{child.name}", child) for child in sorted(ops.iterdir())]
    return {name: DeltaTable(str(folder)) for name, folder in folders if (folder / "_delta_log").is_dir()}


def check_model_against_delta(
    model: SemanticModel | Path | str,
    gold: GoldSource,
    *,
    tables_without_gold: Iterable[str] = (),
    check_keys: bool = True,
) -> list[str]:
    """:func:`check_model` against the ACTUAL schemas of gold Delta tables, read with delta-rs, plus what
    Power BI's DeltaLake.Table needs from them: protocol reader 1 / writer 2 without table features, and
    (``check_keys``) unique, non-blank values in the "one" column of each relationship and in the date
    table's key. ``gold`` is a local folder of Delta tables, ``{name: DeltaTable}`` or ``name -> DeltaTable``.
    """
    model = model if isinstance(model, SemanticModel) else load_model(model)
    wanted = [t.gold_table for t in model.tables.values() if t.gold_table]
    tables = open_gold_tables(gold, wanted)
    problems: list[str] = []
    for name, table in tables.items():
        protocol = table.protocol()
        features = (protocol.reader_features or []) + (protocol.writer_features or [])
        if protocol.min_reader_version != 1 or protocol.min_writer_version > 2 or features:
            problems.append(
                f"gold/{name}: protocol reader {protocol.min_reader_version} / writer "
                f"{protocol.min_writer_version} {sorted(features)}; Power BI needs reader 1 / writer 2"
            )
    schemas = {name: delta_column_types(table) for name, table in tables.items()}
    problems += check_model(model, schemas, tables_without_gold=tables_without_gold)
    if check_keys:
        problems += _check_keys(model, tables)
    return problems


def _check_keys(model: SemanticModel, tables: Mapping[str, DeltaTable]) -> list[str]:
    problems: list[str] = []
    one_sides = {(r.to_table, r.to_column) for r in model.relationships}
    one_sides |= {(t.name, c.name) for t in model.tables.values() for c in t.columns.values() if c.is_key}
    for table_name, column_name in sorted(one_sides):
        table = model.tables.get(table_name)
        column = table.columns.get(column_name) if table else None
        if table is None or column is None or column.source_column is None:
            continue
        gold = table.gold_table
        if gold is None or gold not in tables or column.source_column not in delta_column_types(tables[gold]):
            continue
        values = tables[gold].to_pyarrow_table(columns=[column.source_column]).column(0).to_pylist()
        blanks = sum(v is None for v in values)
        duplicates = len(values) - blanks - len(set(values) - {None})
        if blanks or duplicates:
            problems.append(
                f"{table_name}[{column_name}] (gold/{gold}.{column.source_column}) must be unique and "
                f"non-blank: {duplicates} duplicate(s), {blanks} blank(s)"
            )
    return problems


# --- the PBIP project files ---------------------------------------------------------------------------------
def check_project(pbip: Path | str) -> list[str]:
    """The JSON skeleton of a Power BI project: the ``.pbip`` lists a report, whose ``definition.pbir``
    references a semantic model folder by a relative path that exists and holds ``definition.pbism`` and
    a TMDL ``definition/`` folder; the report has a PBIR ``definition/`` (version, report, pages), whose
    visuals bind only fields of that model and sit on their pages without overlapping
    (:mod:`powerbi.report`)."""
    pbip = Path(pbip)
    problems: list[str] = []
    project = _json(pbip, problems)
    if project is None:
        return problems
    artifacts = project.get("artifacts") or []
    reports = [a["report"]["path"] for a in artifacts if isinstance(a, dict) and "report" in a]
    if not reports:
        problems.append(f"{pbip.name}: artifacts list no report")
    for report_path in reports:
        report = (pbip.parent / report_path).resolve()
        pbir = _json(report / "definition.pbir", problems)
        if pbir is None:
            continue
        for key in ("$schema", "version"):
            if key not in pbir:
                problems.append(f"{report.name}/definition.pbir: no {key}")
        by_path = (pbir.get("datasetReference") or {}).get("byPath") or {}
        if "path" not in by_path:
            problems.append(f"{report.name}/definition.pbir: datasetReference.byPath.path missing")
            continue
        if "\\" in by_path["path"]:
            problems.append(f"{report.name}/definition.pbir: byPath must use '/' separators")
        model_dir = (report / by_path["path"]).resolve()
        if not model_dir.name.endswith(".SemanticModel") or not model_dir.is_dir():
            problems.append(
                f"{report.name}/definition.pbir: {by_path['path']} is not a .SemanticModel folder"
            )
            continue
        pbism = _json(model_dir / "definition.pbism", problems)
        if pbism is not None and "version" not in pbism:
            problems.append(f"{model_dir.name}/definition.pbism: no version")
        if not (model_dir / "definition" / "model.tmdl").exists():
            problems.append(f"{model_dir.name}: no definition/model.tmdl (TMDL)")
        definition = report / "definition"
        for part in ("version.json", "report.json", "pages/pages.json"):
            _json(definition / part, problems)
        pages = _json(definition / "pages" / "pages.json", [])
        for page in (pages or {}).get("pageOrder", []):
            page_json = _json(definition / "pages" / page / "page.json", problems)
            if page_json is not None and page_json.get("name") != page:
                problems.append(f"page {page}: page.json name is {page_json.get('name')!r}")
        if not problems:
            from powerbi.report import check_bindings, check_layout  # report.py builds on this module

            problems += check_bindings(definition, model_dir) + check_layout(definition)
        for item, kind in ((report, "Report"), (model_dir, "SemanticModel")):
            platform = _json(item / ".platform", problems)
            if platform is not None and (platform.get("metadata") or {}).get("type") != kind:
                problems.append(f"{item.name}/.platform: metadata.type is not {kind}")
    return problems


def _json(path: Path, problems: list[str]) -> dict[str, Any] | None:
    if not path.exists():
        problems.append(f"{path}: missing")
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        problems.append(f"{path}: invalid JSON ({exc})")
        return None
    if not isinstance(value, dict):
        problems.append(f"{path}: not a JSON object")
        return None
    return value


# --- switching the partitions between Azure and a local gold copy ------------------------------------------
_AZURE_LINE = re.compile(r"^(\t*)(// )?(Source = DeltaLake\.Table\(AzureStorage\.DataLake\(.*)$")
_LOCAL_LINE = re.compile(r"^(\t*)(// )?(Source = DeltaLake\.Table\(Folder\.Contents\(.*)$")


def switch_gold_source(definition_dir: Path | str, source: str) -> list[Path]:
    """Make every table read gold from ``"azure"`` (StorageUrl) or ``"local"`` (LocalGoldFolder).

    Each partition carries both ``Source = ...`` lines, one commented out; this comments one and uncomments
    the other. Returns the files changed.
    """
    if source not in ("azure", "local"):
        raise ValueError(f"source must be 'azure' or 'local', not {source!r}")
    active, inactive = (_AZURE_LINE, _LOCAL_LINE) if source == "azure" else (_LOCAL_LINE, _AZURE_LINE)
    changed: list[Path] = []
    root = Path(definition_dir)
    root = root / "definition" if (root / "definition").is_dir() else root
    for file in sorted((root / "tables").glob("*.tmdl")):
        text = file.read_text(encoding="utf-8")
        lines = []
        for line in text.split("\n"):
            on, off = active.match(line), inactive.match(line)
            if on:
                line = f"{on.group(1)}{on.group(3)}"
            elif off:
                line = f"{off.group(1)}// {off.group(3)}"
            lines.append(line)
        new_text = "\n".join(lines)
        if new_text != text:
            file.write_text(new_text, encoding="utf-8")
            changed.append(file)
    return changed
