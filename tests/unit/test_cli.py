from __future__ import annotations

import pytest

from condolake.cli import build_parser, main

COMMANDS = [
    ["setup"], ["config"], ["source", "init"], ["source", "generate"], ["source", "start"],
    ["source", "stop"], ["source", "append"], ["source", "export-csv"], ["source", "api-serve"],
    ["ingest", "postgres"], ["ingest", "csv"], ["ingest", "api"], ["transform"], ["batch"],
    ["show"], ["demo"], ["bench", "batch"], ["cluster", "start"], ["cluster", "stop"],
    ["cluster", "status"], ["broker", "start"], ["broker", "stop"], ["broker", "status"],
    ["simulate"], ["stream", "start"], ["stream", "status"], ["stream", "reset"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: condolake" in capsys.readouterr().out


def test_config_error_is_one_readable_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONDOLAKE_JDBC_PARTITIONS", "lots")
    assert main(["config"]) == 1
    err = capsys.readouterr().err
    assert "condolake: error: CONDOLAKE_JDBC_PARTITIONS='lots' is not a valid int" in err
    assert "Traceback" not in err


def test_unknown_stream_query_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stream", "reset", "kafka_gold"]) == 1
    err = capsys.readouterr().err
    assert "condolake: error: unknown query 'kafka_gold'; the queries are kafka_bronze, " \
        "kafka_silver, landing_silver, silver_gold (or 'all')" in err


def test_unknown_table_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "csv", "x.csv", "--table", "pessoas"]) == 1
    assert "unknown table 'pessoas'" in capsys.readouterr().err
