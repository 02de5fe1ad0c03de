"""Columns of change events that the lake's contract does not have (pure Spark columns)."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from condolake.source.tables import CONDOMINIOS
from condolake.streaming.drift import unknown_columns, unknown_columns_by_table

KNOWN = '"condominio_id":1,"nome":"A","endereco":"Rua"'


def test_new_columns_are_found_in_after_or_before_and_sorted(spark: SparkSession) -> None:
    values = [
        f'{{"before":null,"after":{{{KNOWN}}},"op":"c"}}',
        f'{{"before":null,"after":{{{KNOWN},"zona":"norte","andares":3}},"op":"c"}}',
        f'{{"before":{{{KNOWN},"zona":null}},"after":null,"op":"d"}}',
        None,  # a tombstone
        '{"source":{"lsn":5},"op":"t"}',  # a truncate
        "not json",
    ]
    frame = spark.createDataFrame([(value,) for value in values], "value string")
    found = [row[0] for row in frame.select(unknown_columns(F.col("value"), CONDOMINIOS))
             .collect()]
    assert found == [[], ["andares", "zona"], ["zona"], [], [], []]


def test_each_table_is_judged_by_its_own_columns(spark: SparkSession) -> None:
    value = '{"after":{"morador_id":1,"nome":"A","data_registro":1,"apelido":"x"}}'
    frame = spark.createDataFrame([("moradores", value), ("condominios", value),
                                   ("other", value)], "table string, value string")
    found = [row[0] for row in frame.select(
        unknown_columns_by_table(F.col("table"), F.col("value"))).collect()]
    assert found == [["apelido"], ["apelido", "data_registro", "morador_id"], []]
