"""The maintenance plan: tables found, retention checked, orphan checkpoints, positions rule."""

from __future__ import annotations

import datetime as dt

import pytest

from condolake.cli import command_tree, main
from condolake.errors import ConfigError
from condolake.layout import Layer
from condolake.pipelines.maintenance_plan import (
    LakeTable,
    PositionsRule,
    RetentionError,
    lake_tables,
    make_plan,
    orphan_checkpoints,
    positions_rule,
    retention_hours,
)

PLANNED_AT = dt.datetime(2026, 11, 26, 5, 0, tzinfo=dt.UTC)
BEFORE = PLANNED_AT - dt.timedelta(days=30)
TABLES = ("condominios", "moradores", "imoveis", "transacoes")
LISTING = {
    "silver": {"transacoes": ["_delta_log", "part-0.parquet"], "condominios": ["_delta_log"],
               "scratch": ["notes.txt"]},
    "bronze": {"condominios": ["_delta_log", "_change_data"]},
    "ops": {"runs": ["_delta_log"], "change_positions": ["_delta_log"]},
    "_checkpoints": {"kafka_silver": ["offsets", "commits"]},
    "tmp": {"x": ["_delta_log"]},
}


class TestRetention:
    def test_default_comes_from_the_setting(self) -> None:
        assert retention_hours(None, 168) == 168.0
        assert retention_hours(None, 720) == 720.0

    def test_requested_overrides_the_setting(self) -> None:
        assert retention_hours(200, 168) == 200.0

    def test_below_a_week_is_refused(self) -> None:
        with pytest.raises(RetentionError, match=r"VACUUM retention 167 h \(--retention-hours\) "
                                                 r"is below the safe minimum of 168 h"):
            retention_hours(167, 168)

    def test_a_low_setting_is_refused_too_and_named(self) -> None:
        with pytest.raises(RetentionError, match="CONDOLAKE_VACUUM_RETENTION_H"):
            retention_hours(None, 24)

    def test_is_a_config_error(self) -> None:
        assert issubclass(RetentionError, ConfigError)

    def test_unsafe_allows_zero_but_not_negative(self) -> None:
        assert retention_hours(0, 168, unsafe=True) == 0.0
        with pytest.raises(RetentionError, match="must not be negative"):
            retention_hours(-1, 168, unsafe=True)


def test_tables_are_folders_with_a_delta_log_in_known_layers_in_order() -> None:
    assert lake_tables(LISTING) == [
        LakeTable(Layer.BRONZE, "condominios"),
        LakeTable(Layer.SILVER, "condominios"),
        LakeTable(Layer.SILVER, "transacoes"),
        LakeTable(Layer.OPS, "change_positions"),
        LakeTable(Layer.OPS, "runs"),
    ]
    assert LakeTable(Layer.GOLD, "g").path("/lake/") == "/lake/gold/g"
    assert str(LakeTable(Layer.GOLD, "g")) == "gold/g"


def test_orphan_checkpoints_are_folders_of_unknown_queries() -> None:
    folders = ["kafka", "old_query", "landing", ".hidden", "kafka_v0", "silver_gold"]
    assert orphan_checkpoints(folders) == ["kafka_v0", "old_query", "silver_gold"]
    assert orphan_checkpoints(["kafka", "landing"]) == []


