"""oha, the serving benchmark's load generator: the command line the benchmark builds, its JSON
summary and its per-request SQLite file, read on captured samples."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from benchmarks import oha
from benchmarks.serve_load import (
    FAILED_KIND,
    RoleLoad,
    outcomes_of,
    role_plan,
    url_pool,
)
from benchmarks.serve_mix import Request
from benchmarks.serve_model import CONNECTION_FAILED, Outcome
from benchmarks.stream_run import BenchmarkError

DATA = Path(__file__).parent / "data"


def test_load_command_is_closed_loop_json_from_a_url_file(tmp_path: Path) -> None:
    command = oha.load_command(Path("/c/oha"), tmp_path / "urls-admin.txt", connections=25,
                               duration_s=30.0, header="X-API-Key: k", db=tmp_path / "r.db")
    assert command == [
        "/c/oha", "--no-tui", "--output-format", "json", "--urls-from-file",
        "-c", "25", "-z", "30000ms", "-w", "-t", "30000ms", "-H", "X-API-Key: k",
        "--db-url", str(tmp_path / "r.db"), str(tmp_path / "urls-admin.txt"),
    ]


def test_load_command_without_a_database_and_with_a_fraction_of_a_second() -> None:
    command = oha.load_command(Path("oha"), Path("u.txt"), connections=1, duration_s=2.5,
                               header="X-API-Key: k")
    assert "--db-url" not in command
    assert command[command.index("-z") + 1] == "2500ms"


def test_install_command_pins_the_version(tmp_path: Path) -> None:
    assert oha.install_command("cargo", tmp_path) == [
        "cargo", "install", "oha", "--version", oha.OHA_VERSION, "--locked",
        "--root", str(tmp_path)]


def test_the_binary_lives_in_the_per_user_cache(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert oha.oha_binary() == tmp_path / "condolake" / f"oha-{oha.OHA_VERSION}" / "bin" / "oha"


def test_an_installed_oha_is_not_built_again(tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=oha.__name__)
    binary = oha.oha_binary(tmp_path)
    binary.parent.mkdir(parents=True)
    binary.write_text("")
    assert oha.ensure_oha(tmp_path) == binary
    assert caplog.messages == []  # no "installing oha" step


def test_without_cargo_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setattr(oha.shutil, "which", lambda _: None)
    with pytest.raises(BenchmarkError, match="cargo"):
        oha.ensure_oha(tmp_path)


def _captured(name: str) -> oha.OhaSummary:
    """Printed by oha 1.16.0 with the benchmark's options, against `python -m http.server`
    (answered: URLs `/` and `/missing?x=1`, 2 connections, 1 s) and a closed port (refused)."""
    return oha.parse_summary((DATA / f"oha-1.16.0-{name}.json").read_text(encoding="utf-8"))


def test_summary_of_a_captured_run_with_answers() -> None:
    summary = _captured("answered")
    assert summary.total_s == pytest.approx(1.003874907)
    assert summary.requests_per_s == pytest.approx(845.7229024054091)
    assert summary.statuses == {200: 430, 404: 419}
    assert summary.errors == {}
    assert (summary.answered, summary.failed) == (849, 0)


def test_summary_of_a_captured_run_without_answers() -> None:
    summary = _captured("refused")
    assert summary.total_s == pytest.approx(0.302888066)
    assert summary.statuses == {}
    assert summary.errors == {"Connection refused (os error 111)": 5589}
    assert (summary.answered, summary.failed) == (0, 5589)


def test_summary_that_is_not_oha_json_is_a_benchmark_error() -> None:
    with pytest.raises(BenchmarkError, match="oha's JSON summary"):
        oha.parse_summary("Summary:\n  Success rate: 100.00%\n")
    with pytest.raises(BenchmarkError):
        oha.parse_summary('{"summary": {}}')


def _oha_db(path: Path, rows: list[tuple[str, float, int]]) -> Path:
    """A file with the table `oha --db-url` writes (oha 1.16 src/db.rs)."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE oha (url TEXT NOT NULL, start REAL NOT NULL, "
                     "start_latency_correction REAL, end REAL NOT NULL, duration REAL NOT NULL, "
                     "status INTEGER NOT NULL, len_bytes INTEGER NOT NULL, run INTEGER NOT NULL)")
        conn.executemany("INSERT INTO oha VALUES (?, ?, NULL, ?, ?, ?, 100, 1)",
                         [(url, index, index + seconds, seconds, status)
                          for index, (url, seconds, status) in enumerate(rows)])
    return path


def test_answers_read_from_the_database_keep_path_and_query(tmp_path: Path) -> None:
    # oha 1.16 stores the request's URI: path and query on HTTP/1.1 (absolute URLs read too).
    db = _oha_db(tmp_path / "r.db", [("/v1/tipos", 0.002, 200),
                                     ("http://127.0.0.1:8000/v1/moradores?limit=20", 0.5, 503)])
    assert oha.read_answers(db) == [oha.Answered("/v1/tipos", 200, 0.002),
                                    oha.Answered("/v1/moradores?limit=20", 503, 0.5)]


def test_outcomes_take_the_kind_from_the_url_and_count_failed_requests() -> None:
    answers = [oha.Answered("/v1/tipos", 200, 0.002), oha.Answered("/v1/x?a=1", 503, 0.5)]
    failed = oha.OhaSummary(1.0, 2.0, {200: 1, 503: 1}, {"connection reset": 2})
    outcomes, first_error = outcomes_of(answers, {"/v1/tipos": "tipos", "/v1/x?a=1": "x"},
                                        [failed])
    assert outcomes == [Outcome("tipos", 200, 0.002), Outcome("x", 503, 0.5),
                        Outcome(FAILED_KIND, CONNECTION_FAILED, 0.0),
                        Outcome(FAILED_KIND, CONNECTION_FAILED, 0.0)]
    assert first_error == "/v1/x?a=1 -> 503"
    only_failed = oha.OhaSummary(1.0, 0.0, {}, {"connection refused": 1})
    assert outcomes_of([], {}, [only_failed])[1] == "connection refused"


def test_clients_are_split_between_the_keys_or_the_keys_take_turns() -> None:
    assert role_plan(5, ["admin", "analista"]) == [[RoleLoad("admin", 3),
                                                    RoleLoad("analista", 2)]]
    assert role_plan(1, ["admin", "analista"]) == [[RoleLoad("admin", 1)],
                                                   [RoleLoad("analista", 1)]]


def test_url_pool_groups_each_clients_first_requests_by_role() -> None:
    def stream(client: int):  # type: ignore[no-untyped-def]
        index = 0
        while True:
            yield Request("tipos", ("admin", "analista")[index % 2], (("c", str(client)),))
            index += 1

    pool = url_pool(stream, 2, per_client=3)
    assert list(pool) == ["admin", "analista"]
    assert [r.param_map["c"] for r in pool["admin"]] == ["0", "0", "1", "1"]
    assert [r.param_map["c"] for r in pool["analista"]] == ["0", "1"]
