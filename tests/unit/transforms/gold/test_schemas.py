"""Each gold transform's output schema is the one declared next to it (the data dictionary's
source for gold). Compared as Delta stores it: names, order and types; every column nullable."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pyspark.sql import SparkSession
from pyspark.sql.types import StructField, StructType

from condolake.source.tables import CONDOMINIOS, IMOVEIS, MORADORES, TRANSACOES
from condolake.transforms.gold.diarias_por_tipo import (
    TRANSACOES_DIARIAS_POR_TIPO_SCHEMA,
    transacoes_diarias_por_tipo,
)
from condolake.transforms.gold.por_condominio import (
    TRANSACOES_POR_CONDOMINIO_SCHEMA,
    transacoes_por_condominio,
)
from condolake.transforms.gold.por_morador import (
    TRANSACOES_POR_MORADOR_SCHEMA,
    transacoes_por_morador,
)

from ..frames import silver

DAY = dt.date(2024, 3, 1)


def as_stored(schema: StructType) -> StructType:
    return StructType([StructField(field.name, field.dataType, True) for field in schema])


def test_por_condominio_output_matches_declared_schema(spark: SparkSession) -> None:
    result = transacoes_por_condominio(
        silver(spark, CONDOMINIOS, [(1, "Aurora", "Rua A, 1"), (2, "Bosque", "Rua B, 2")]),
        silver(spark, IMOVEIS, [(100, "casa", 1, Decimal("500000.00"))]),
        silver(spark, TRANSACOES, [(1000, 100, 10, DAY, Decimal("1200.50"))]),
    )
    assert as_stored(result.schema) == as_stored(TRANSACOES_POR_CONDOMINIO_SCHEMA)


def test_por_morador_output_matches_declared_schema(spark: SparkSession) -> None:
    result = transacoes_por_morador(
        silver(spark, MORADORES, [(10, "Ana", 1, DAY), (11, "Bruno", 1, DAY)]),
        silver(spark, TRANSACOES, [(1000, 100, 10, DAY, Decimal("1200.50"))]),
    )
    assert as_stored(result.schema) == as_stored(TRANSACOES_POR_MORADOR_SCHEMA)


def test_diarias_por_tipo_output_matches_declared_schema(spark: SparkSession) -> None:
    result = transacoes_diarias_por_tipo(
        silver(spark, IMOVEIS, [(100, "casa", 1, Decimal("500000.00"))]),
        silver(spark, TRANSACOES, [(1000, 100, 10, DAY, Decimal("1200.50"))]),
    )
    assert as_stored(result.schema) == as_stored(TRANSACOES_DIARIAS_POR_TIPO_SCHEMA)
