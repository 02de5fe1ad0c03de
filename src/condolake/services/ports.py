"""Free local TCP ports for the embedded services."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def is_port_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether nothing listens on host:port right now (a later bind may still race).

    SO_REUSEADDR as servers set it: a port whose old connections linger in TIME_WAIT after a
    restart counts as free, one with a listener does not.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port the kernel reports free on host."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def reuse_or_free_port(previous: int | None, host: str = LOOPBACK) -> int:
    """The previous port when it is still free, otherwise a new free one."""
    if previous is not None and is_port_free(previous, host):
        return previous
    return free_port(host)
