"""The serving benchmark's HTTP load with the real oha against a small local server: every
answered request comes back with its kind, status and latency, and the CPU of oha (a child
process) counts as the load generator's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmarks.oha import oha_binary
from benchmarks.serve_load import API_KEY_HEADER, OhaTarget, http_load
from benchmarks.serve_mix import Request

pytestmark = pytest.mark.skipif(not oha_binary().exists(),
                                reason="oha is not built (the serving benchmark builds it)")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        keys = self.server.keys_seen  # type: ignore[attr-defined]
        keys.add(self.headers.get(API_KEY_HEADER))
        status = 404 if self.path.startswith("/v1/missing") else 200
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return None


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.keys_seen = set()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def stream(client: int) -> Iterator[Request]:
    index = 0
    while True:
        role = ("admin", "analista")[index % 2]
        if index % 10 == 9:
            yield Request("missing", role, (("c", str(client)),))
        else:
            yield Request("tipos", role, (("c", str(client)), ("i", str(index % 7))))
        index += 1


@pytest.mark.integration
def test_oha_load_reports_every_answer_by_kind(server: ThreadingHTTPServer, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Request, "target", property(
        lambda r: f"/v1/{r.kind}?" + "&".join(f"{k}={v}" for k, v in r.params)))
    host, port = server.server_address[:2]
    target = OhaTarget(oha_binary(), f"http://{host}:{port}", {"admin": "A", "analista": "B"},
                       tmp_path)
    run = http_load(target, stream, clients=4, warmup_s=0.3, duration_s=1.0, server_pid=None)
    kinds = {outcome.kind for outcome in run.outcomes}
    assert kinds == {"tipos", "missing"}
    assert len(run.outcomes) > 20
    assert all(o.status == (404 if o.kind == "missing" else 200) for o in run.outcomes)
    assert run.first_error is not None and "-> 404" in run.first_error
    assert 0.9 <= run.window_s < 3.0
    assert run.cpu.load_generator_cores > 0
    assert server.keys_seen == {"A", "B"}  # type: ignore[attr-defined]
