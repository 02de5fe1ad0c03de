"""Row counts of a run's writes, read from the Delta commits themselves (no extra scans)."""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

HISTORY_DEPTH = 50


def commit_metrics(spark: SparkSession, path: str, commit_tag: str) -> dict[str, int]:
    """Operation metrics of the latest commit on `path` tagged with `commit_tag`.

    Every write of a run carries the run's tag as Delta `userMetadata`, so the commit is
    found even when another writer committed to the same table in between.
    """
    commits = (
        DeltaTable.forPath(spark, path)
        .history(HISTORY_DEPTH)
        .where(F.col("userMetadata") == commit_tag)
        .orderBy(F.col("version").desc())
        .select("operationMetrics")
        .limit(1)
        .collect()
    )
    if not commits:
        return {}
    return {key: int(value) for key, value in (commits[0]["operationMetrics"] or {}).items()}


def rows_written(metrics: dict[str, int]) -> int:
    """Rows an append or overwrite wrote."""
    return metrics.get("numOutputRows", 0)
