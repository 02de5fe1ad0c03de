"""docs/data-dictionary.md, generated from the table schemas declared in code.

Column names and types come from the schemas (the registry in `catalog()`), meanings from
`descriptions.toml`, the surrounding prose from `dictionary_template.md`. Generation fails
when a column has no description or a description names a column that no longer exists, so
the page cannot drift from the code.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from types import ModuleType
from typing import Any

from pyspark.sql.types import DataType, StructField, StructType

from condolake.errors import CondoLakeError
from condolake.lake import layout
from condolake.lake.layout import LINEAGE_FIELDS, Layer
from condolake.monitoring import progress, quality, runlog
from condolake.pipelines import stream_silver
from condolake.source import tables as source
from condolake.streaming import queries
from condolake.transforms.gold import diarias_por_tipo, por_condominio, por_morador

HERE = Path(__file__).resolve().parent
DESCRIPTIONS = HERE / "descriptions.toml"
TEMPLATE = HERE / "dictionary_template.md"
DESCRIPTIONS_NAME = "src/condolake/docs_gen/descriptions.toml"
TABLE_NOTES = ("summary", "before", "after")
_PLACEHOLDER = re.compile(r"\{\{ ([a-z-]+)(?: ([a-z]+))? \}\}")


class DictionaryError(CondoLakeError):
    """The descriptions do not match the schemas, or the template is malformed."""


class OutOfDateError(CondoLakeError):
    """The committed page is not what the generator writes from the current code."""


@dataclass(frozen=True)
class Table:
    """A table with its own column meanings: `<layer>/<name>`, its schema, where it is declared."""

    layer: Layer
    name: str
    schema: StructType
    module: ModuleType

    @property
    def path(self) -> str:
        return f"{self.layer.value}/{self.name}"


@dataclass(frozen=True)
class Family:
    """One table per source table in a layer (bronze, silver, quarantine)."""

    layer: Layer
    schema_of: Callable[[source.SourceTable], StructType]
    module: ModuleType


@dataclass(frozen=True)
class Catalog:
    source_tables: tuple[source.SourceTable, ...]
    lineage: tuple[StructField, ...]
    families: tuple[Family, ...]
    tables: tuple[Table, ...]

    def family(self, layer: Layer) -> Family:
        return next(family for family in self.families if family.layer == layer)


def catalog() -> Catalog:
    """Every Delta table of the lake. Documenting a new table is one line in `tables` (plus
    its import and its columns' meanings in descriptions.toml)."""
    return Catalog(
        source_tables=source.SOURCE_TABLES,
        lineage=LINEAGE_FIELDS,
        families=(
            Family(Layer.BRONZE, layout.bronze_schema, layout),
            Family(Layer.SILVER, layout.silver_schema, layout),
            Family(Layer.QUARANTINE, layout.quarantine_schema, layout),
        ),
        tables=(
            Table(Layer.BRONZE, queries.KAFKA_EVENTS, queries.KAFKA_EVENTS_SCHEMA, queries),
            Table(Layer.GOLD, "transacoes_por_condominio",
                  por_condominio.TRANSACOES_POR_CONDOMINIO_SCHEMA, por_condominio),
            Table(Layer.GOLD, "transacoes_por_morador",
                  por_morador.TRANSACOES_POR_MORADOR_SCHEMA, por_morador),
            Table(Layer.GOLD, "transacoes_diarias_por_tipo",
                  diarias_por_tipo.TRANSACOES_DIARIAS_POR_TIPO_SCHEMA, diarias_por_tipo),
            Table(Layer.OPS, runlog.RUNS, runlog.RUNS_SCHEMA, runlog),
            Table(Layer.OPS, runlog.RUN_TABLES, runlog.RUN_TABLES_SCHEMA, runlog),
            Table(Layer.OPS, runlog.WATERMARKS, runlog.WATERMARKS_SCHEMA, runlog),
            Table(Layer.OPS, stream_silver.POSITIONS, stream_silver.POSITIONS_SCHEMA,
                  stream_silver),
            Table(Layer.OPS, quality.DQ_RESULTS, quality.DQ_RESULTS_SCHEMA, quality),
            Table(Layer.OPS, progress.STREAM_PROGRESS, progress.STREAM_PROGRESS_SCHEMA,
                  progress),
        ),
    )


@dataclass(frozen=True)
class Descriptions:
    columns: dict[str, dict[str, str]]  # section ("lineage", "source.x", …) -> column -> meaning
    notes: dict[str, dict[str, str]]  # table path -> summary / before / after


def parse_descriptions(text: str) -> Descriptions:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as failure:
        raise DictionaryError(f"{DESCRIPTIONS_NAME} is not valid TOML: {failure}") from None
    columns: dict[str, dict[str, str]] = {}
    notes: dict[str, dict[str, str]] = {}
    for top, value in data.items():
        if top == "source":
            for name, entry in value.items():
                columns[f"source.{name}"] = _columns_of(f"source.{name}", entry)
        elif top == "table":
            for path, entry in value.items():
                section = f'table."{path}"'
                columns[section] = _columns_of(section, entry)
                unknown = sorted(set(entry) - {"columns", *TABLE_NOTES})
                if unknown:
                    raise DictionaryError(f"{DESCRIPTIONS_NAME} [{section}] has unknown key "
                                          f"`{unknown[0]}` (expected columns, summary, before, "
                                          "after)")
                notes[path] = {key: str(entry[key]).strip() for key in TABLE_NOTES if key in entry}
        elif top == "lineage" or top in {layer.value for layer in Layer}:
            columns[top] = _columns_of(top, value)
        else:
            raise DictionaryError(f"{DESCRIPTIONS_NAME} has an unknown section [{top}]")
    return Descriptions(columns, notes)


def _columns_of(section: str, entry: dict[str, Any]) -> dict[str, str]:
    meanings = entry.get("columns", {})
    if not isinstance(meanings, dict):
        raise DictionaryError(f"{DESCRIPTIONS_NAME} [{section}.columns] must be a table")
    return {name: str(meaning).strip() for name, meaning in meanings.items()}


@dataclass(frozen=True)
class Column:
    table: str  # e.g. "bronze/condominios"
    declared_in: str  # e.g. "lake/layout.py"
    section: str  # where its meaning lives in descriptions.toml
    name: str


def columns(cat: Catalog) -> Iterator[Column]:
    """Every column of every table, with the descriptions section that must explain it."""
    lineage = {field.name for field in cat.lineage}
    for family in cat.families:
        for table in cat.source_tables:
            for field in family.schema_of(table).fields:
                section = (f"source.{table.name}" if field.name in table.column_names
                           else "lineage" if field.name in lineage else family.layer.value)
                yield Column(f"{family.layer.value}/{table.name}", module_path(family.module),
                             section, field.name)
    for single in cat.tables:
        for field in single.schema.fields:
            yield Column(single.path, module_path(single.module), f'table."{single.path}"',
                         field.name)


def validate(cat: Catalog, descriptions: Descriptions) -> None:
    """Every column has a description, and every description names an existing column."""
    problems: list[str] = []
    used: dict[str, list[Column]] = {}
    for column in columns(cat):
        used.setdefault(column.section, []).append(column)
        if not descriptions.columns.get(column.section, {}).get(column.name):
            problems.append(
                f"column `{column.name}` of {column.table} (declared in {column.declared_in}) "
                f"has no description: add it under [{column.section}.columns] in "
                f"{DESCRIPTIONS_NAME}"
            )
    for section, meanings in descriptions.columns.items():
        if section not in used:
            problems.append(f"{DESCRIPTIONS_NAME} has [{section}], but the lake has no such "
                            "table (docs_gen/dictionary.py catalog()): remove it or register "
                            "the table")
            continue
        existing = {column.name for column in used[section]}
        tables = sorted({f"{column.table} ({column.declared_in})" for column in used[section]})
        for name in meanings:
            if name not in existing:
                problems.append(f"{DESCRIPTIONS_NAME} describes `{name}` under "
                                f"[{section}.columns], but no such column exists in "
                                f"{', '.join(tables)}: remove it")
    if problems:
        others = len(problems) - 1
        more = f" ({others} more problem{'s' if others > 1 else ''})" if others else ""
        raise DictionaryError(f"data dictionary: {problems[0]}{more}")


def module_path(module: ModuleType) -> str:
    """`condolake.monitoring.runlog` -> `monitoring/runlog.py`."""
    return module.__name__.removeprefix("condolake.").replace(".", "/") + ".py"


def type_name(data_type: DataType) -> str:
    """The Spark SQL type as stored, escaped for Markdown (`array\\<string\\>`)."""
    return data_type.simpleString().replace("<", "\\<").replace(">", "\\>")


def _column_table(fields: tuple[StructField, ...] | list[StructField], meanings: dict[str, str],
                  type_header: str = "type") -> str:
    rows = [f"| column | {type_header} | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{field.name}` | {type_name(field.dataType)} | {meanings[field.name]} |"
             for field in fields]
    return "\n".join(rows)


def _family_extra(cat: Catalog, layer: Layer) -> list[StructField]:
    """The columns a family's tables have besides source and lineage (the same in each)."""
    lineage = {field.name for field in cat.lineage}
    family = cat.family(layer)
    extras = [
        [field for field in family.schema_of(table).fields
         if field.name not in table.column_names and field.name not in lineage]
        for table in cat.source_tables
    ]
    if any(extra != extras[0] for extra in extras):
        raise DictionaryError(f"data dictionary: the {layer.value} tables do not all have the "
                              "same columns besides source and lineage")
    return extras[0]


class _Renderer:
    def __init__(self, cat: Catalog, descriptions: Descriptions) -> None:
        self.cat = cat
        self.descriptions = descriptions
        self.rendered_layers: set[str] = set()

    def __call__(self, match: re.Match[str]) -> str:
        kind, argument = match.group(1), match.group(2)
        if kind in {"origins", "lineage", "source-tables"} and argument is None:
            return {"origins": self.origins, "lineage": self.lineage,
                    "source-tables": self.source_tables}[kind]()
        layers = {layer.value: layer for layer in Layer}
        if argument in layers:
            layer = layers[argument]
            if kind == "tables":
                self.rendered_layers.add(argument)
                return self.tables(layer)
            if kind == "family-tables":
                return self.family_tables(layer)
            if kind == "family-columns":
                return _column_table(_family_extra(self.cat, layer),
                                     self.descriptions.columns.get(layer.value, {}))
        raise DictionaryError(f"data dictionary: unknown placeholder {match.group(0)} in "
                              f"{TEMPLATE.name}")

    def origins(self) -> str:
        """One bullet per module that declares schemas, with what it declares."""
        declared: dict[str, list[str]] = {}
        for family in self.cat.families:
            declared.setdefault(module_path(family.module), []).append(
                f"`{family.layer.value}/<table>`")
        declared.setdefault(module_path(source), []).append("the source columns")
        for table in self.cat.tables:
            declared.setdefault(module_path(table.module), []).append(f"`{table.path}`")
        return "\n".join(f"- `{path}`: {', '.join(what)}" for path, what in declared.items())

    def lineage(self) -> str:
        return _column_table(self.cat.lineage, self.descriptions.columns["lineage"])

    def source_tables(self) -> str:
        typed = self.cat.family(Layer.SILVER).schema_of
        parts = []
        for table in self.cat.source_tables:
            fields = [f for f in typed(table).fields if f.name in table.column_names]
            parts.append(f"### {table.name} (primary key `{table.primary_key}`)\n\n"
                         + _column_table(fields, self.descriptions.columns[
                             f"source.{table.name}"], "silver type"))
        return "\n\n".join(parts)

    def family_tables(self, layer: Layer) -> str:
        family = self.cat.family(layer)
        rows = ["| table | columns in order, with their types as stored |", "| --- | --- |"]
        for table in self.cat.source_tables:
            listed = ", ".join(f"`{field.name}` {type_name(field.dataType)}"
                               for field in family.schema_of(table).fields)
            rows.append(f"| `{layer.value}/{table.name}` | {listed} |")
        return "\n".join(rows)

    def tables(self, layer: Layer) -> str:
        parts = []
        for table in (table for table in self.cat.tables if table.layer == layer):
            notes = self.descriptions.notes.get(table.path, {})
            summary = f" — {notes['summary']}" if notes.get("summary") else ""
            section = [f"### {table.path}{summary}", notes.get("before", ""),
                       _column_table(table.schema.fields,
                                     self.descriptions.columns[f'table."{table.path}"']),
                       notes.get("after", "")]
            parts.append("\n\n".join(part for part in section if part))
        return "\n\n".join(parts)


def render(cat: Catalog, descriptions: Descriptions, template: str) -> str:
    """The page's Markdown: the template with its placeholders filled from the schemas."""
    validate(cat, descriptions)
    renderer = _Renderer(cat, descriptions)
    page = _PLACEHOLDER.sub(renderer, template)
    if "{{" in page:
        line = page[:page.index("{{")].count("\n") + 1
        raise DictionaryError(f"data dictionary: malformed placeholder at line {line} of "
                              f"{TEMPLATE.name}")
    missing = sorted({table.layer.value for table in cat.tables} - renderer.rendered_layers)
    if missing:
        raise DictionaryError(f"data dictionary: {TEMPLATE.name} has no "
                              f"{{{{ tables {missing[0]} }}}} placeholder")
    return re.sub(r"\n{3,}", "\n\n", page).strip() + "\n"


def generate() -> str:
    """The data dictionary of the code as it is now."""
    return render(catalog(), parse_descriptions(DESCRIPTIONS.read_text(encoding="utf-8")),
                  TEMPLATE.read_text(encoding="utf-8"))


def write_dictionary(output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(generate(), encoding="utf-8")


def first_difference(committed: str, generated: str) -> str | None:
    """Where two pages first differ: line, column and an excerpt of each; None when equal."""
    if committed == generated:
        return None
    pairs = zip_longest(committed.split("\n"), generated.split("\n"))
    for number, (old, new) in enumerate(pairs, start=1):
        if old != new:
            pairs_of_chars = zip(old or "", new or "", strict=False)
            column = next((i for i, (a, b) in enumerate(pairs_of_chars) if a != b),
                          min(len(old or ""), len(new or "")))
            return (f"line {number}, column {column + 1}: the file has {_excerpt(old, column)}, "
                    f"the generator writes {_excerpt(new, column)}")
    return None


def _excerpt(line: str | None, column: int, width: int = 70) -> str:
    if line is None:
        return "the end of the file"
    if not line:
        return "an empty line"
    start = max(0, column - 20)
    text = line[start:start + width]
    return (f"\"{'…' if start else ''}{text}{'…' if start + width < len(line) else ''}\"")


def check_dictionary(output: Path) -> None:
    """Raises OutOfDateError naming the first difference when `output` is not up to date."""
    if not output.is_file():
        raise OutOfDateError(f"{output} does not exist; run `condolake docs dictionary`")
    difference = first_difference(output.read_text(encoding="utf-8"), generate())
    if difference:
        raise OutOfDateError(f"{output} is out of date ({difference}); run `condolake docs "
                             f"dictionary` to regenerate it")
