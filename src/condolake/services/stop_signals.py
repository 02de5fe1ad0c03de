"""Stopping a long-running command cleanly when the operator asks (Ctrl+C, SIGTERM)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_requests(
    signals: Sequence[signal.Signals] = STOP_SIGNALS, *, second_interrupts: bool = False
) -> Iterator[threading.Event]:
    """An event set by the first of `signals` within the block, instead of their usual effect;
    with `second_interrupts`, another one raises KeyboardInterrupt (the operator insists).

    The previous handlers are restored on exit. Off the main thread, where Python delivers no
    signal, nothing is installed: the caller stops the block by setting the event itself.
    """
    stopping = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stopping
        return

    def request_stop(signal_number: int, frame: FrameType | None) -> None:
        if second_interrupts and stopping.is_set():
            raise KeyboardInterrupt
        stopping.set()

    previous = {number: signal.signal(number, request_stop) for number in signals}
    try:
        yield stopping
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
