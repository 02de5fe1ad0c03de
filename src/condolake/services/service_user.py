"""Running an embedded server as an unprivileged system user when this process is root.

PostgreSQL's initdb and postgres refuse to run as root. When we are root, the server runs as a
dedicated system user instead (created once, without a home or a login shell); when we are not,
it runs as ourselves and nothing here changes any ownership or permission.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from condolake.errors import ServiceError

USERADD_TIMEOUT_S = 30


@dataclass(frozen=True)
class ServiceAccount:
    """The system user a server runs as (only used when this process is root)."""

    name: str
    uid: int
    gid: int


def service_account(name: str) -> ServiceAccount | None:
    """The system user `name` (created if missing) when we are root; None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        _create_system_user(name)
        entry = pwd.getpwnam(name)
    return ServiceAccount(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


def _create_system_user(name: str) -> None:
    command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=USERADD_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ServiceError(f"could not create system user {name!r}: {error}") from error
    # 9: the user appeared meanwhile (another process created it); that is fine.
    if done.returncode not in (0, 9):
        raise ServiceError(f"could not create system user {name!r}: {done.stderr.strip()}")


def make_traversable(path: Path, account: ServiceAccount) -> list[Path]:
    """Add o+x to `path` and each parent folder the account could not enter; return those.

    Only the missing search bit is added, for others; read and write permissions are untouched,
    so a 0700 folder becomes 0701: its listing stays private.
    """
    changed: list[Path] = []
    resolved = path.resolve()
    for folder in (resolved, *resolved.parents):
        mode = folder.stat()
        if _can_enter(mode, account):
            continue
        os.chmod(folder, stat.S_IMODE(mode.st_mode) | stat.S_IXOTH)
        changed.append(folder)
    return changed


def _can_enter(status: os.stat_result, account: ServiceAccount) -> bool:
    if status.st_uid == account.uid:
        return bool(status.st_mode & stat.S_IXUSR)
    if status.st_gid == account.gid:
        return bool(status.st_mode & stat.S_IXGRP)
    return bool(status.st_mode & stat.S_IXOTH)


def give_to(path: Path, account: ServiceAccount | None, *, recursive: bool = False) -> None:
    """Chown `path` (and, if asked, everything below it) to the account; no-op when not root."""
    if account is None:
        return
    os.chown(path, account.uid, account.gid)
    if not recursive or not path.is_dir():
        return
    for root, folders, files in os.walk(path):
        for name in (*folders, *files):
            os.chown(Path(root) / name, account.uid, account.gid, follow_symlinks=False)


def run_as(
    account: ServiceAccount | None,
    command: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    new_session: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run `command` as the account (or as ourselves), capturing its output as text."""
    return subprocess.run(
        command,
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        start_new_session=new_session,
        user=None if account is None else account.uid,
        group=None if account is None else account.gid,
        # Drop root's supplementary groups too, not only its uid and gid.
        extra_groups=None if account is None else [],
    )


def write_private(path: Path, text: str) -> None:
    """Write a new file readable by its owner only (mode 0600 from the start)."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
