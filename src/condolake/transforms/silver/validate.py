"""Parse raw text records, apply the rules, and split valid from rejected (pure transforms)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import reduce

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from condolake.layout import (
    INGESTED_AT_COL,
    POSITION_COL,
    REASONS_COL,
    RUN_ID_COL,
    SOURCE_COL,
)
from condolake.source.tables import SourceTable
from condolake.transforms.silver.rules import RETRYABLE_PREFIXES, RULES, trimmed

TYPED_SUFFIX = "__typed"
RESOLVES_SUFFIX = "__resolves"
ISO_DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DUPLICATE_RANK_COL = "_rank"
LINEAGE_COLS = (SOURCE_COL, POSITION_COL, RUN_ID_COL, INGESTED_AT_COL)


def parsed(column: str, sql_type: str) -> Column:
    """The raw text of `column` parsed as `sql_type`, or NULL when it does not parse."""
    text = F.trim(F.col(column))
    if sql_type == "string":
        return F.col(column)
    if sql_type == "date":
        # Spark's own cast accepts partial dates ("2024" -> 2024-01-01); demand a full ISO date.
        return F.when(text.rlike(ISO_DATE_PATTERN), F.expr(f"try_cast(trim({column}) AS DATE)"))
    return F.expr(f"try_cast(trim({column}) AS {sql_type.upper()})")


def with_typed_columns(raw: DataFrame, table: SourceTable) -> DataFrame:
    """Adds `<column>__typed` for every source column."""
    return raw.select(
        "*",
        *[parsed(column.name, column.sql_type).alias(column.name + TYPED_SUFFIX)
          for column in table.columns],
    )


def with_resolved_references(
    typed: DataFrame, table: SourceTable, valid_parent_keys: Mapping[str, DataFrame]
) -> DataFrame:
    """Adds `<fk>__resolves`: does the foreign key name a valid parent row?

    `valid_parent_keys` maps a parent table name to a one-column DataFrame of its valid keys.
    """
    result = typed
    for foreign_key in table.foreign_keys:
        flag = foreign_key.column + RESOLVES_SUFFIX
        typed_key = foreign_key.column + TYPED_SUFFIX
        parent_keys = valid_parent_keys[foreign_key.parent].select(
            F.col(foreign_key.parent_key).alias(typed_key), F.lit(True).alias(flag)
        ).distinct()
        kept = [F.col(name) for name in result.columns]
        result = result.join(F.broadcast(parent_keys), on=typed_key, how="left").select(
            *kept, F.coalesce(F.col(flag), F.lit(False)).alias(flag)
        )
    return result


def failed_rules(table: SourceTable, run_date: dt.date) -> Column:
    """An array with the name of every rule of `table` that the row fails."""
    run_date_literal = f"DATE'{run_date.isoformat()}'"
    holds = {
        name: F.coalesce(F.expr(condition.format(run_date=run_date_literal)), F.lit(False))
        for name, condition in RULES[table.name].items()
    }
    all_hold = reduce(lambda left, right: left & right, holds.values())
    failures = F.array_compact(
        F.array(*[F.when(~held, F.lit(name)) for name, held in holds.items()])
    )
    # Most rows are valid: a plain boolean test first (code-generated), the array of reasons
    # only for the rows that fail it.
    return F.when(all_hold, F.array().cast("array<string>")).otherwise(failures)


def validated(
    raw: DataFrame,
    table: SourceTable,
    run_date: dt.date,
    valid_parent_keys: Mapping[str, DataFrame],
) -> DataFrame:
    """Raw text records with their parsed columns and `_reasons` (empty when valid)."""
    checked = with_resolved_references(with_typed_columns(raw, table), table, valid_parent_keys)
    return checked.select("*", failed_rules(table, run_date).alias(REASONS_COL))


def only_retryable(reasons: Column) -> Column:
    """True when a record has reasons and every one may go away by itself (an orphan whose
    parent may still arrive: `rules.RETRYABLE_PREFIXES`)."""
    def retryable(reason: Column) -> Column:
        return reduce(lambda a, b: a | b, [reason.startswith(p) for p in RETRYABLE_PREFIXES])

    return (F.size(reasons) > 0) & F.forall(reasons, retryable)


def is_valid() -> Column:
    return F.size(F.col(REASONS_COL)) == 0


def ranked_by_recency(raw: DataFrame, table: SourceTable) -> DataFrame:
    """Adds `_rank`: 1 for the latest record of each primary key in this load, 2+ for older ones.

    "Latest" is the highest source position (a later line or later API record). Records whose
    key does not parse are ranked 1: they cannot be duplicates of anything and are judged by
    the rules instead.
    """
    key = parsed(table.primary_key, "int")
    latest_first = Window.partitionBy(key).orderBy(
        F.col(POSITION_COL).desc_nulls_last(), F.col(INGESTED_AT_COL).desc()
    ).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return raw.select(
        "*",
        F.when(key.isNull(), F.lit(1)).otherwise(F.row_number().over(latest_first))
        .alias(DUPLICATE_RANK_COL),
    )


def to_silver(checked: DataFrame, table: SourceTable) -> DataFrame:
    """Silver columns of the valid records: source names and types, plus lineage."""
    columns = []
    for column in table.columns:
        value = F.col(column.name + TYPED_SUFFIX)
        if column.name == "tipo":
            # The contract: property types are trimmed and lower-cased in silver.
            value = F.lower(F.expr(trimmed(column.name + TYPED_SUFFIX)))
        columns.append(value.cast(column.sql_type).alias(column.name))
    return checked.select(*columns, *LINEAGE_COLS)
