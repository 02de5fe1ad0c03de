"""The SQL endpoint's catalog: every Delta table of the lake as an external table.

`<lake>/<layer>/<table>` becomes `<layer>.<table>` (databases bronze, silver, gold, quarantine,
ops), registered by location: the metastore keeps only the name and the path, and Delta reads
the table's latest snapshot from its `_delta_log` at every query, so new versions need no
re-registration. Registration is a plan (pure: what the lake has vs what the metastore has)
applied as DDL, so running it again at every start changes only what changed in the lake.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.errors import PySparkException
from pyspark.sql import SparkSession

from condolake.layout import Layer, table_path

DATABASES = tuple(layer.value for layer in Layer)
DELTA_LOG = "_delta_log"
# Hadoop and Spark treat names starting with these as hidden (staging folders, checkpoints).
HIDDEN_PREFIXES = ("_", ".")
EXTERNAL = "EXTERNAL"
FILE_SCHEME = "file:"

# Lists the Delta tables (folder names) directly under one layer's folder; [] when it is absent.
DeltaFolders = Callable[[str], Iterable[str]]


@dataclass(frozen=True)
class LakeTable:
    """A Delta table of the lake as the endpoint exposes it: `database`.`name` at `location`."""

    database: str
    name: str
    location: str

    @property
    def qualified_name(self) -> str:
        return f"{quote_identifier(self.database)}.{quote_identifier(self.name)}"


@dataclass(frozen=True)
class RegisteredTable:
    """A table the metastore already has; `kind` is EXTERNAL, MANAGED or VIEW."""

    database: str
    name: str
    kind: str
    location: str | None


@dataclass
class CatalogPlan:
    """What registration does: DDL to run, and what it leaves alone (and why)."""

    statements: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    repointed: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


@dataclass
class CatalogReport:
    """The plan as applied: statements the metastore refused are listed with its reason."""

    plan: CatalogPlan
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        plan = self.plan
        registered = len(plan.created) + len(plan.repointed) + len(plan.unchanged)
        return (f"{registered} tables registered ({len(plan.created)} new, "
                f"{len(plan.repointed)} re-pointed, {len(plan.unchanged)} unchanged), "
                f"{len(plan.dropped)} dropped (gone from the lake)")


def quote_identifier(name: str) -> str:
    """A Spark SQL identifier in backticks (a backtick inside is doubled)."""
    return "`" + name.replace("`", "``") + "`"


def sql_string(text: str) -> str:
    """A Spark SQL string literal: single quotes, backslash escapes (Spark's default parser)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def create_database(database: str) -> str:
    return f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}"


def create_table(table: LakeTable) -> str:
    return (f"CREATE TABLE IF NOT EXISTS {table.qualified_name} USING DELTA "
            f"LOCATION {sql_string(table.location)}")


def drop_table(database: str, name: str) -> str:
    # Dropping an external table removes its metastore entry only, never the lake's files.
    return f"DROP TABLE IF EXISTS {quote_identifier(database)}.{quote_identifier(name)}"


def discover_tables(lake_root: str, delta_folders: DeltaFolders) -> list[LakeTable]:
    """Every Delta table under `<lake_root>/<layer>/`, one database per layer.

    The metastore folds names to lower case: of two folders differing only in case, the
    first in sorted order is kept.
    """
    tables: list[LakeTable] = []
    for layer in Layer:
        seen: set[str] = set()
        layer_folder = f"{lake_root.rstrip('/')}/{layer.value}"
        for folder in sorted(delta_folders(layer_folder)):
            if folder.startswith(HIDDEN_PREFIXES) or folder.lower() in seen:
                continue
            seen.add(folder.lower())
            tables.append(LakeTable(layer.value, folder.lower(),
                                    table_path(lake_root, layer, folder)))
    return tables


def local_delta_folders(layer_folder: str) -> list[str]:
    """Delta tables under a local folder: its sub-folders holding a `_delta_log`."""
    folder = Path(layer_folder)
    if not folder.is_dir():
        return []
    return [child.name for child in folder.iterdir() if (child / DELTA_LOG).is_dir()]