class TestPositionsRule:
    def test_sources_whose_query_has_a_checkpoint_are_kept(self) -> None:
        rule = positions_rule({"kafka", "silver_gold"}, False, PLANNED_AT)
        assert rule == PositionsRule(("kafka",), TABLES, PLANNED_AT)
        assert not rule.is_prunable("kafka", "imoveis", BEFORE)
        assert rule.is_prunable("landing", "imoveis", BEFORE)  # replays from the start
        assert rule.is_prunable("kafka", "gone_table", BEFORE)
        assert rule.is_prunable("other", "imoveis", BEFORE)

    def test_a_running_stream_keeps_every_known_source(self) -> None:
        rule = positions_rule(set(), True, PLANNED_AT)
        assert rule.keep_sources == ("kafka", "landing")
        assert not rule.is_prunable("landing", "imoveis", BEFORE)
        assert rule.is_prunable("other", "imoveis", BEFORE)

    def test_rows_updated_since_the_plan_or_without_time_are_kept(self) -> None:
        rule = positions_rule(set(), False, PLANNED_AT)
        assert rule.is_prunable("kafka", "imoveis", BEFORE)
        assert not rule.is_prunable("kafka", "imoveis", PLANNED_AT)
        assert not rule.is_prunable("kafka", "imoveis", None)

    def test_condition_states_the_same_rule_in_sql(self) -> None:
        rule = positions_rule({"kafka", "landing"}, False, PLANNED_AT)
        micros = int(PLANNED_AT.timestamp()) * 1_000_000
        assert rule.condition() == (
            "NOT (source IN ('kafka', 'landing') AND `table` IN ('condominios', 'moradores', "
            f"'imoveis', 'transacoes')) AND updated_at < timestamp_micros({micros})"
        )
        assert positions_rule(set(), False, PLANNED_AT).condition() == (
            f"NOT (false) AND updated_at < timestamp_micros({micros})")


def test_plan_names_everything_it_will_do() -> None:
    plan = make_plan(LISTING, ["kafka", "old_query"], retention_h=0,
                     unsafe_retention=True, stream_running=False, planned_at=PLANNED_AT,
                     positions_table="ops/change_positions")
    assert plan.orphan_checkpoints == ("old_query",)
    assert plan.positions == PositionsRule(("kafka",), TABLES, PLANNED_AT)
    assert plan.describe() == [
        "OPTIMIZE and VACUUM (retention 0 h, unsafe: tests only) 5 tables",
        "  bronze/condominios", "  silver/condominios", "  silver/transacoes",
        "  ops/change_positions", "  ops/runs",
        "remove checkpoints of queries that no longer exist: old_query",
        "ops/change_positions: keep the rows of sources whose query may need them (kafka), "
        "prune the rest",
    ]


def test_plan_without_positions_table_prunes_nothing() -> None:
    plan = make_plan({"gold": {"g": ["_delta_log"]}}, [], retention_h=168,
                     unsafe_retention=False, stream_running=False, planned_at=PLANNED_AT,
                     positions_table="ops/change_positions")
    assert plan.positions is None
    assert plan.describe() == [
        "OPTIMIZE and VACUUM (retention 168 h) 1 tables", "  gold/g",
        "remove checkpoints of queries that no longer exist: none",
        "ops/change_positions: no table, nothing to prune",
    ]


class TestCommandLine:
    def test_options(self) -> None:
        maintain = command_tree().commands["maintain"]
        args = maintain.make_context("maintain", ["--dry-run", "--retention-hours", "200"]).params
        assert (args["dry_run"], args["retention_hours"], args["unsafe_retention"]) == (
            True, 200.0, False)

    def test_unsafe_retention_is_hidden_from_help(self, capsys: pytest.CaptureFixture[str]
                                                  ) -> None:
        assert main(["maintain", "--help"]) == 0
        out = capsys.readouterr().out
        assert "--retention-hours" in out
        assert "unsafe" not in out

    def test_low_retention_fails_with_one_line_before_spark(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: object,
    ) -> None:
        monkeypatch.chdir(str(tmp_path))
        for name in ("CONDOLAKE_CONFIG", "CONDOLAKE_VACUUM_RETENTION_H"):
            monkeypatch.delenv(name, raising=False)
        assert main(["maintain", "--retention-hours", "24"]) == 1
        err = capsys.readouterr().err
        assert "VACUUM retention 24 h (--retention-hours) is below the safe minimum" in err
        assert "Traceback" not in err
