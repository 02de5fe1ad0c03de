"""Which gold rows a set of silver changes touches, and their new content (pure transforms).

The input is silver's change data feed, projected to `CHANGED_KEYS`: each change row of
condominios, moradores, imoveis or transacoes names the keys it can move. Updates arrive as a
pre-image and a post-image, so a transaction moved from one property to another touches both.
Recomputing only those keys with the same mart functions as the full rebuild keeps the two
paths equal by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from condolake.transforms.gold.diarias_por_tipo import transacoes_diarias_por_tipo
from condolake.transforms.gold.por_condominio import transacoes_por_condominio
from condolake.transforms.gold.por_morador import transacoes_por_morador

# Columns of the changed-keys frame (NULL where the changed table has no such column).
CHANGED_KEYS = "condominio_id: int, morador_id: int, imovel_id: int, data_transacao: date, " \
    "tipo: string"
CHANGED_KEY_TYPES = {"condominio_id": "int", "morador_id": "int", "imovel_id": "int",
                     "data_transacao": "date", "tipo": "string"}
PRESENT_COL = "_present"
# The columns of each silver table that can move a gold row (a resident's own condominium
# is a column of its row in transacoes_por_morador, not a key of transacoes_por_condominio).
KEYS_OF_TABLE = {
    "condominios": ("condominio_id",),
    "moradores": ("morador_id",),
    "imoveis": ("condominio_id", "imovel_id", "tipo"),
    "transacoes": ("morador_id", "imovel_id", "data_transacao"),
}
CHANGE_TYPE_COL = "_change_type"
# Rows of a change data feed that carry a row image (every kind there is, named for clarity).
CHANGE_TYPES = ("insert", "update_preimage", "update_postimage", "delete")


@dataclass(frozen=True)
class Silver:
    condominios: DataFrame
    moradores: DataFrame
    imoveis: DataFrame
    transacoes: DataFrame


def changed_keys(feed: DataFrame, table: str) -> DataFrame:
    """The keys named by the change data feed rows of silver/`table` (pre- and post-images
    alike), as the changed-keys frame (NULL in the columns that are not the table's keys)."""
    images = feed.where(F.col(CHANGE_TYPE_COL).isin(*CHANGE_TYPES))
    own = KEYS_OF_TABLE[table]
    return images.select(*[
        (F.col(name) if name in own else F.lit(None)).cast(sql_type).alias(name)
        for name, sql_type in CHANGED_KEY_TYPES.items()
    ])


def affected_condominios(changed: DataFrame, silver: Silver) -> DataFrame:
    """Condominiums whose totals may have moved: changed themselves, or their properties or
    those properties' transactions changed."""
    direct = changed.select("condominio_id")
    via_property = changed.where(F.col("data_transacao").isNotNull()).select("imovel_id").join(
        silver.imoveis.select("imovel_id", "condominio_id"), on="imovel_id", how="inner"
    ).select("condominio_id")
    return direct.unionByName(via_property).where(F.col("condominio_id").isNotNull()).distinct()


def affected_moradores(changed: DataFrame) -> DataFrame:
    return changed.select("morador_id").where(F.col("morador_id").isNotNull()).distinct()


def affected_days(changed: DataFrame, silver: Silver) -> DataFrame:
    """(day, type) pairs whose totals may have moved: the days of changed transactions under
    their property's type, and every day of a changed property's transactions under its old
    and new type."""
    of_transactions = changed.where(F.col("data_transacao").isNotNull()).select(
        "imovel_id", "data_transacao"
    ).join(silver.imoveis.select("imovel_id", "tipo"), on="imovel_id", how="inner")
    changed_types = changed.where(
        F.col("tipo").isNotNull() & F.col("data_transacao").isNull()
    ).select("imovel_id", "tipo")
    of_properties = changed_types.join(
        silver.transacoes.select("imovel_id", "data_transacao"), on="imovel_id", how="inner"
    )
    # A transaction that left silver in the same batch as its property's type changed is
    # no longer found under the old type through silver: pair it with the images' types too.
    of_both = changed.where(F.col("data_transacao").isNotNull()).select(
        "imovel_id", "data_transacao"
    ).join(changed_types, on="imovel_id", how="inner")
    return of_transactions.unionByName(of_properties).unionByName(of_both).select(
        "data_transacao", "tipo"
    ).distinct()


def _with_presence(keys: DataFrame, rows: DataFrame, on: list[str]) -> DataFrame:
    """Every affected key, with its recomputed row, or `_present` false when it has none."""
    return keys.join(rows.select("*", F.lit(True).alias(PRESENT_COL)), on=on, how="left").select(
        *rows.columns, F.coalesce(F.col(PRESENT_COL), F.lit(False)).alias(PRESENT_COL)
    )


def recomputed_por_condominio(keys: DataFrame, silver: Silver) -> DataFrame:
    imoveis = silver.imoveis.join(keys, on="condominio_id", how="left_semi")
    transacoes = silver.transacoes.join(imoveis.select("imovel_id"), on="imovel_id",
                                        how="left_semi")
    condominios = silver.condominios.join(keys, on="condominio_id", how="left_semi")
    rows = transacoes_por_condominio(condominios, imoveis, transacoes)
    return _with_presence(keys, rows, ["condominio_id"])


def recomputed_por_morador(keys: DataFrame, silver: Silver) -> DataFrame:
    moradores = silver.moradores.join(keys, on="morador_id", how="left_semi")
    transacoes = silver.transacoes.join(keys, on="morador_id", how="left_semi")
    return _with_presence(keys, transacoes_por_morador(moradores, transacoes), ["morador_id"])


def recomputed_diarias(keys: DataFrame, silver: Silver) -> DataFrame:
    days = keys.select("data_transacao").distinct()
    transacoes = silver.transacoes.join(days, on="data_transacao", how="left_semi")
    rows = transacoes_diarias_por_tipo(silver.imoveis, transacoes).join(
        keys, on=["data_transacao", "tipo"], how="left_semi"
    )
    return _with_presence(keys, rows, ["data_transacao", "tipo"])
