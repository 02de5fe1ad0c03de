from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from condolake.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every leaf command of the parser, walked from its sub-parsers (none can be forgotten)."""
    found: list[list[str]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _commands(child, (*prefix, name)) or [[*prefix, name]]
    return found


COMMANDS = _commands(build_parser())


def test_every_documented_command_is_found() -> None:
    for command in (["batch"], ["serve", "sql"], ["stream", "reset"]):
        assert command in COMMANDS


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
    assert "condolake: error: unknown query 'kafka_gold'; the queries are kafka, landing " \
        "(or 'all')" in err


def test_unknown_table_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "csv", "x.csv", "--table", "pessoas"]) == 1
    assert "unknown table 'pessoas'" in capsys.readouterr().err


def test_python_dash_m_condolake_is_the_same_command_line() -> None:
    done = subprocess.run([sys.executable, "-m", "condolake", "--help"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: condolake")
