"""Short, readable summaries of failures raised deep inside Spark's JVM."""

from __future__ import annotations

MAX_MESSAGE = 400
PYTHON_TRACEBACK = "Traceback (most recent call last)"
# Exceptions whose message says what went wrong with the source, in the JVM's cause chain.
INFORMATIVE = ("PSQLException", "SQLException", "ConnectException", "UnknownHostException")


def _java_chain(error: BaseException) -> list[tuple[str, str | None]]:
    java = getattr(error, "java_exception", None)
    chain: list[tuple[str, str | None]] = []
    try:
        cause = java
        while cause is not None and len(chain) < 50:
            chain.append((str(cause.getClass().getSimpleName()), cause.getMessage()))
            nxt = cause.getCause()
            if nxt is None or nxt.equals(cause):
                break
            cause = nxt
    except Exception:  # noqa: BLE001 - the JVM may be gone; fall back to the Python text
        return []
    return chain


def root_cause(error: BaseException) -> str:
    """'Type: message' of the most telling cause of `error`, Java causes included.

    A driver exception (PostgreSQL's PSQLException…) anywhere in the chain wins; otherwise
    the innermost cause with a message.
    """
    chain = _java_chain(error)
    if chain:
        telling = [link for link in chain if link[0] in INFORMATIVE and link[1]]
        with_message = [link for link in chain if link[1]]
        name, message = (telling or with_message[-1:] or chain[-1:])[0]
        return (_python_error(message) or f"{name}: {message}")[:MAX_MESSAGE]
    while error.__cause__ is not None:
        error = error.__cause__
    text = str(error).strip()
    first_line = (text.splitlines() or [type(error).__name__])[0]
    return (_python_error(text) or f"{type(error).__name__}: {first_line}")[:MAX_MESSAGE]


def _python_error(message: str | None) -> str | None:
    """The Python exception at the end of a traceback a JVM error carries (a foreachBatch
    handler's failure reaches the query as "…Python Proxy. Return Message: Traceback…")."""
    if not message or PYTHON_TRACEBACK not in message:
        return None
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[-1] if lines else None


def mentions_postgres(summary: str) -> bool:
    markers = ("PSQLException", "postgresql", "Connection refused", "connection", "terminating")
    return any(marker.lower() in summary.lower() for marker in markers)
