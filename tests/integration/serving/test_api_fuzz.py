"""Schemathesis fuzz of the API against its own OpenAPI document: no input makes it fail (5xx).

Requests go over real HTTP to the session's server. Deterministic (derandomized, no example
database) and bounded per operation; with an admin key, a scoped analyst's key, without a key
and with an unknown key.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from condolake.serving.api import openapi_document

pytestmark = pytest.mark.integration

API_KEY_HEADER = "X-API-Key"
DOCUMENT = openapi_document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict({}))
# Without a valid key every request is refused before its parameters are read: the coverage
# phase's boundary values add nothing there, fuzzing a few cases per operation is enough.
refused = schemathesis.openapi.from_dict(
    DOCUMENT, config=schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": False}}}))
FUZZ = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))
FUZZ_REFUSED = settings(FUZZ, max_examples=10)
FUZZ_SCOPED = settings(FUZZ, max_examples=25)


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def call_with_key(case: schemathesis.Case, base_url: str, http: requests.Session,
                  key: str | None) -> None:
    """Sends the case with exactly this key (or none), whatever the generator put there."""
    for name in [n for n in case.headers if n.lower() == API_KEY_HEADER.lower()]:
        del case.headers[name]
    if key is not None:
        case.headers[API_KEY_HEADER] = key
    case.call_and_validate(base_url=base_url, session=http, checks=[not_a_server_error],
                           timeout=30)


def test_the_fuzzed_document_is_the_served_one(api_server: str) -> None:
    assert httpx.get(f"{api_server}/openapi.json").json() == DOCUMENT


@schema.parametrize()
@FUZZ
def test_admin_key(case: schemathesis.Case, api_server: str, http: requests.Session,
                   api_keys: dict[str, str]) -> None:
    call_with_key(case, api_server, http, api_keys["admin"])


@schema.parametrize()
@FUZZ_SCOPED
def test_scoped_analista_key(case: schemathesis.Case, api_server: str,
                             http: requests.Session, api_keys: dict[str, str]) -> None:
    call_with_key(case, api_server, http, api_keys["analista_scoped"])


@refused.parametrize()
@FUZZ_REFUSED
def test_without_key(case: schemathesis.Case, api_server: str,
                     http: requests.Session) -> None:
    call_with_key(case, api_server, http, None)


@refused.parametrize()
@FUZZ_REFUSED
def test_unknown_key(case: schemathesis.Case, api_server: str,
                     http: requests.Session) -> None:
    call_with_key(case, api_server, http, "not-a-real-key")
