"""Which silver rows a truncate leaves, and which quarantine records it closes."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from condolake.pipelines.stream_silver import survives_truncate

TRUNCATED_AT = 1000


def test_only_rows_streamed_from_a_later_change_survive_a_truncate(spark: SparkSession) -> None:
    rows = [
        ("kafka:condomanage.public.condominios/0/9", 999, False),  # an older change
        ("kafka:condomanage.public.condominios/0/11", 1001, True),  # a later one
        ("kafka:condomanage.public.condominios/0/10", 1000, True),  # the truncate's own LSN
        ("postgres:condominios", None, False),  # a batch load: no place in the WAL's order
        ("landing:file:/lake/landing/condominios/a.csv", 1_719_748_800_000_000, False),
        (None, None, False),
    ]
    frame = spark.createDataFrame([(s, p) for s, p, _ in rows],
                                  "_source string, _source_position long")
    result = frame.select("_source", "_source_position",
                          survives_truncate(F.lit(TRUNCATED_AT)).alias("survives"))
    assert_df_equality(
        result,
        spark.createDataFrame(rows, "_source string, _source_position long, survives boolean"),
        ignore_nullable=True, ignore_row_order=True,
    )
