"""Delta commits written by hand for tests: a table's log without Spark or data files.

The versions of a log are contiguous from 0 (any reader refuses a gap), so `commit` writes the
missing earlier ones too; version 0 carries the protocol and the table's metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA = {"type": "struct", "fields": [
    {"name": "id", "type": "long", "nullable": True, "metadata": {}}]}


def commit(table_dir: Path, version: int, millis: int | None) -> Path:
    """Commit file `version` (its commitInfo.timestamp `millis`, none when None), after the
    earlier versions that are not there yet (same timestamp)."""
    log = table_dir / "_delta_log"
    log.mkdir(parents=True, exist_ok=True)
    for earlier in range(version):
        if not _path(log, earlier).exists():
            _write(log, earlier, millis)
    return _write(log, version, millis)


def _path(log: Path, version: int) -> Path:
    return log / f"{version:020d}.json"


def _write(log: Path, version: int, millis: int | None) -> Path:
    actions: list[dict[str, Any]] = []
    if millis is not None:
        actions.append({"commitInfo": {"timestamp": millis, "operation": "WRITE"}})
    if version == 0:
        actions.append({"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}})
        actions.append({"metaData": {
            "id": "00000000-0000-0000-0000-000000000000",
            "format": {"provider": "parquet", "options": {}},
            "schemaString": json.dumps(SCHEMA), "partitionColumns": [], "configuration": {},
            "createdTime": millis or 0}})
    actions.append({"add": {"path": f"part-{version}.parquet", "size": 1, "partitionValues": {},
                            "modificationTime": millis or 0, "dataChange": True}})
    path = _path(log, version)
    path.write_text("\n".join(json.dumps(action) for action in actions) + "\n", encoding="utf-8")
    return path
