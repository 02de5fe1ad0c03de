"""What a batch benchmark measured, as plain data (measured in `batch`, rendered in `report`)."""

from __future__ import annotations

from dataclasses import dataclass, field

# The targets the lead set: Spark's JDBC extract within 3x a plain binary COPY of the same rows,
# the whole `condolake batch` within 10x DuckDB computing the same gold tables.
JDBC_VS_COPY_TARGET = 3.0
BATCH_VS_DUCKDB_TARGET = 10.0
# A re-run costs in proportion to what changed: with nothing new at most this share of the
# full first load, after 1 % new transactions at most that one.
RERUN_VS_FULL_TARGET = 0.10
INCREMENTAL_VS_FULL_TARGET = 0.15
INCREMENTAL_SHARE = 0.01


Load = tuple[float, float, float]  # 1, 5 and 15 minute load averages


@dataclass(frozen=True)
class Machine:
    cpu_count: int
    cpu_model: str
    ram_gib: float
    load_before: tuple[float, float, float]  # 1, 5 and 15 minute load averages
    load_after: tuple[float, float, float]


@dataclass(frozen=True)
class Versions:
    python: str
    pyspark: str
    delta_spark: str
    duckdb: str
    postgresql: str
    java: str


@dataclass(frozen=True)
class TableRows:
    table: str
    rows: int  # generated in the source
    invalid: int  # of which spoiled on purpose
    valid_in_silver: int  # what the Spark batch kept


@dataclass(frozen=True)
class Timing:
    """Repeated runs of one measurement; `seconds` is the best of them."""

    runs: tuple[float, ...]

    @property
    def seconds(self) -> float:
        return min(self.runs)

    def describe(self) -> str:
        if len(self.runs) == 1:
            return "1 run"
        shown = ", ".join(f"{run:.2f}" for run in self.runs)
        return f"best of {len(self.runs)} ({shown})"


@dataclass(frozen=True)
class Stage:
    """One step of the Spark batch, derived from the stage records it logs."""

    name: str
    group: str  # extract, silver, gold or overhead
    seconds: float


@dataclass(frozen=True)
class GoldCheck:
    """DuckDB's gold table against the one the Spark batch wrote."""

    table: str
    duckdb_rows: int
    spark_rows: int
    differing_rows: int | None  # None: could not be compared


@dataclass(frozen=True)
class SparkSetup:
    master: str
    driver_memory: str
    shuffle_partitions: int
    jdbc_partitions: int
    jdbc_fetchsize: int


@dataclass(frozen=True)
class BatchBenchmark:
    scale: float
    seed: int
    started_at: str  # local time, ISO 8601, seconds
    machine: Machine
    versions: Versions
    spark: SparkSetup
    tables: tuple[TableRows, ...]
    generation_s: float
    vacuum_analyze_s: float
    copy: Timing
    copy_bytes: int
    duckdb: Timing
    spark_start_s: float
    batch_s: float
    stages: tuple[Stage, ...]
    jdbc_extract_s: float  # first "reading" message -> end of the last bronze write
    jdbc_extract_loose_s: float  # first "reading" -> first "<table>: N read" message
    jdbc_read: Timing  # the JDBC read alone into a no-op sink, after the batch (warm JVM)
    gold: tuple[GoldCheck, ...]
    rerun_s: float  # `condolake batch` again right after, with no change in the source
    incremental_s: float  # and once more after INCREMENTAL_SHARE new transacoes
    incremental_rows: int  # the transacoes appended before the incremental run
    notes: tuple[str, ...] = field(default=())

    @property
    def jdbc_vs_copy(self) -> float:
        return ratio(self.jdbc_extract_s, self.copy.seconds)

    @property
    def jdbc_loose_vs_copy(self) -> float:
        return ratio(self.jdbc_extract_loose_s, self.copy.seconds)

    @property
    def jdbc_read_vs_copy(self) -> float:
        return ratio(self.jdbc_read.seconds, self.copy.seconds)

    @property
    def batch_vs_duckdb(self) -> float:
        return ratio(self.batch_s, self.duckdb.seconds)

    @property
    def rerun_vs_full(self) -> float:
        return ratio(self.rerun_s, self.batch_s)

    @property
    def incremental_vs_full(self) -> float:
        return ratio(self.incremental_s, self.batch_s)


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator > 0 else float("inf")
