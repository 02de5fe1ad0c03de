"""`python -m benchmarks`: the same sub-commands and options as the old `condolake bench`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from benchmarks import cli

ROOT = Path(__file__).resolve().parents[3]

OPTIONS = {
    "batch": ["--scale", "--seed", "--output"],
    "stream": ["--scale", "--events", "--rate", "--duration", "--trigger", "--seed", "--output"],
    "serve": ["--scale", "--clients", "--duration", "--seed", "--output"],
    "cdc": ["--scale", "--rate", "--seconds", "--trigger", "--seed", "--output"],
}


@pytest.mark.parametrize("command", sorted(OPTIONS))
def test_every_command_has_its_options(command: str) -> None:
    result = CliRunner().invoke(cli.app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    for option in OPTIONS[command]:
        assert option in result.output


def test_options_reach_the_benchmark(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import benchmarks.serve

    seen: dict[str, object] = {}
    monkeypatch.setattr(cli, "load_settings", lambda: "settings")
    monkeypatch.setattr(benchmarks.serve, "run_serve_benchmark",
                        lambda settings, **options: seen.update(options, settings=settings))
    result = CliRunner().invoke(cli.app, ["serve", "--scale", "0.01", "--clients", "2",
                                          "--duration", "1", "--output", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert seen["settings"] == "settings"
    assert (seen["scale"], seen["clients"], seen["duration_s"], seen["seed"]) == (0.01, 2, 1.0, 42)
    assert seen["output_dir"] == tmp_path


def test_cdc_defaults_and_options_reach_the_benchmark(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    import benchmarks.cdc

    seen: list[dict[str, object]] = []
    monkeypatch.setattr(cli, "load_settings", lambda: "settings")
    monkeypatch.setattr(benchmarks.cdc, "run_cdc_benchmark",
                        lambda settings, **options: seen.append(options))
    assert CliRunner().invoke(cli.app, ["cdc"]).exit_code == 0
    assert CliRunner().invoke(cli.app, ["cdc", "--seconds", "15", "--rate", "500", "--trigger",
                                        "1", "--scale", "0.002", "--seed", "7", "--output",
                                        str(tmp_path)]).exit_code == 0
    assert seen == [
        {"scale": 0.01, "rate": 1000.0, "seconds": 60.0, "trigger_s": 2.0, "seed": 42,
         "output_dir": cli.RESULTS},
        {"scale": 0.002, "rate": 500.0, "seconds": 15.0, "trigger_s": 1.0, "seed": 7,
         "output_dir": tmp_path},
    ]


def test_a_condolake_error_is_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import benchmarks.batch
    from condolake.errors import ConfigError

    def fail(settings: object, **options: object) -> None:
        raise ConfigError("no source")

    monkeypatch.setattr(cli, "load_settings", lambda: "settings")
    monkeypatch.setattr(benchmarks.batch, "run_batch_benchmark", fail)
    assert CliRunner().invoke(cli.app, ["batch"]).exit_code == 1


def test_python_dash_m_benchmarks_runs_from_the_project_root() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--help"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout


def test_run_script_documents_bench_below_the_two_entry_points() -> None:
    done = subprocess.run([str(ROOT / "run"), "--help"], capture_output=True, text=True,
                          check=True)
    lines = done.stdout.splitlines()
    assert lines[1].strip().startswith("./run demo")
    assert lines[2].strip().startswith("./run tests")
    assert any(line.strip().startswith("./run bench") for line in lines[3:])
