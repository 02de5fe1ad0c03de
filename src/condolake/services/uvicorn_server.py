"""Running a uvicorn server in the foreground until the operator stops it (the API, the
metrics exporter)."""

from __future__ import annotations

import signal
from types import FrameType

import uvicorn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_until_signal(server: uvicorn.Server) -> str:
    """Runs `server` until SIGINT or SIGTERM, then lets it shut down gracefully; why it stopped
    (the signal's name, or "shutdown")."""
    received: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    # uvicorn shuts down gracefully on these signals and then raises them again for the
    # previous handler; ours only notes them, so the process ends by returning, not dying.
    previous = {sig: signal.signal(sig, note) for sig in STOP_SIGNALS}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return signal.Signals(received[0]).name if received else "shutdown"
