"""Which change events a batch load's snapshot already saw (pure Spark columns)."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from condolake.streaming.snapshots import Claim, latest_claim, seen_by

WRAP = 2**32


def _seen(spark: SparkSession, claim: Claim, txs: list[int]) -> list[int]:
    frame = spark.createDataFrame([(tx,) for tx in txs], "tx long")
    return [row["tx"] for row in frame.where(seen_by(F.col("tx"), claim)).collect()]


def test_a_snapshot_sees_older_transactions_but_those_it_found_running(
    spark: SparkSession,
) -> None:
    claim = Claim("run-1", None, xmax=20, xip=(10, 14))
    assert _seen(spark, claim, list(range(8, 23))) == [8, 9, 11, 12, 13, 15, 16, 17, 18, 19]


def test_debezium_32_bit_txids_compare_with_64_bit_snapshots_across_the_wraparound(
    spark: SparkSession,
) -> None:
    # Epoch 3, xmax just past the 32-bit wraparound: 2^32 - 2 is older, 1 is running, 5 is new.
    epoch = 3 * WRAP
    claim = Claim("run-1", None, xmax=epoch + WRAP + 3, xip=(epoch + WRAP + 1,))
    assert _seen(spark, claim, [WRAP - 2, WRAP - 1, 0, 1, 2, 3, 5]) == [WRAP - 2, WRAP - 1, 0, 2]


def test_the_latest_claim_covering_a_key_decides_and_older_ones_never_take_over(
    spark: SparkSession,
) -> None:
    claims = (  # newest first: an incremental load of keys above 100, then a full one
        Claim("run-2", 100, xmax=50, xip=()),
        Claim("run-1", None, xmax=30, xip=()),
    )
    rows = [(5, 20), (5, 40), (150, 40), (150, 60), (None, 20), (7, None)]
    frame = spark.createDataFrame(rows, "key long, tx long").select(
        "key", "tx", latest_claim(F.col("key"), F.col("tx"), claims).alias("claim"))
    assert [(row["key"], row["tx"], row["claim"]) for row in frame.collect()] == [
        (5, 20, "run-1"),  # the full load saw it
        (5, 40, None),  # newer than the full load, which is the latest load of key 5
        (150, 40, "run-2"),
        (150, 60, None),
        (None, 20, "run-1"),  # no key: covered by the full load only
        (7, None, None),  # no transaction id (not a Debezium event)
    ]


def test_without_claims_no_change_is_held(spark: SparkSession) -> None:
    frame = spark.createDataFrame([(1, 1)], "key long, tx long")
    assert frame.select(latest_claim(F.col("key"), F.col("tx"), ()).alias("c")).first()[0] is None
