"""A real HTTP webhook receiver on a free local port, recording what alerts post to it.

    with webhook_receiver() as hook:
        settings = settings.with_(alert_webhook_url=hook.url)
        ...
        (alert,) = hook.wait_for(1)
        assert alert.json == {...}

`statuses` scripts the answers (503, 503 then 200 shows retries); once used up, 200. `delay_s`
makes every answer late (for timeouts).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOPBACK = "127.0.0.1"
HOOK_PATH = "/hooks/T000/B000/not-a-real-secret"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    content_type: str
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    url: str
    statuses: list[int]
    delay_s: float = 0.0
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closing: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, count: int, timeout_s: float = 60.0) -> list[Received]:
        """The first `count` requests, once that many arrived (AssertionError at the deadline)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return self.requests[:count]
            time.sleep(0.02)
        raise AssertionError(f"{count} webhook request(s) expected within {timeout_s} s, "
                             f"got {len(self.requests)}")

    def answer(self, request: Received) -> int:
        with self.lock:
            self.requests.append(request)
            return self.statuses.pop(0) if self.statuses else 200


def free_port() -> int:
    """A local TCP port nobody listens on (just released by the OS)."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@contextmanager
def webhook_receiver(statuses: Sequence[int] = (), delay_s: float = 0.0
                     ) -> Iterator[WebhookReceiver]:
    """A receiver listening on 127.0.0.1:<free port> until the block ends."""
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status = receiver.answer(Received("POST", self.path,
                                              self.headers.get("Content-Type", ""), body))
            if receiver.delay_s and receiver.closing.wait(receiver.delay_s):
                return  # shutting down: the client gave up long ago
            reply = b"ok" if status < 400 else b"no"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return  # keep the test output clean

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            """A client that hung up (a timed-out alert) is expected; keep stderr clean."""

    server = Server((LOOPBACK, 0), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    receiver = WebhookReceiver(f"http://{LOOPBACK}:{port}{HOOK_PATH}", list(statuses), delay_s)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.closing.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
