"""What the change data capture benchmark reads back from files: the micro-batches' end
offsets in a checkpoint, the gold sets published while it polls."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.cdc_latency import PublishedSet
from benchmarks.cdc_measure import GoldSetPoller, batch_end_offsets
from condolake.lake.gold_set import publish
from condolake.layout import checkpoint_path

TOPIC = "condomanage.public.transacoes"


def offsets_file(ends: dict[str, dict[str, int]]) -> str:
    metadata = {"batchWatermarkMs": 0, "batchTimestampMs": 1_765_000_000_000, "conf": {}}
    return "\n".join(["v1", json.dumps(metadata), json.dumps(ends)])


def test_batch_end_offsets_come_from_the_checkpoint_offsets_files(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    folder = Path(checkpoint_path(lake, "kafka")) / "offsets"
    folder.mkdir(parents=True)
    (folder / "0").write_text(offsets_file({TOPIC: {"0": 3, "1": 0}}))
    (folder / "1").write_text(offsets_file({TOPIC: {"0": 7, "1": 2}}))
    (folder / ".1.crc").write_text("ignored")
    assert batch_end_offsets(lake, "kafka") == {
        0: {(TOPIC, 0): 3, (TOPIC, 1): 0}, 1: {(TOPIC, 0): 7, (TOPIC, 1): 2}}
    assert batch_end_offsets(str(tmp_path / "other"), "kafka") == {}


def test_the_poller_keeps_each_set_it_saw_with_its_own_publish_time(tmp_path: Path) -> None:
    lake = str(tmp_path / "lake")
    (tmp_path / "lake" / "gold").mkdir(parents=True)
    poller = GoldSetPoller(lake)
    with poller.running():
        first = publish(lake, "stream-kafka-ab-00000001", {"mart": 1}, {"transacoes": 3})
    second = publish(lake, "stream-kafka-ab-00000002", {"mart": 2}, {"transacoes": 4})
    assert poller.seen[1] == PublishedSet(1, "stream-kafka-ab-00000001",
                                          first.published_at.timestamp())
    assert 2 not in poller.seen and second.number == 2


def test_the_workload_comes_from_the_generators_stats_file() -> None:
    from benchmarks.cdc import CdcParams, _workload
    from condolake.source.simulator import SimulationStats

    stats = SimulationStats(events=9, transactions=4, seconds=2.0)
    stats.changes["transacoes"].update(c=6, u=2, d=1)
    stats.changes["moradores"]["c"] = 1
    first_rule = next(iter(stats.invalid_rows["transacoes"]))
    stats.invalid_rows["transacoes"][first_rule] = 2
    document = json.loads(json.dumps(stats.to_dict()))  # as `condolake simulate` writes it
    workload = _workload(CdcParams(0.01, 1000.0, 60.0, 2.0, 42), document)
    assert (workload.events, workload.rows, workload.transactions, workload.invalid_rows,
            workload.seconds, workload.rows_per_s) == (9, 10, 4, 2, 2.0, 5.0)
