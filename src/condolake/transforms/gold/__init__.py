"""Gold marts: one pure function per table, named for what it produces."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

# Sums of decimal(15,2) are decimal(25,2) in Spark; "no transactions" is that type's zero.
GOLD_MONEY_TYPE = "decimal(25,2)"


def zero_brl() -> Column:
    """Exact decimal zero (a function: a Column needs a running session)."""
    return F.lit(0).cast(GOLD_MONEY_TYPE)
