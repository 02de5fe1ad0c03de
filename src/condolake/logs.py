"""Progress goes through `logging`: each module logs on `logging.getLogger(__name__)`, under
the `condolake` logger. The batch marks its stages with structured fields on those records,
`extra=stage_fields(...)`, which the benchmarks read from the records (not from the text).
"""

from __future__ import annotations

import logging
from enum import StrEnum

# Attributes that `stage_fields` puts on a log record.
STAGE_ATTRIBUTE = "stage"
TABLE_ATTRIBUTE = "table"
SECONDS_ATTRIBUTE = "seconds"


class Stage(StrEnum):
    """A point of a run a record marks."""

    RUN = "run"  # the run id was made; the lake checkpoint and watermark lookup follow
    EXTRACT = "extract"  # a JDBC read -> bronze of `table` starts
    SILVER = "silver"  # the validate + silver load of `table` ended, after `seconds`
    GOLD = "gold"  # gold mart `table` was written


def stage_fields(stage: Stage, table: str | None = None,
                 seconds: float | None = None) -> dict[str, object]:
    """The `extra` of a record that marks `stage`."""
    return {STAGE_ATTRIBUTE: stage.value, TABLE_ATTRIBUTE: table, SECONDS_ATTRIBUTE: seconds}


def record_stage(record: logging.LogRecord) -> str | None:
    """The stage a record marks, if any."""
    stage = getattr(record, STAGE_ATTRIBUTE, None)
    return stage if isinstance(stage, str) else None
