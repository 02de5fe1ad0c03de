"""A headless Chromium for browser tests: Debian's `chromium` + `chromium-driver`, no network.

`ensure_chromium()` installs the two packages with apt-get when they are missing (the test
machines run as root), and `headless_chromium()` starts a WebDriver on them with the driver
path given explicitly, so Selenium Manager never runs (it would try to download a browser).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DEBIAN_PACKAGES = ("chromium", "chromium-driver")
# Two test sessions must not run apt-get at the same time; dpkg's own lock makes the second
# one fail instead of waiting, so they queue on this file first.
INSTALL_LOCK = Path("/tmp/condolake-chromium-install.lock")
APT_TIMEOUT_S = 900
DPKG_LOCK_WAIT_S = 300
OUTPUT_TAIL_CHARS = 2000
WINDOW_SIZE = (1280, 1800)


class BrowserSetupError(RuntimeError):
    """Chromium or chromedriver is missing and could not be installed."""


def chromium_installed() -> bool:
    return all(path.is_file() and os.access(path, os.X_OK) for path in (CHROMIUM, CHROMEDRIVER))


def _apt_get(*args: str) -> None:
    command = ["apt-get", "-o", f"DPkg::Lock::Timeout={DPKG_LOCK_WAIT_S}", *args]
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(command, env=environment, capture_output=True, text=True,
                              timeout=APT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BrowserSetupError(f"`{' '.join(command)}` could not run: {error}") from error
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-OUTPUT_TAIL_CHARS:]
        raise BrowserSetupError(
            f"`{' '.join(command)}` failed with exit code {done.returncode}; install "
            f"{' and '.join(DEBIAN_PACKAGES)} by hand (as root). Output:\n{output}"
        )


def ensure_chromium() -> None:
    """Install Debian's chromium and chromium-driver unless both are already there."""
    if chromium_installed():
        return
    if shutil.which("apt-get") is None:
        raise BrowserSetupError(
            f"{CHROMIUM} or {CHROMEDRIVER} is missing and apt-get is not available: install "
            f"Chromium and a matching chromedriver at those paths"
        )
    if os.geteuid() != 0:
        raise BrowserSetupError(
            f"{CHROMIUM} or {CHROMEDRIVER} is missing: run `sudo apt-get install -y "
            f"{' '.join(DEBIAN_PACKAGES)}` (the tests install them only when run as root)"
        )
    with INSTALL_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if chromium_installed():  # another session installed them while we waited
            return
        _apt_get("update")
        _apt_get("install", "-y", "--no-install-recommends", *DEBIAN_PACKAGES)
    if not chromium_installed():
        raise BrowserSetupError(
            f"apt-get installed {' '.join(DEBIAN_PACKAGES)} but {CHROMIUM} or {CHROMEDRIVER} "
            f"is still missing"
        )


def chromium_options() -> Options:
    options = Options()
    options.binary_location = str(CHROMIUM)
    width, height = WINDOW_SIZE
    for argument in (
        "--headless=new",
        "--no-sandbox",  # Chromium refuses to sandbox as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-extensions",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--lang=pt-BR",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    return options


@contextmanager
def headless_chromium() -> Iterator[webdriver.Chrome]:
    """A headless Chromium WebDriver (installed first if needed), quit on exit."""
    ensure_chromium()
    driver = webdriver.Chrome(options=chromium_options(),
                              service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()
