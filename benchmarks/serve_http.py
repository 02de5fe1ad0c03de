"""A lean HTTP/1.1 keep-alive client on asyncio streams, for the load generator.

The machine the benchmark runs on has few cores, shared by the server and the load
generator: a client that spends a millisecond of CPU per request (as a full-featured one
does) would slow the server it measures. This one writes a GET and reads the response by its
Content-Length (or chunked encoding), nothing more. Correctness of the answers is checked
separately, once per request kind, with httpx (see `serve_server.check_answers`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

HEAD_END = b"\r\n\r\n"
LINE_END = b"\r\n"


class ProtocolError(Exception):
    """The server's bytes are not an HTTP/1.1 response this client understands."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def keeps_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close"


def request_bytes(host: str, port: int, target: str, headers: Mapping[str, str]) -> bytes:
    lines = [f"GET {target} HTTP/1.1", f"Host: {host}:{port}", "Accept: application/json",
             "Accept-Encoding: identity", *[f"{name}: {value}" for name, value in headers.items()]]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    """Status and headers of a response head (status line + header lines + blank line)."""
    lines = head.rstrip(LINE_END).split(LINE_END)
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ProtocolError(f"bad status line {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise ProtocolError(f"bad header line {line[:80]!r}")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return int(parts[1]), headers


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(LINE_END)
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while await reader.readuntil(LINE_END) != LINE_END:  # trailers
                pass
            return bytes(body)
        body += await reader.readexactly(size)
        if await reader.readexactly(len(LINE_END)) != LINE_END:
            raise ProtocolError("chunk not followed by CRLF")


async def read_response(reader: asyncio.StreamReader) -> Response:
    status, headers = parse_head(await reader.readuntil(HEAD_END))
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = await read_chunked(reader)
    else:  # delimited by the end of the connection
        body = await reader.read()
        headers["connection"] = "close"
    return Response(status, headers, body)


class HttpConnection:
    """One keep-alive connection, opened on first use and again after a failure or close."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, target: str, headers: Mapping[str, str]) -> Response:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        try:
            self._writer.write(request_bytes(self._host, self._port, target, headers))
            response = await read_response(self._reader)
        except BaseException:
            await self.close()
            raise
        if not response.keeps_alive:
            await self.close()
        return response

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
