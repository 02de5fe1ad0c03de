"""A small local HTTP API over the PostgreSQL source tables, paginated the way partner APIs are.

It plays the "HTTP APIs (paginated)" source of the architecture for the demo and the tests:
``GET /{table}`` answers pages of rows in primary-key order, either by page number
(``?page_size=..&page=..`` -> ``{"data", "page", "page_size", "next_page"}``) or by cursor
(``?page_size=..&cursor=..`` -> ``{"data", "next_cursor"}``). Money is rendered as JSON strings
(``"1234.56"``), dates as ``"YYYY-MM-DD"``, integers as JSON integers. A ``FaultPlan`` injects
the failures real APIs have (429, 5xx, slow and malformed pages) so retries can be tested for real.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg import sql

from condolake.errors import ServiceError, SourceUnavailableError
from condolake.source.tables import TABLES_BY_NAME, SourceTable

PAGINATION_STYLES = ("page", "cursor")
DEFAULT_PAGE_SIZE = 1000
CONNECT_TIMEOUT_S = 5
STOP_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.1
MALFORMED_BODY = b'{"data": [{"broken": '
logger = logging.getLogger(__name__)


class _BadRequest(Exception):
    """A request whose parameters cannot be served (answered with HTTP 400)."""


@dataclass(frozen=True)
class InjectedFault:
    """What the server does to one request: wait, then fail, answer garbage, or answer normally."""

    delay_s: float = 0.0
    status: int | None = None
    retry_after: int | None = None
    malformed: bool = False


@dataclass(frozen=True)
class _PageRequest:
    page: int
    page_size: int
    after: int | None  # cursor mode: the last primary key already sent


class FaultPlan:
    """A thread-safe, mutable list of faults to inject, by request order or by page number."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_failures: deque[tuple[int, int | None]] = deque()
        self._always: tuple[int, int, int | None] | None = None
        self._slow_pages: dict[int, float] = {}
        self._malformed_pages: dict[int, int] = {}

    def fail_next(self, status: int, times: int = 1, *, retry_after: int | None = None) -> None:
        """The next `times` table requests answer `status` (with Retry-After if given)."""
        with self._lock:
            self._next_failures.extend([(status, retry_after)] * times)

    def always_fail(
        self, status: int, *, from_page: int = 1, retry_after: int | None = None
    ) -> None:
        """Every request for page `from_page` or later answers `status`: the API is down."""
        with self._lock:
            self._always = (status, from_page, retry_after)

    def slow_page(self, page: int, seconds: float) -> None:
        """The next request for `page` waits `seconds` before answering (once)."""
        with self._lock:
            self._slow_pages[page] = seconds

    def malformed_page(self, page: int, times: int = 1) -> None:
        """The next `times` requests for `page` answer 200 with invalid JSON."""
        with self._lock:
            self._malformed_pages[page] = self._malformed_pages.get(page, 0) + times

    def clear(self) -> None:
        """No more faults: the API behaves."""
        with self._lock:
            self._next_failures.clear()
            self._always = None
            self._slow_pages.clear()
            self._malformed_pages.clear()

    def next_fault(self, page: int) -> InjectedFault:
        """The fault for the request now arriving for `page`, consuming one-off faults."""
        with self._lock:
            delay_s = self._slow_pages.pop(page, 0.0)
            if self._always is not None and page >= self._always[1]:
                status, _, retry_after = self._always
                return InjectedFault(delay_s=delay_s, status=status, retry_after=retry_after)
            if self._next_failures:
                status, retry_after = self._next_failures.popleft()
                return InjectedFault(delay_s=delay_s, status=status, retry_after=retry_after)
            if self._malformed_pages.get(page, 0) > 0:
                self._malformed_pages[page] -= 1
                return InjectedFault(delay_s=delay_s, malformed=True)
            return InjectedFault(delay_s=delay_s)


