"""The data dictionary is generated from the schemas in code: the committed page is exactly
the generator's output, every column has a meaning, and schema changes are caught."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pyspark.sql.types import LongType, StructField, StructType

from condolake import catalog
from condolake.catalog import FAMILIES, MART_NAMES, Table
from condolake.cli import main
from condolake.docs_gen.dictionary import (
    DESCRIPTIONS,
    TEMPLATE,
    DictionaryError,
    OutOfDateError,
    check_dictionary,
    columns,
    first_difference,
    generate,
    parse_descriptions,
    render,
    validate,
)
from condolake.layout import Layer
from condolake.source.tables import CONDOMINIOS

PROJECT_ROOT = Path(__file__).resolve().parents[3]
COMMITTED = PROJECT_ROOT / "docs" / "data-dictionary.md"
TOML = "src/condolake/docs_gen/descriptions.toml"


def descriptions_text() -> str:
    return DESCRIPTIONS.read_text(encoding="utf-8")


def with_runs_schema(schema: StructType) -> tuple[Table, ...]:
    """The real catalog with ops/runs declared as `schema`."""
    return tuple(
        dataclasses.replace(table, schema=schema) if table.path == "ops/runs" else table
        for table in catalog.tables()
    )


def generated_with(tables: tuple[Table, ...], descriptions: str | None = None) -> str:
    return render(tables, parse_descriptions(descriptions or descriptions_text()),
                  TEMPLATE.read_text(encoding="utf-8"))


def test_committed_page_is_the_generators_output() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == generate(), (
        "docs/data-dictionary.md is out of date: run `condolake docs dictionary`"
    )


def test_every_column_of_every_table_has_a_description() -> None:
    descriptions = parse_descriptions(descriptions_text())
    tables = catalog.tables()
    undescribed = [f"{column.table}.{column.name}" for column in columns(tables)
                   if not descriptions.columns.get(column.section, {}).get(column.name)]
    assert undescribed == []
    source_tables = ("condominios", "moradores", "imoveis", "transacoes")
    assert {column.table for column in columns(tables)} == {
        *(f"{layer}/{table}" for layer in ("bronze", "silver", "quarantine")
          for table in source_tables),
        "bronze/kafka_events",
        "gold/transacoes_por_condominio", "gold/transacoes_por_morador",
        "gold/transacoes_diarias_por_tipo",
        "ops/runs", "ops/run_tables", "ops/watermarks", "ops/change_positions",
        "ops/source_snapshots", "ops/dq_results", "ops/stream_progress",
    }


def test_catalog_documents_every_gold_table_the_batch_writes() -> None:
    gold = {table.name for table in catalog.tables() if table.layer == Layer.GOLD}
    assert gold == set(MART_NAMES)


def test_page_lists_each_table_with_its_stored_types() -> None:
    page = generate()
    assert ("| `quarantine/condominios` | `condominio_id` string, `nome` string, `endereco` "
            "string, `_source` string, `_source_position` bigint, `_ingest_run_id` string, "
            "`_ingested_at` timestamp, `_raw` string, `_reasons` array\\<string\\>, "
            "`_detail` string, `_record_id` string, `_quarantined_at` timestamp, "
            "`_resolved_run_id` string, `_resolution` string, `_resolved_at` timestamp |"
            in page.splitlines())
    assert ("| `valor_total` | decimal(25,2) | sum of their `valor_transacao`; 0.00 when none |"
            in page.splitlines())
    assert "### ops/dq_results — one row per data-quality check per run, appended" in page


def test_added_column_without_description_fails() -> None:
    added = StructType([*catalog.RUNS_SCHEMA.fields, StructField("retries", LongType(), True)])
    with pytest.raises(DictionaryError) as failure:
        generated_with(with_runs_schema(added))
    assert str(failure.value) == (
        "data dictionary: column `retries` of ops/runs (declared in catalog.py) "
        f"has no description: add it under [table.\"ops/runs\".columns] in {TOML}"
    )


def test_removed_column_with_description_fails() -> None:
    removed = StructType([f for f in catalog.RUNS_SCHEMA.fields if f.name != "error"])
    with pytest.raises(DictionaryError) as failure:
        generated_with(with_runs_schema(removed))
    assert str(failure.value) == (
        f"data dictionary: {TOML} describes `error` under [table.\"ops/runs\".columns], but "
        "no such column exists in ops/runs (catalog.py): remove it"
    )


def test_column_added_to_every_bronze_table_names_the_layer_section() -> None:
    def with_batch(table: Table) -> Table:
        if table.layer is not Layer.BRONZE or table.source is None:
            return table
        batch = StructField("_batch", LongType(), True)
        return dataclasses.replace(table, schema=StructType([*table.schema.fields, batch]))

    with pytest.raises(DictionaryError) as failure:
        validate(tuple(with_batch(table) for table in catalog.tables()),
                 parse_descriptions(descriptions_text()))
    assert str(failure.value) == (
        "data dictionary: column `_batch` of bronze/condominios (declared in layout.py) "
        f"has no description: add it under [bronze.columns] in {TOML} (3 more problems)"
    )


def test_source_column_removed_fails_naming_every_table_that_had_it() -> None:
    without_endereco = dataclasses.replace(
        CONDOMINIOS, columns=tuple(c for c in CONDOMINIOS.columns if c.name != "endereco"))
    tables = tuple(
        dataclasses.replace(t, source=without_endereco,
                            schema=FAMILIES[t.layer](without_endereco))
        if t.source == CONDOMINIOS else t for t in catalog.tables())
    with pytest.raises(DictionaryError) as failure:
        validate(tables, parse_descriptions(descriptions_text()))
    assert str(failure.value) == (
        f"data dictionary: {TOML} describes `endereco` under [source.condominios.columns], "
        "but no such column exists in bronze/condominios (layout.py), "
        "quarantine/condominios (layout.py), silver/condominios (layout.py): "
        "remove it"
    )


def test_description_of_an_unregistered_table_fails() -> None:
    extra = descriptions_text() + '\n[table."ops/old_runs".columns]\nrun_id = "gone"\n'
    with pytest.raises(DictionaryError) as failure:
        generated_with(catalog.tables(), extra)
    assert str(failure.value) == (
        f"data dictionary: {TOML} has [table.\"ops/old_runs\"], but the lake has no such "
        "table (condolake/catalog.py): remove it or add the table there"
    )


def test_registering_a_table_is_one_entry() -> None:
    extra_table = Table(Layer.OPS, "heartbeats", StructType([StructField("at", LongType())]),
                        (), catalog.__name__)
    tables = (*catalog.tables(), extra_table)
    described = descriptions_text() + (
        '\n[table."ops/heartbeats"]\nsummary = "one row per beat"\n'
        '\n[table."ops/heartbeats".columns]\nat = "when"\n'
    )
    page = generated_with(tables, described)
    assert page.endswith("### ops/heartbeats — one row per beat\n\n"
                         "| column | type | meaning |\n| --- | --- | --- |\n"
                         "| `at` | bigint | when |\n")
    assert ("- `catalog.py`: `bronze/kafka_events`, `ops/runs`, `ops/run_tables`, "
            "`ops/watermarks`, `ops/change_positions`, `ops/source_snapshots`, `ops/dq_results`, "
            "`ops/stream_progress`, `ops/heartbeats`") in page


def test_first_difference_names_line_and_column() -> None:
    assert first_difference("a\nb\n", "a\nb\n") is None
    assert first_difference("a\n| `x` | int |\n", "a\n| `x` | bigint |\n") == (
        'line 2, column 9: the file has "| `x` | int |", '
        'the generator writes "| `x` | bigint |"'
    )
    assert first_difference("a\n", "a\nb\n") == (
        'line 2, column 1: the file has an empty line, the generator writes "b"'
    )


def test_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "data-dictionary.md"
    stale.write_text(generate().replace("| `duration_s` | double |",
                                        "| `duration_s` | float |"), encoding="utf-8")
    line = generate().splitlines().index(next(
        row for row in generate().splitlines() if row.startswith("| `duration_s` |"))) + 1
    with pytest.raises(OutOfDateError) as failure:
        check_dictionary(stale)
    assert str(failure.value) == (
        f"{stale} is out of date (line {line}, column 18: the file has "
        '"| `duration_s` | float | `finished_at - started_at` in seconds |", the generator '
        'writes "| `duration_s` | double | `finished_at - started_at` in seconds |"); '
        "run `condolake docs dictionary` to regenerate it"
    )


def test_cli_writes_then_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "docs" / "data-dictionary.md"
    assert main(["docs", "dictionary", "--check", "--output", str(page)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"condolake: error: {page} does not exist; run `condolake docs dictionary`"
    )
    assert main(["docs", "dictionary", "--output", str(page)]) == 0
    assert page.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8")
    assert main(["docs", "dictionary", "--check", "--output", str(page)]) == 0
    assert f"{page} is up to date" in capsys.readouterr().out
    page.write_text(page.read_text(encoding="utf-8") + "edited by hand\n", encoding="utf-8")
    assert main(["docs", "dictionary", "--check", "--output", str(page)]) == 1
    err = capsys.readouterr().err
    assert "is out of date (line " in err and "the file has \"edited by hand\"" in err
    assert "Traceback" not in err