def hadoop_delta_folders(spark: SparkSession) -> DeltaFolders:
    """The same listing through Hadoop's FileSystem: local folders and object stores alike."""
    hadoop_path = spark.sparkContext._jvm.org.apache.hadoop.fs.Path  # type: ignore[union-attr]
    conf = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]

    def list_folders(layer_folder: str) -> list[str]:
        path = hadoop_path(layer_folder)
        filesystem = path.getFileSystem(conf)
        if not filesystem.exists(path):
            return []
        return [status.getPath().getName() for status in filesystem.listStatus(path)
                if status.isDirectory()
                and filesystem.exists(hadoop_path(status.getPath(), DELTA_LOG))]

    return list_folders


def parse_table_information(database: str, name: str, information: str) -> RegisteredTable:
    """A table from the `information` text of SHOW TABLE EXTENDED ("Key: value" lines)."""
    details: dict[str, str] = {}
    for line in information.splitlines():
        key, separator, value = line.partition(": ")
        if separator:
            details.setdefault(key.strip(), value.strip())
    return RegisteredTable(database, name, details.get("Type", "").upper(),
                           details.get("Location"))


def normalized_location(location: str) -> str:
    """`file:/x/`, `file:///x` and `/x` name the same folder; other URIs stay as they are."""
    if location.startswith(FILE_SCHEME):
        location = "/" + location[len(FILE_SCHEME):].lstrip("/")
    return location.rstrip("/") or "/"


def plan_catalog(lake: Sequence[LakeTable], registered: Sequence[RegisteredTable],
                 databases: Sequence[str] = DATABASES) -> CatalogPlan:
    """DDL that makes the external tables of `databases` (which exist) match the lake.

    New tables are created, those whose folder moved are dropped and created again, external
    tables whose folder is gone are dropped. Views and managed tables someone made in these
    databases are never touched; a lake table whose name one of them holds is a conflict.
    """
    plan = CatalogPlan()
    existing = {(table.database, table.name.lower()): table for table in registered}
    wanted = {(table.database, table.name) for table in lake}
    for table in lake:
        label = f"{table.database}.{table.name}"
        current = existing.get((table.database, table.name))
        if current is None:
            plan.statements.append(create_table(table))
            plan.created.append(label)
        elif current.kind != EXTERNAL:
            plan.conflicts.append(f"{label} is a {current.kind.lower() or 'table'} made in the "
                                  f"endpoint; the lake table {table.location} is not registered")
        elif current.location is not None and (normalized_location(current.location)
                                                == normalized_location(table.location)):
            plan.unchanged.append(label)
        else:
            plan.statements += [drop_table(table.database, table.name), create_table(table)]
            plan.repointed.append(label)
    for key, current in sorted(existing.items()):
        if key not in wanted and current.kind == EXTERNAL and current.database in databases:
            plan.statements.append(drop_table(current.database, current.name))
            plan.dropped.append(f"{current.database}.{current.name}")
    return plan


def registered_tables(spark: SparkSession, databases: Sequence[str]) -> list[RegisteredTable]:
    """The tables the metastore has in `databases` (read from its entries, not from Delta)."""
    tables = []
    for database in databases:
        rows = spark.sql(
            f"SHOW TABLE EXTENDED IN {quote_identifier(database)} LIKE '*'").collect()
        tables += [parse_table_information(database, row["tableName"], row["information"])
                   for row in rows if not row["isTemporary"]]
    return tables


def sync_catalog(spark: SparkSession, lake: Sequence[LakeTable],
                 databases: Sequence[str] = DATABASES) -> CatalogReport:
    """Registers the lake's tables in the session's catalog; idempotent.

    A statement the metastore refuses (an odd folder name, a half-written table) is reported
    and the others still run.
    """
    for database in databases:
        spark.sql(create_database(database))
    plan = plan_catalog(lake, registered_tables(spark, databases), databases)
    report = CatalogReport(plan)
    for statement in plan.statements:
        try:
            spark.sql(statement)
        except PySparkException as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            report.failures.append(f"{statement}: {first_line}")
    return report
