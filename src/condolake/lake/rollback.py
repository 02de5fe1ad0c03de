"""All-or-nothing runs over several Delta tables.

Delta commits are atomic per table. A run writes several tables, so it records each table's
version when it starts; if the run fails, every table it changed is restored to that version
and every table it created is removed, leaving the lake as it was.

A table that another writer (a stream) committed to after the run started is not restored:
that would undo the other writer's work. The run's own commits there are idempotent upserts,
so they stay, are reported, and a re-run gives the same table.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from condolake.lake.delta import version

log = logging.getLogger(__name__)
EMPTY_CREATES = frozenset({"CREATE TABLE", "CREATE OR REPLACE TABLE"})


class LakeCheckpoint:
    """Versions of a set of tables at one moment, and the means to go back to them."""

    def __init__(self, spark: SparkSession, paths: Iterable[str], run_id: str = "") -> None:
        self._spark = spark
        self._run_id = run_id
        self._versions = {path: version(spark, path) for path in paths}

    def restore(self) -> tuple[list[str], list[str]]:
        """Puts every table back as it was, unless another writer committed to it meanwhile.

        Returns (paths restored, paths kept because another writer also changed them).
        """
        restored, kept = [], []
        for path, before in self._versions.items():
            now = version(self._spark, path)
            if now == before:
                continue
            if self._shared_since(path, -1 if before is None else before):
                kept.append(path)
                log.info(f"kept {path}: another writer committed to it during the run")
                continue
            restored.append(path)
            if before is None:
                self._delete_table(path)
            else:
                DeltaTable.forPath(self._spark, path).restoreToVersion(before)
            log.info(f"rolled back {path} to {'nothing' if before is None else before}")
        return restored, kept

    def _shared_since(self, path: str, before: int) -> bool:
        """Has anyone but this run committed to the table since version `before`?"""
        if not self._run_id:
            return False
        commits = DeltaTable.forPath(self._spark, path).history().where(
            f"version > {before}"
        ).select("operation", "userMetadata").collect()
        # An empty table made by "create if missing" carries no data of anyone's.
        return any(not (row[1] or "").startswith(self._run_id) for row in commits
                   if row[0] not in EMPTY_CREATES)

    def _delete_table(self, path: str) -> None:
        # Hadoop's FileSystem handles local folders and object stores (s3a://) alike.
        jvm = self._spark.sparkContext._jvm
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)  # type: ignore[union-attr]
        conf = self._spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
        hadoop_path.getFileSystem(conf).delete(hadoop_path, True)
