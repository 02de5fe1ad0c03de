"""The load generator's lean HTTP/1.1 client: request bytes and response framing."""

from __future__ import annotations

import asyncio

import pytest

from benchmarks.serve_http import (
    ProtocolError,
    Response,
    parse_head,
    read_response,
    request_bytes,
)


def read(data: bytes) -> Response:
    async def go() -> Response:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_response(reader)

    return asyncio.run(go())


def test_request_is_a_keep_alive_get_with_the_key_header() -> None:
    assert request_bytes("127.0.0.1", 8000, "/v1/tipos", {"X-API-Key": "k"}) == (
        b"GET /v1/tipos HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept: application/json\r\n"
        b"Accept-Encoding: identity\r\nX-API-Key: k\r\n\r\n")


def test_head_gives_status_and_lower_cased_headers() -> None:
    head = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nX-Thing:  a: b \r\n\r\n"
    assert parse_head(head) == (404, {"content-length": "2", "x-thing": "a: b"})
    with pytest.raises(ProtocolError):
        parse_head(b"SPDY/3 200 OK\r\n\r\n")
    with pytest.raises(ProtocolError):
        parse_head(b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n")


def test_body_by_content_length_leaves_the_next_response_alone() -> None:
    async def go() -> tuple[Response, Response]:
        reader = asyncio.StreamReader()
        reader.feed_data(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n{\"a\"HTTP/1.1 204 "
                         b"No Content\r\ncontent-length: 0\r\n\r\n")
        return await read_response(reader), await read_response(reader)

    first, second = asyncio.run(go())
    assert (first.status, first.body, first.keeps_alive) == (200, b'{"a"', True)
    assert (second.status, second.body) == (204, b"")


def test_chunked_body_is_joined_and_trailers_skipped() -> None:
    response = read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"3\r\n{\"a\r\nA;ext=1\r\n\":1}      \r\n0\r\nX-Trailer: t\r\n\r\n")
    assert response.body == b'{"a":1}      '


def test_body_until_close_marks_the_connection_closed() -> None:
    response = read(b"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\noops")
    assert (response.status, response.body, response.keeps_alive) == (500, b"oops", False)
    unframed = read(b"HTTP/1.1 200 OK\r\n\r\n[]")
    assert (unframed.body, unframed.keeps_alive) == (b"[]", False)


def test_a_truncated_body_is_an_error() -> None:
    with pytest.raises(asyncio.IncompleteReadError):
        read(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")
