"""A headless Chromium for browser tests: Debian's `chromium` + `chromium-driver`, no network.

`ensure_chromium()` installs the two packages with apt-get when they are missing (the test
machines run as root), and `headless_chromium()` starts a WebDriver on them with the driver
path given explicitly, so Selenium Manager never runs (it would try to download a browser).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from tests.support.apt import PackageSetupError, ensure_debian_packages, installed

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
DEBIAN_PACKAGES = ("chromium", "chromium-driver")
WINDOW_SIZE = (1280, 1800)


class BrowserSetupError(PackageSetupError):
    """Chromium or chromedriver is missing and could not be installed."""


def chromium_installed() -> bool:
    return installed((CHROMIUM, CHROMEDRIVER))


def ensure_chromium() -> None:
    """Install Debian's chromium and chromium-driver unless both are already there."""
    ensure_debian_packages(DEBIAN_PACKAGES, (CHROMIUM, CHROMEDRIVER), error=BrowserSetupError)


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
