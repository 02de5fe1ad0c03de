"""API keys: parsing CONDOLAKE_SERVE_KEYS, hashing, roles and what each role may see.

An entry is `name:role:scope:sha256hex`. Keys are 32 random bytes (token_urlsafe), so a plain
SHA-256 is enough to store them; the plaintext is shown once by `new_key` and never kept.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from condolake.errors import ConfigError

ALL_CONDOMINIOS = "*"
KEY_BYTES = 32
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")
DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")
ENV_NAME = "CONDOLAKE_SERVE_KEYS"


class Role(StrEnum):
    ADMIN = "admin"
    ANALISTA = "analista"
    SINDICO = "sindico"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key holder's name, role and condominium scope (None: all)."""

    name: str
    role: Role
    condominio_id: int | None

    @property
    def masks_names(self) -> bool:
        """Analysts see residents' initials only."""
        return self.role is Role.ANALISTA

    @property
    def reads_daily(self) -> bool:
        """The daily-per-type mart aggregates every condominium: only unscoped keys read it."""
        return self.condominio_id is None and self.role is not Role.SINDICO

    def may_see(self, condominio_id: int) -> bool:
        return self.condominio_id is None or self.condominio_id == condominio_id


@dataclass(frozen=True)
class ApiKey:
    principal: Principal
    digest: bytes  # SHA-256 of the plaintext key


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _check_role_scope(role: Role, condominio_id: int | None) -> str | None:
    """The problem with a role/scope pair, or None when it is allowed."""
    if role is Role.ADMIN and condominio_id is not None:
        return "an admin key sees every condominium: its scope must be '*'"
    if role is Role.SINDICO and condominio_id is None:
        return "a sindico key needs a condominio_id as scope"
    if condominio_id is not None and condominio_id < 1:
        return "the condominio_id of a scope must be a positive integer"
    return None


def _parse_role(raw: str) -> Role | None:
    try:
        return Role(raw)
    except ValueError:
        return None


def _parse_entry(entry: str) -> ApiKey:
    """One `name:role:scope:sha256hex` entry; ValueError with the problem (never the hash)."""
    parts = entry.strip().split(":")
    if len(parts) != 4:
        raise ValueError(f"expected name:role:scope:sha256hex (4 fields), got {len(parts)}")
    name, raw_role, raw_scope, digest = (part.strip() for part in parts)
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError("the name must be made of letters, digits, '_', '.' or '-'")
    role = _parse_role(raw_role)
    if role is None:
        raise ValueError(f"unknown role {raw_role!r} (admin, analista or sindico)")
    if raw_scope == ALL_CONDOMINIOS:
        scope = None
    elif raw_scope.isdigit():
        scope = int(raw_scope)
    else:
        raise ValueError(f"the scope must be '*' or a condominio_id, got {raw_scope!r}")
    problem = _check_role_scope(role, scope)
    if problem:
        raise ValueError(problem)
    if not DIGEST_PATTERN.fullmatch(digest.lower()):
        raise ValueError("the last field must be the 64 hex digits of a SHA-256")
    return ApiKey(Principal(name, role, scope), bytes.fromhex(digest))


@dataclass(frozen=True)
class KeyRing:
    """The configured keys; looks a presented key up by its hash in constant time per key."""

    keys: tuple[ApiKey, ...]

    @classmethod
    def parse(cls, raw: str | None) -> KeyRing:
        """Keys from CONDOLAKE_SERVE_KEYS; ConfigError naming the bad entry's position."""
        entries = [entry for entry in (raw or "").split(",") if entry.strip()]
        keys = []
        for position, entry in enumerate(entries, start=1):
            try:
                keys.append(_parse_entry(entry))
            except ValueError as problem:
                raise ConfigError(f"{ENV_NAME}: entry {position}: {problem}") from None
        return cls(tuple(keys))

    def __bool__(self) -> bool:
        return bool(self.keys)

    def authenticate(self, presented: str | None) -> Principal | None:
        """The principal of `presented`, or None for a missing or unknown key."""
        if not presented:
            return None
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        found = None
        for key in self.keys:  # no early exit: the time taken does not depend on the match
            if hmac.compare_digest(digest, key.digest):
                found = key.principal
        return found


def new_key(name: str, role: str, condominio_id: int | None) -> tuple[str, str]:
    """A new random key and its CONDOLAKE_SERVE_KEYS entry (which holds only its hash)."""
    if not NAME_PATTERN.fullmatch(name or ""):
        raise ConfigError(f"key name {name!r}: use letters, digits, '_', '.' or '-'")
    parsed_role = _parse_role(role)
    if parsed_role is None:
        raise ConfigError(f"unknown role {role!r}: admin, analista or sindico")
    problem = _check_role_scope(parsed_role, condominio_id)
    if problem:
        raise ConfigError(problem)
    key = secrets.token_urlsafe(KEY_BYTES)
    scope = ALL_CONDOMINIOS if condominio_id is None else str(condominio_id)
    return key, f"{name}:{parsed_role.value}:{scope}:{hash_key(key)}"
