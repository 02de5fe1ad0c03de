"""docs/data-dictionary.md, generated from the table catalog (`condolake/catalog.py`).

Column names and types come from the catalog's schemas, meanings from `descriptions.toml`,
the surrounding prose from `dictionary_template.md`. Generation fails when a column has no
description or a description names a column that no longer exists, so the page cannot drift
from the code.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

from pyspark.sql.types import DataType, StructField

from condolake import catalog
from condolake.catalog import FAMILIES, Table
from condolake.errors import CondoLakeError
from condolake.layout import LINEAGE_FIELDS, Layer
from condolake.source.tables import SourceTable

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


def is_family(table: Table) -> bool:
    """One of the tables each source table has in bronze, silver and quarantine."""
    return table.source is not None and table.layer in FAMILIES


def family(tables: Sequence[Table], layer: Layer) -> list[Table]:
    return [table for table in tables if is_family(table) and table.layer is layer]


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
    declared_in: str  # e.g. "layout.py"
    section: str  # where its meaning lives in descriptions.toml
    name: str


def columns(tables: Sequence[Table]) -> Iterator[Column]:
    """Every column of every table, with the descriptions section that must explain it."""
    lineage = {field.name for field in LINEAGE_FIELDS}
    for table in tables:
        for field in table.schema.fields:
            if table.source is not None and is_family(table):
                section = (f"source.{table.source.name}"
                           if field.name in table.source.column_names
                           else "lineage" if field.name in lineage else table.layer.value)
            else:
                section = f'table."{table.path}"'
            yield Column(table.path, module_path(table.declared_in), section, field.name)


def validate(tables: Sequence[Table], descriptions: Descriptions) -> None:
    """Every column has a description, and every description names an existing column."""
    problems: list[str] = []
    used: dict[str, list[Column]] = {}
    for column in columns(tables):
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
                            "table (condolake/catalog.py): remove it or add the table there")
            continue
        existing = {column.name for column in used[section]}
        holders = sorted({f"{column.table} ({column.declared_in})" for column in used[section]})
        for name in meanings:
            if name not in existing:
                problems.append(f"{DESCRIPTIONS_NAME} describes `{name}` under "
                                f"[{section}.columns], but no such column exists in "
                                f"{', '.join(holders)}: remove it")
    if problems:
        others = len(problems) - 1
        more = f" ({others} more problem{'s' if others > 1 else ''})" if others else ""
        raise DictionaryError(f"data dictionary: {problems[0]}{more}")


def module_path(module: str) -> str:
    """`condolake.monitoring.runlog` -> `monitoring/runlog.py`."""
    return module.removeprefix("condolake.").replace(".", "/") + ".py"


def type_name(data_type: DataType) -> str:
    """The Spark SQL type as stored, escaped for Markdown (`array\\<string\\>`)."""
    return data_type.simpleString().replace("<", "\\<").replace(">", "\\>")


def _column_table(fields: tuple[StructField, ...] | list[StructField], meanings: dict[str, str],
                  type_header: str = "type") -> str:
    rows = [f"| column | {type_header} | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{field.name}` | {type_name(field.dataType)} | {meanings[field.name]} |"
             for field in fields]
    return "\n".join(rows)


def _family_extra(tables: Sequence[Table], layer: Layer) -> list[StructField]:
    """The columns a family's tables have besides source and lineage (the same in each)."""
    lineage = {field.name for field in LINEAGE_FIELDS}
    extras = [
        [field for field in table.schema.fields
         if field.name not in _source(table).column_names and field.name not in lineage]
        for table in family(tables, layer)
    ]
    if any(extra != extras[0] for extra in extras):
        raise DictionaryError(f"data dictionary: the {layer.value} tables do not all have the "
                              "same columns besides source and lineage")
    return extras[0]


def _source(table: Table) -> SourceTable:
    assert table.source is not None, table.path  # only family tables have a source
    return table.source


class _Renderer:
    def __init__(self, tables: Sequence[Table], descriptions: Descriptions) -> None:
        self.all = tables
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
                return _column_table(_family_extra(self.all, layer),
                                     self.descriptions.columns.get(layer.value, {}))
        raise DictionaryError(f"data dictionary: unknown placeholder {match.group(0)} in "
                              f"{TEMPLATE.name}")

    def origins(self) -> str:
        """One bullet per module that declares schemas, with what it declares."""
        declared: dict[str, list[str]] = {}
        for layer in FAMILIES:
            for table in family(self.all, layer)[:1]:
                declared.setdefault(module_path(table.declared_in), []).append(
                    f"`{layer.value}/<table>`")
        declared.setdefault(module_path(SourceTable.__module__), []).append(
            "the source columns")
        for table in self.all:
            if not is_family(table):
                declared.setdefault(module_path(table.declared_in), []).append(
                    f"`{table.path}`")
        return "\n".join(f"- `{path}`: {', '.join(what)}" for path, what in declared.items())

    def lineage(self) -> str:
        return _column_table(LINEAGE_FIELDS, self.descriptions.columns["lineage"])

    def source_tables(self) -> str:
        parts = []
        for silver in family(self.all, Layer.SILVER):
            table = _source(silver)
            fields = [f for f in silver.schema.fields if f.name in table.column_names]
            parts.append(f"### {table.name} (primary key `{table.primary_key}`)\n\n"
                         + _column_table(fields, self.descriptions.columns[
                             f"source.{table.name}"], "silver type"))
        return "\n\n".join(parts)

    def family_tables(self, layer: Layer) -> str:
        rows = ["| table | columns in order, with their types as stored |", "| --- | --- |"]
        for table in family(self.all, layer):
            listed = ", ".join(f"`{field.name}` {type_name(field.dataType)}"
                               for field in table.schema.fields)
            rows.append(f"| `{table.path}` | {listed} |")
        return "\n".join(rows)

    def tables(self, layer: Layer) -> str:
        parts = []
        for table in (t for t in self.all if t.layer == layer and not is_family(t)):
            notes = self.descriptions.notes.get(table.path, {})
            summary = f" — {notes['summary']}" if notes.get("summary") else ""
            section = [f"### {table.path}{summary}", notes.get("before", ""),
                       _column_table(table.schema.fields,
                                     self.descriptions.columns[f'table."{table.path}"']),
                       notes.get("after", "")]
            parts.append("\n\n".join(part for part in section if part))
        return "\n\n".join(parts)


def render(tables: Sequence[Table], descriptions: Descriptions, template: str) -> str:
    """The page's Markdown: the template with its placeholders filled from the schemas."""
    validate(tables, descriptions)
    renderer = _Renderer(tables, descriptions)
    page = _PLACEHOLDER.sub(renderer, template)
    if "{{" in page:
        line = page[:page.index("{{")].count("\n") + 1
        raise DictionaryError(f"data dictionary: malformed placeholder at line {line} of "
                              f"{TEMPLATE.name}")
    missing = sorted({table.layer.value for table in tables if not is_family(table)}
                     - renderer.rendered_layers)
    if missing:
        raise DictionaryError(f"data dictionary: {TEMPLATE.name} has no "
                              f"{{{{ tables {missing[0]} }}}} placeholder")
    return re.sub(r"\n{3,}", "\n\n", page).strip() + "\n"


def generate() -> str:
    """The data dictionary of the code as it is now."""
    return render(catalog.tables(), parse_descriptions(DESCRIPTIONS.read_text(encoding="utf-8")),
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
