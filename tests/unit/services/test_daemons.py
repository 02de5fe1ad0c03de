"""The shared daemon helper on a real child process (`sleep`), and the stop-signal helper."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from condolake.errors import ServiceError
from condolake.services import daemons
from condolake.services.daemons import Daemon, PidFile, Readiness
from condolake.services.stop_signals import stop_requests

SLEEPER = "import pathlib, time; pathlib.Path('ready').touch(); time.sleep(60)"
# Ignores SIGTERM, so only SIGKILL ends it.
STUBBORN = ("import pathlib, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "pathlib.Path('ready').touch(); time.sleep(60)")


def start(tmp_path: Path, code: str = SLEEPER) -> tuple[Daemon, subprocess.Popen[bytes]]:
    """The child, once it runs `code` (its handlers installed)."""
    child = daemons.launch("sleeper", [sys.executable, "-c", code], tmp_path / "out.log",
                           cwd=tmp_path)
    started = daemons.wait_for((tmp_path / "ready").exists, running=lambda: child.poll() is None,
                               timeout_s=30, poll_s=0.01)
    assert started is Readiness.READY
    return Daemon("sleeper", child.pid, "time.sleep"), child


def test_sigterm_stops_a_daemon_and_its_pid_is_then_not_alive(tmp_path: Path) -> None:
    daemon, child = start(tmp_path)
    assert daemons.alive(daemon) and daemons.running(daemon, child)
    left = daemons.stop([daemon], running=lambda d: daemons.running(d, child), grace_s=10,
                        kill_wait_s=5, poll_s=0.05)
    assert left == []
    assert child.returncode == -signal.SIGTERM
    assert not daemons.alive(daemon)


def test_a_daemon_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    daemon, child = start(tmp_path, STUBBORN)
    killed: list[str] = []
    left = daemons.stop([daemon], running=lambda d: daemons.running(d, child), grace_s=0.5,
                        kill_wait_s=5, poll_s=0.05,
                        on_kill=lambda ds: killed.extend(d.name for d in ds))
    assert (left, killed, child.returncode) == ([], ["sleeper"], -signal.SIGKILL)


def test_another_program_under_the_pid_is_not_our_daemon(tmp_path: Path) -> None:
    assert not daemons.alive(Daemon("x", os.getpid(), "org.example.NotThisProcess"))
    assert not daemons.alive(Daemon("x", 2**22 + 1, "anything"))  # above pid_max: no process


def test_wait_for_says_ready_exited_or_timed_out() -> None:
    assert daemons.wait_for(lambda: True, running=lambda: True, timeout_s=1,
                            poll_s=0.01) is Readiness.READY
    assert daemons.wait_for(lambda: True, running=lambda: False, timeout_s=1,
                            poll_s=0.01) is Readiness.EXITED
    assert daemons.wait_for(lambda: False, running=lambda: True, timeout_s=0.05,
                            poll_s=0.01) is Readiness.TIMED_OUT


def test_a_launch_that_cannot_start_is_a_service_error(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="could not start the ghost"):
        daemons.launch("ghost", [str(tmp_path / "missing")], tmp_path / "out.log", cwd=tmp_path)


def test_pid_file_and_log_tail(tmp_path: Path) -> None:
    pid_file = PidFile(tmp_path / "d.pid")
    assert pid_file.read() is None
    pid_file.write(1234)
    assert pid_file.read() == 1234
    pid_file.remove()
    assert pid_file.read() is None
    log = tmp_path / "d.log"
    assert daemons.log_tail(log, 2) == ""
    log.write_text("one\ntwo\nthree\n")
    assert daemons.log_tail(log, 2) == f"\n--- last lines of {log} ---\ntwo\nthree"


def test_a_stop_signal_only_sets_the_event_and_the_handler_is_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with stop_requests() as stopping:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stopping.wait(5)
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_second_stop_signal_interrupts_when_asked() -> None:
    with pytest.raises(KeyboardInterrupt), stop_requests(second_interrupts=True) as stopping:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stopping.wait(5)
        os.kill(os.getpid(), signal.SIGTERM)
        threading.Event().wait(5)  # the handler raises here


def test_off_the_main_thread_nothing_is_installed() -> None:
    seen: list[bool] = []

    def body() -> None:
        with stop_requests() as stopping:
            seen.append(stopping.is_set())

    before = signal.getsignal(signal.SIGTERM)
    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert seen == [False] and signal.getsignal(signal.SIGTERM) is before
