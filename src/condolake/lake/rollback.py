"""All-or-nothing runs over several Delta tables.

Delta commits are atomic per table. A run writes several tables, so it records each table's
version when it starts; if the run fails, every table it changed is restored to that version
and every table it created is removed, leaving the lake as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from condolake.lake.delta import version


class LakeCheckpoint:
    """Versions of a set of tables at one moment, and the means to go back to them."""

    def __init__(self, spark: SparkSession, paths: Iterable[str]) -> None:
        self._spark = spark
        self._versions = {path: version(spark, path) for path in paths}

    def restore(self, progress: Callable[[str], None] | None = None) -> list[str]:
        """Puts every table back as it was; returns the paths it had to touch."""
        touched = []
        for path, before in self._versions.items():
            now = version(self._spark, path)
            if now == before:
                continue
            touched.append(path)
            if before is None:
                self._delete_table(path)
            else:
                DeltaTable.forPath(self._spark, path).restoreToVersion(before)
            if progress:
                progress(f"rolled back {path} to {'nothing' if before is None else before}")
        return touched

    def _delete_table(self, path: str) -> None:
        # Hadoop's FileSystem handles local folders and object stores (s3a://) alike.
        jvm = self._spark.sparkContext._jvm
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)  # type: ignore[union-attr]
        conf = self._spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
        hadoop_path.getFileSystem(conf).delete(hadoop_path, True)
