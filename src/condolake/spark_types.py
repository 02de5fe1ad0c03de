"""Spark types from short SQL names, without a running SparkSession.

pyspark's own DDL parser needs a live session; schemas here are module constants.
"""

from __future__ import annotations

import re

from pyspark.sql.types import (
    ArrayType,
    BooleanType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

_SIMPLE: dict[str, DataType] = {
    "int": IntegerType(),
    "integer": IntegerType(),
    "long": LongType(),
    "bigint": LongType(),
    "string": StringType(),
    "date": DateType(),
    "timestamp": TimestampType(),
    "double": DoubleType(),
    "boolean": BooleanType(),
}
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_ARRAY = re.compile(r"^array<(.+)>$")


def spark_type(sql_type: str) -> DataType:
    name = sql_type.strip().lower()
    if name in _SIMPLE:
        return _SIMPLE[name]
    if match := _DECIMAL.match(name):
        return DecimalType(int(match.group(1)), int(match.group(2)))
    if match := _ARRAY.match(name):
        return ArrayType(spark_type(match.group(1)), True)
    raise ValueError(f"unsupported type {sql_type!r}")


def _split_top_level(spec: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in spec:
        if char in "(<":
            depth += 1
        elif char in ")>":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def struct(spec: str) -> StructType:
    """`"a: int, b: decimal(15,2)"` (or `"a int, …"`) as a StructType of nullable fields."""
    fields = []
    for part in _split_top_level(spec):
        name, _, type_name = part.replace(":", " ", 1).partition(" ")
        fields.append(StructField(name.strip(), spark_type(type_name), True))
    return StructType(fields)
