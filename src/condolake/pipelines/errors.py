"""Short, readable summaries of failures raised deep inside Spark's JVM."""

from __future__ import annotations

MAX_MESSAGE = 400


def root_cause(error: BaseException) -> str:
    """The innermost cause of `error` as 'Type: message', Java causes included."""
    java = getattr(error, "java_exception", None)
    if java is not None:
        try:
            cause = java
            while cause.getCause() is not None and cause.getCause() != cause:
                cause = cause.getCause()
            message = f"{cause.getClass().getSimpleName()}: {cause.getMessage()}"
            return message[:MAX_MESSAGE]
        except Exception:  # noqa: BLE001 - the JVM may be gone; fall back to the text
            pass
    while error.__cause__ is not None:
        error = error.__cause__
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return f"{type(error).__name__}: {first_line}"[:MAX_MESSAGE]


def mentions_postgres(summary: str) -> bool:
    markers = ("PSQLException", "postgresql", "Connection refused", "connection", "terminating")
    return any(marker.lower() in summary.lower() for marker in markers)
