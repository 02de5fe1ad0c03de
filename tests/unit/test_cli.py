from __future__ import annotations

import subprocess
import sys

import pytest
from typer.core import TyperGroup

from condolake.cli import command_tree, main


def _commands(group: TyperGroup, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every command of the tree, walked from its groups (none can be forgotten). A group
    that runs on its own (`serve`) is a command too, like its subcommands."""
    found: list[list[str]] = []
    for name, child in group.commands.items():
        path = [*prefix, name]
        if isinstance(child, TyperGroup):
            if child.invoke_without_command:
                found.append(path)
            found += _commands(child, tuple(path))
        else:
            found.append(path)
    return found


COMMANDS = _commands(command_tree())


def test_every_documented_command_is_found() -> None:
    for command in (["batch"], ["serve"], ["serve", "sql"], ["stream", "reset"]):
        assert command in COMMANDS


def test_benchmarks_are_not_in_the_command_line() -> None:
    assert not any(command[0] == "bench" for command in COMMANDS)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    assert "usage: condolake" in capsys.readouterr().out


def test_shell_completion_is_available(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--install-completion" in out and "--show-completion" in out


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["source"]) == 2
    assert "usage: condolake source" in capsys.readouterr().err


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


@pytest.mark.parametrize("module", ["condolake", "condolake.cli"])
def test_python_dash_m_condolake_is_the_same_command_line(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: condolake")


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from condolake.app import jobs

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs, "show", interrupted)
    assert main(["show"]) == 130
    err = capsys.readouterr().err
    assert "condolake: error: interrupted" in err and "Traceback" not in err


def test_serve_port_given_before_sql_is_the_sql_port(monkeypatch: pytest.MonkeyPatch) -> None:
    from condolake import cli
    from condolake.config import Settings
    from condolake.serving import sql_endpoint

    monkeypatch.setattr(cli, "load_settings", lambda: Settings(serve_host="127.0.0.1"))
    ports: list[tuple[str, int]] = []
    monkeypatch.setattr(sql_endpoint, "run_sql_endpoint",
                        lambda settings, host, port: ports.append((host, port)))
    assert main(["serve", "--port", "9001", "sql"]) == 0
    assert main(["serve", "sql", "--host", "0.0.0.0", "--port", "9002"]) == 0
    assert ports == [("127.0.0.1", 9001), ("0.0.0.0", 9002)]
