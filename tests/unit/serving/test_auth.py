"""API keys: entries, hashing, role/scope rules."""

from __future__ import annotations

import hashlib

import pytest

from condolake.errors import ConfigError
from condolake.serving.auth import KeyRing, Principal, Role, hash_key, new_key

DIGEST = "ab" * 32


def test_hash_is_the_hex_sha256_of_the_key() -> None:
    assert hash_key("segredo") == hashlib.sha256(b"segredo").hexdigest()


def test_parses_every_role_and_scope() -> None:
    ring = KeyRing.parse(f"ana:admin:*:{DIGEST}, bia:analista:3:{DIGEST},"
                         f"caio:analista:*:{DIGEST},dora.s-1:sindico:7:{DIGEST.upper()}")
    assert [key.principal for key in ring.keys] == [
        Principal("ana", Role.ADMIN, None),
        Principal("bia", Role.ANALISTA, 3),
        Principal("caio", Role.ANALISTA, None),
        Principal("dora.s-1", Role.SINDICO, 7),
    ]
    assert ring.keys[3].digest == bytes.fromhex(DIGEST)


@pytest.mark.parametrize("raw", [None, "", " , ,"])
def test_no_keys(raw: str | None) -> None:
    ring = KeyRing.parse(raw)
    assert not ring
    assert ring.authenticate("anything") is None


@pytest.mark.parametrize(("entry", "problem"), [
    (f"ana:admin:{DIGEST}", "expected name:role:scope:sha256hex (4 fields), got 3"),
    (f"ana maria:admin:*:{DIGEST}", "the name must be made of letters"),
    (f"ana:root:*:{DIGEST}", "unknown role 'root'"),
    (f"ana:admin:1:{DIGEST}", "an admin key sees every condominium"),
    (f"ana:sindico:*:{DIGEST}", "a sindico key needs a condominio_id"),
    (f"ana:sindico:0:{DIGEST}", "positive integer"),
    (f"ana:analista:-2:{DIGEST}", "the scope must be '*' or a condominio_id, got '-2'"),
    ("ana:admin:*:" + "g" * 64, "the last field must be the 64 hex digits"),
    ("ana:admin:*:" + "a" * 63, "the last field must be the 64 hex digits"),
])
def test_a_malformed_entry_names_its_position_and_never_the_hash(entry: str,
                                                                  problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        KeyRing.parse(f"ok:admin:*:{DIGEST},{entry}")
    message = str(raised.value)
    assert message.startswith("CONDOLAKE_SERVE_KEYS: entry 2: ")
    assert problem in message
    assert entry.rsplit(":", 1)[-1] not in message


def test_new_key_round_trips_through_its_entry() -> None:
    key, entry = new_key("sindica-aurora", "sindico", 4)
    name, role, scope, digest = entry.split(":")
    assert (name, role, scope) == ("sindica-aurora", "sindico", "4")
    assert digest == hash_key(key) and key not in entry
    assert len(key) >= 43  # 32 random bytes, url-safe base64
    ring = KeyRing.parse(entry)
    assert ring.authenticate(key) == Principal("sindica-aurora", Role.SINDICO, 4)
    assert ring.authenticate(key + "x") is None
    assert ring.authenticate("") is None and ring.authenticate(None) is None


def test_new_keys_differ() -> None:
    assert new_key("a", "admin", None)[0] != new_key("a", "admin", None)[0]


@pytest.mark.parametrize(("name", "role", "condominio", "problem"), [
    ("s", "sindico", None, "a sindico key needs a condominio_id"),
    ("a", "admin", 3, "an admin key sees every condominium"),
    ("a", "chefe", None, "unknown role 'chefe'"),
    ("a b", "admin", None, "key name 'a b'"),
    ("a", "analista", 0, "positive integer"),
])
def test_new_key_refuses_bad_input(name: str, role: str, condominio: int | None,
                                   problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        new_key(name, role, condominio)


def test_authenticate_picks_the_matching_key() -> None:
    admin, admin_entry = new_key("a", "admin", None)
    sindico, sindico_entry = new_key("s", "sindico", 2)
    ring = KeyRing.parse(f"{admin_entry},{sindico_entry}")
    assert ring.authenticate(admin) == Principal("a", Role.ADMIN, None)
    assert ring.authenticate(sindico) == Principal("s", Role.SINDICO, 2)


@pytest.mark.parametrize(("principal", "masks", "daily", "sees_1", "sees_2"), [
    (Principal("a", Role.ADMIN, None), False, True, True, True),
    (Principal("b", Role.ANALISTA, None), True, True, True, True),
    (Principal("c", Role.ANALISTA, 2), True, False, False, True),
    (Principal("d", Role.SINDICO, 2), False, False, False, True),
])
def test_role_rules(principal: Principal, masks: bool, daily: bool, sees_1: bool,
                    sees_2: bool) -> None:
    assert principal.masks_names is masks
    assert principal.reads_daily is daily
    assert principal.may_see(1) is sees_1
    assert principal.may_see(2) is sees_2
