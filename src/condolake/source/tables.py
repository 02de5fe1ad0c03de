"""The four source tables of CondoManage's PostgreSQL, as data (mirrors source/schema.sql)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # Spark SQL type of the silver column
    nullable: bool = False


@dataclass(frozen=True)
class ForeignKey:
    column: str
    parent: str
    parent_key: str


@dataclass(frozen=True)
class SourceTable:
    name: str
    primary_key: str
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


MONEY = "decimal(15,2)"

CONDOMINIOS = SourceTable(
    name="condominios",
    primary_key="condominio_id",
    columns=(
        Column("condominio_id", "int"),
        Column("nome", "string"),
        Column("endereco", "string"),
    ),
)

MORADORES = SourceTable(
    name="moradores",
    primary_key="morador_id",
    columns=(
        Column("morador_id", "int"),
        Column("nome", "string"),
        Column("condominio_id", "int"),
        Column("data_registro", "date"),
    ),
    foreign_keys=(ForeignKey("condominio_id", "condominios", "condominio_id"),),
)

IMOVEIS = SourceTable(
    name="imoveis",
    primary_key="imovel_id",
    columns=(
        Column("imovel_id", "int"),
        Column("tipo", "string"),
        Column("condominio_id", "int"),
        Column("valor", MONEY),
    ),
    foreign_keys=(ForeignKey("condominio_id", "condominios", "condominio_id"),),
)

TRANSACOES = SourceTable(
    name="transacoes",
    primary_key="transacao_id",
    columns=(
        Column("transacao_id", "int"),
        Column("imovel_id", "int"),
        Column("morador_id", "int"),
        Column("data_transacao", "date"),
        Column("valor_transacao", MONEY),
    ),
    foreign_keys=(
        ForeignKey("imovel_id", "imoveis", "imovel_id"),
        ForeignKey("morador_id", "moradores", "morador_id"),
    ),
)

# Parents before children: the order in which a run loads them.
SOURCE_TABLES: tuple[SourceTable, ...] = (CONDOMINIOS, MORADORES, IMOVEIS, TRANSACOES)
TABLES_BY_NAME: dict[str, SourceTable] = {table.name: table for table in SOURCE_TABLES}


def source_table(name: str) -> SourceTable:
    """The table called `name`, or a clear error listing the known ones."""
    from condolake.errors import InputError

    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        known = ", ".join(TABLES_BY_NAME)
        raise InputError(f"unknown table {name!r}; expected one of: {known}") from None
