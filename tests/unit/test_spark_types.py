from __future__ import annotations

import pytest
from pyspark.sql.types import ArrayType, DecimalType, IntegerType, StringType, StructField

from condolake.spark_types import spark_type, struct


def test_struct_with_decimal_and_array() -> None:
    schema = struct("a: int, b: decimal(15,2), c array<string>")
    assert list(schema.fields) == [
        StructField("a", IntegerType(), True),
        StructField("b", DecimalType(15, 2), True),
        StructField("c", ArrayType(StringType(), True), True),
    ]


def test_unknown_type() -> None:
    with pytest.raises(ValueError, match="unsupported type 'money'"):
        spark_type("money")
