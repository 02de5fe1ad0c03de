"""Debian packages that tests need, installed with apt-get when they are missing.

The test machines run as root, so a missing tool (Chromium for the browser tests, promtool
and amtool for the alert rules) is installed on first use instead of being a manual step:
`ensure_debian_packages(packages, executables)` does nothing when every executable is
already there, and otherwise runs one `apt-get update` per process and `apt-get install`.
Anything that stops it (no apt-get, not root, apt-get failing) is one clear error.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

# Two test sessions must not run apt-get at the same time; dpkg's own lock makes the second
# one fail instead of waiting, so they queue on this file first (and then dpkg waits too).
INSTALL_LOCK = Path("/tmp/condolake-apt-install.lock")
APT_TIMEOUT_S = 900
DPKG_LOCK_WAIT_S = 300
OUTPUT_TAIL_CHARS = 2000

_updated = False  # `apt-get update` ran in this process: once is enough


class PackageSetupError(RuntimeError):
    """A Debian package a test needs is missing and could not be installed."""


def installed(executables: Sequence[Path]) -> bool:
    return all(path.is_file() and os.access(path, os.X_OK) for path in executables)


def _apt_get(error: type[PackageSetupError], packages: Sequence[str], *args: str) -> None:
    command = ["apt-get", "-o", f"DPkg::Lock::Timeout={DPKG_LOCK_WAIT_S}", *args]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(command, env=environment, capture_output=True, text=True,
                              timeout=APT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as failure:
        raise error(f"`{' '.join(command)}` could not run: {failure}") from failure
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-OUTPUT_TAIL_CHARS:]
        raise error(
            f"`{' '.join(command)}` failed with exit code {done.returncode}; install "
            f"{' and '.join(packages)} by hand (as root). Output:\n{output}"
        )


def ensure_debian_packages(
    packages: Sequence[str],
    executables: Sequence[Path],
    *,
    error: type[PackageSetupError] = PackageSetupError,
) -> None:
    """Install the Debian `packages` unless every one of `executables` is already there.

    Raises `error` (a PackageSetupError) with what to do by hand when they cannot be installed.
    """
    global _updated
    if installed(executables):
        return
    missing = " or ".join(str(path) for path in executables)
    if shutil.which("apt-get") is None:
        raise error(
            f"{missing} is missing and apt-get is not available: install "
            f"{' and '.join(packages)} (or whatever provides those paths on this system)"
        )
    if os.geteuid() != 0:
        raise error(
            f"{missing} is missing: run `sudo apt-get install -y {' '.join(packages)}` "
            f"(the tests install them only when run as root)"
        )
    with INSTALL_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed(executables):  # another session installed them while we waited
            return
        if not _updated:
            _apt_get(error, packages, "update")
            _updated = True
        _apt_get(error, packages, "install", "-y", "--no-install-recommends", *packages)
    if not installed(executables):
        raise error(
            f"apt-get installed {' '.join(packages)} but {missing} is still missing"
        )
