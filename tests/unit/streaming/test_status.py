"""`condolake stream status`: Kafka lag from a progress report, states from files."""

from __future__ import annotations

import json
import os
from pathlib import Path

from condolake.config import Settings
from condolake.layout import checkpoint_path
from condolake.streaming.status import last_committed_batch, read_states, reported_lag

TOPIC = "condomanage.public.transacoes"


def test_lag_sums_what_is_behind_the_end_of_each_partition() -> None:
    source = {
        "endOffset": json.dumps({TOPIC: {"0": 100, "1": 50}}),
        "latestOffset": json.dumps({TOPIC: {"0": 130, "1": 50}}),
    }
    assert reported_lag(source) == 30


def test_lag_is_unknown_for_a_source_without_offsets() -> None:
    assert reported_lag({"endOffset": None, "latestOffset": None}) is None
    assert reported_lag({"endOffset": "{\"logOffset\": 3}", "latestOffset": "not json"}) is None


def test_last_committed_batch_is_the_highest_commit_file(tmp_path: Path) -> None:
    (tmp_path / "commits").mkdir()
    for name in ("0", "1", "7", ".7.crc"):
        (tmp_path / "commits" / name).write_text("v1")
    assert last_committed_batch(tmp_path) == 7
    assert last_committed_batch(tmp_path / "missing") is None


def test_states_come_from_the_running_process_and_the_checkpoints(
    base_settings: Settings, tmp_path: Path,
) -> None:
    settings = base_settings.with_(state_dir=str(tmp_path / "state"),
                                   lake_root=str(tmp_path / "lake"))
    commits = Path(checkpoint_path(settings.lake_path, "kafka")) / "commits"
    commits.mkdir(parents=True)
    (commits / "4").write_text("v1")
    status = settings.state_path / "stream" / "status.json"
    status.parent.mkdir(parents=True)
    status.write_text(json.dumps({"pid": os.getpid(), "running": True, "queries": [
        {"name": "kafka", "state": "running", "last_batch": 4,
         "last_batch_at": "2026-11-26T01:00:00.000Z", "input_rows_per_s": 1500.0,
         "processed_rows_per_s": 1400.0, "lag": 12},
    ]}))
    alive, states = read_states(settings, ["kafka", "landing"])
    assert alive
    silver, gold = states
    assert (silver.state, silver.last_batch, silver.lag, silver.input_rows_per_s) == (
        "running", 4, 12, 1500.0)
    assert (gold.state, gold.last_batch, gold.lag) == ("never run", None, None)