class SourceApiServer:
    """The paginated API over the source tables, served from a daemon thread on loopback."""

    def __init__(
        self,
        conninfo: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        page_size_max: int = 5000,
        faults: FaultPlan | None = None,
        pagination: str = "page",
    ) -> None:
        if pagination not in PAGINATION_STYLES:
            raise ValueError(f"pagination must be one of {PAGINATION_STYLES}, got {pagination!r}")
        if page_size_max < 1:
            raise ValueError(f"page_size_max must be at least 1, got {page_size_max}")
        self._conninfo = conninfo
        self._host = host
        self._port = port
        self._token = token
        self._page_size_max = page_size_max
        self.faults = faults if faults is not None else FaultPlan()
        self._pagination = pagination
        self._stopping = threading.Event()
        self._log_lock = threading.Lock()
        self._requests: list[str] = []
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise ServiceError("the source API server is not running; call start() first")
        return f"http://{self._host}:{self._httpd.server_address[1]}"

    @property
    def requests(self) -> list[str]:
        """Path and query of every table request received so far (not /health), in order."""
        with self._log_lock:
            return list(self._requests)

    def start(self) -> str:
        """Check the database, listen, serve from a daemon thread; returns the base URL."""
        if self._httpd is not None:
            return self.url
        _check_database(self._conninfo)
        try:
            httpd = _HttpServer((self._host, self._port), self)
        except OSError as error:
            raise ServiceError(
                f"the source API cannot listen on {self._host}:{self._port}: {error.strerror}"
            ) from error
        self._stopping.clear()
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            args=(POLL_INTERVAL_S,),
            name="condolake-source-api",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and release the port; slow (fault-injected) answers are cut short."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
        self._httpd = None
        self._thread = None

    def wait(self) -> None:
        """Block until the server stops (Ctrl-C raises KeyboardInterrupt here)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(POLL_INTERVAL_S * 5)

    def __enter__(self) -> SourceApiServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def _respond(self, handler: _Handler) -> None:
        """Answer one GET request (called from the handler's thread)."""
        parts = urlsplit(handler.path)
        name = parts.path.strip("/")
        if name == "health":
            _send_json(handler, HTTPStatus.OK, {"status": "ok", "pagination": self._pagination})
            return
        with self._log_lock:
            self._requests.append(handler.path)
        if not self._authorized(handler.headers.get("Authorization")):
            _send_json(
                handler,
                HTTPStatus.UNAUTHORIZED,
                {"error": "missing or invalid bearer token"},
                {"WWW-Authenticate": "Bearer"},
            )
            return
        table = TABLES_BY_NAME.get(name)
        if table is None:
            known = ", ".join(TABLES_BY_NAME)
            _send_json(
                handler,
                HTTPStatus.NOT_FOUND,
                {"error": f"unknown table {name!r}; expected one of: {known}"},
            )
            return
        try:
            request = _page_request(parse_qs(parts.query), self._pagination, self._page_size_max)
        except _BadRequest as error:
            _send_json(handler, HTTPStatus.BAD_REQUEST, {"error": str(error)})
            return
        self._answer_page(handler, table, request)

    def _answer_page(self, handler: _Handler, table: SourceTable, request: _PageRequest) -> None:
        fault = self.faults.next_fault(request.page)
        if fault.delay_s and self._stopping.wait(fault.delay_s):
            return
        if fault.status is not None:
            extra = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            _send_json(handler, fault.status, {"error": "injected fault"}, extra)
            return
        if fault.malformed:
            _send_body(handler, HTTPStatus.OK, MALFORMED_BODY)
            return
        try:
            payload = _read_page(self._conninfo, table, request, self._pagination)
        except psycopg.Error as error:
            logger.warning("source API: database error for %s: %s", table.name, error)
            _send_json(
                handler, HTTPStatus.SERVICE_UNAVAILABLE, {"error": "source database unavailable"}
            )
            return
        _send_json(handler, HTTPStatus.OK, payload)

    def _authorized(self, header: str | None) -> bool:
        if self._token is None:
            return True
        expected = f"Bearer {self._token}".encode()
        return header is not None and hmac.compare_digest(header.encode(), expected)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: SourceApiServer) -> None:
        self.api = api
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) closes its socket: nothing to report.
        logger.debug("source API: client %s went away", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self.server.api._respond(self)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base
        logger.debug("source API: " + format, *args)


def serve_forever(
    conninfo: str,
    host: str,
    port: int,
    token: str | None,
    *,
    pagination: str = "page",
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve the source API until Ctrl-C; `ready(url)` is called once it listens."""
    with SourceApiServer(
        conninfo, host=host, port=port, token=token, pagination=pagination
    ) as server:
        if ready is not None:
            ready(server.url)
        try:
            server.wait()
        except KeyboardInterrupt:
            return


def _check_database(conninfo: str) -> None:
    try:
        with psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        raise SourceUnavailableError(
            f"the source API cannot reach the PostgreSQL source: {error}"
        ) from error


def _page_request(
    params: dict[str, list[str]], pagination: str, page_size_max: int
) -> _PageRequest:
    page_size = min(_positive_int(params, "page_size", DEFAULT_PAGE_SIZE), page_size_max)
    other = "cursor" if pagination == "page" else "page"
    if other in params:
        raise _BadRequest(f"this API paginates by {pagination}; {other!r} is not accepted")
    if pagination == "page":
        return _PageRequest(page=_positive_int(params, "page", 1), page_size=page_size, after=None)
    if "cursor" not in params:
        return _PageRequest(page=1, page_size=page_size, after=None)
    page, after = _decode_cursor(params["cursor"][0])
    return _PageRequest(page=page, page_size=page_size, after=after)


def _positive_int(params: dict[str, list[str]], name: str, default: int) -> int:
    if name not in params:
        return default
    text = params[name][0]
    if not text.isdigit() or int(text) < 1:
        raise _BadRequest(f"{name} must be a positive integer, got {text!r}")
    return int(text)


def _encode_cursor(page: int, after: int) -> str:
    raw = json.dumps({"page": page, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        content = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        page, after = content["page"], content["after"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeEncodeError):
        raise _BadRequest(f"invalid cursor {cursor!r}") from None
    if not isinstance(page, int) or not isinstance(after, int):
        raise _BadRequest(f"invalid cursor {cursor!r}")
    return page, after


def _read_page(
    conninfo: str, table: SourceTable, request: _PageRequest, pagination: str
) -> dict[str, Any]:
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in table.column_names)
    key = sql.Identifier(table.primary_key)
    select = sql.SQL("SELECT {columns} FROM {table}").format(
        columns=columns, table=sql.Identifier(table.name)
    )
    limit = request.page_size + 1  # one more than asked tells whether a next page exists
    if request.after is not None:
        query = sql.SQL("{select} WHERE {key} > %s ORDER BY {key} LIMIT %s").format(
            select=select, key=key
        )
        params: tuple[int, ...] = (request.after, limit)
    else:
        query = sql.SQL("{select} ORDER BY {key} LIMIT %s OFFSET %s").format(select=select, key=key)
        offset = (request.page - 1) * request.page_size if pagination == "page" else 0
        params = (limit, offset)
    with psycopg.connect(conninfo, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        rows = conn.execute(query, params).fetchall()
    has_more = len(rows) > request.page_size
    data = [
        {name: _json_value(value) for name, value in zip(table.column_names, row, strict=True)}
        for row in rows[: request.page_size]
    ]
    if pagination == "cursor":
        next_cursor = (
            _encode_cursor(request.page + 1, int(data[-1][table.primary_key])) if has_more else None
        )
        return {"data": data, "next_cursor": next_cursor}
    next_page = request.page + 1 if has_more else None
    return {
        "data": data,
        "page": request.page,
        "page_size": request.page_size,
        "next_page": next_page,
    }


def _json_value(value: Any) -> Any:
    """Money as exact decimal text, dates as ISO text; ints, text and NULL as JSON has them."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    payload: Any,
    headers: dict[str, str] | None = None,
) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    _send_body(handler, status, body, headers)


def _send_body(
    handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)
    except (BrokenPipeError, ConnectionResetError):
        logger.debug("source API: client went away before the answer was sent")
