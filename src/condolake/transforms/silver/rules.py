"""Validation rules, declared once as data: table -> rule name -> Spark SQL condition.

A record is valid when every condition holds; a condition that is false or NULL fails and its
rule name goes into the record's `_reasons`. Conditions see the raw text columns under their
source names, the parsed values as `<column>__typed`, whether a foreign key resolves against
the valid parent rows as `<column>__resolves`, and `{run_date}` (a DATE literal of the run).
Rule names say what is wrong, because they are what a reader of quarantine sees.
"""

from __future__ import annotations

from types import MappingProxyType

EARLIEST_DATE = "DATE'1900-01-01'"
TIPO_MAX_LENGTH = 50
NAME_MAX_LENGTH = 255

# Rules whose outcome can change without the record changing: a parent row that becomes valid
# later. Quarantined records failing only these are re-processed automatically on every run.
RETRYABLE_PREFIXES = ("orphan_",)
# Blank means nothing but white space, tabs and line breaks included (Spark's plain trim()
# strips spaces only).
WHITESPACE = " \\t\\n\\r\\f\\u000B"


def trimmed(column: str) -> str:
    """SQL for `column` without surrounding white space of any kind."""
    return f"trim(BOTH '{WHITESPACE}' FROM {column})"


def _required_int(column: str) -> dict[str, str]:
    return {
        f"{column}_missing": f"{column} IS NOT NULL",
        f"{column}_not_integer": f"{column} IS NULL OR {column}__typed IS NOT NULL",
    }


def _required_text(column: str, max_length: int | None = None) -> dict[str, str]:
    rules = {
        f"{column}_missing": f"{column} IS NOT NULL",
        f"{column}_blank": f"{column} IS NULL OR {trimmed(column)} <> ''",
    }
    if max_length is not None:
        rules[f"{column}_too_long"] = (
            f"{column} IS NULL OR char_length({trimmed(column)}) <= {max_length}"
        )
    return rules


def _required_money(column: str) -> dict[str, str]:
    return {
        f"{column}_missing": f"{column} IS NOT NULL",
        # Parses, fits numeric(15,2) and has at most two decimals (nothing is rounded away).
        f"{column}_not_decimal_15_2": (
            f"{column} IS NULL OR ({column}__typed IS NOT NULL AND "
            f"try_cast(trim({column}) AS DECIMAL(38,10)) = {column}__typed)"
        ),
        f"{column}_not_positive": f"{column}__typed IS NULL OR {column}__typed > 0",
    }


def _required_date(column: str) -> dict[str, str]:
    return {
        f"{column}_missing": f"{column} IS NOT NULL",
        f"{column}_not_date": f"{column} IS NULL OR {column}__typed IS NOT NULL",
        f"{column}_out_of_range": (
            f"{column}__typed IS NULL OR "
            f"{column}__typed BETWEEN {EARLIEST_DATE} AND {{run_date}}"
        ),
    }


def _reference(column: str, parent: str) -> dict[str, str]:
    return {f"orphan_{parent}": f"{column}__typed IS NULL OR {column}__resolves"}


RULES: MappingProxyType[str, MappingProxyType[str, str]] = MappingProxyType({
    "condominios": MappingProxyType({
        **_required_int("condominio_id"),
        **_required_text("nome", NAME_MAX_LENGTH),
        **_required_text("endereco"),
    }),
    "moradores": MappingProxyType({
        **_required_int("morador_id"),
        **_required_text("nome", NAME_MAX_LENGTH),
        **_required_int("condominio_id"),
        **_required_date("data_registro"),
        **_reference("condominio_id", "condominio"),
    }),
    "imoveis": MappingProxyType({
        **_required_int("imovel_id"),
        **_required_text("tipo", TIPO_MAX_LENGTH),
        **_required_int("condominio_id"),
        **_required_money("valor"),
        **_reference("condominio_id", "condominio"),
    }),
    "transacoes": MappingProxyType({
        **_required_int("transacao_id"),
        **_required_int("imovel_id"),
        **_required_int("morador_id"),
        **_required_date("data_transacao"),
        **_required_money("valor_transacao"),
        **_reference("imovel_id", "imovel"),
        **_reference("morador_id", "morador"),
    }),
})
