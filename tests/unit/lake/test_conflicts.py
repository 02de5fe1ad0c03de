"""Which failures `retrying` treats as a lost commit race, and that it retries only those."""

from __future__ import annotations

import pytest

from condolake.lake.delta import is_conflict, retrying


class JavaClass:
    def __init__(self, name: str) -> None:
        self._name = name

    def getName(self) -> str:  # noqa: N802 (the JVM's spelling)
        return self._name


class JavaError:
    def __init__(self, name: str) -> None:
        self._class = JavaClass(name)

    def getClass(self) -> JavaClass:  # noqa: N802
        return self._class


class Py4JLikeError(Exception):
    """What a JVM exception looks like when PySpark did not convert it (foreachBatch)."""

    def __init__(self, java_class: str) -> None:
        super().__init__(java_class)
        self.java_exception = JavaError(java_class)


@pytest.mark.parametrize("name", [
    "io.delta.exceptions.ConcurrentAppendException",
    "io.delta.exceptions.ConcurrentDeleteReadException",
    "io.delta.exceptions.MetadataChangedException",
])
def test_unconverted_delta_conflicts_are_conflicts(name: str) -> None:
    assert is_conflict(Py4JLikeError(name))


@pytest.mark.parametrize("error", [
    Py4JLikeError("org.postgresql.util.PSQLException"),
    Py4JLikeError("io.delta.exceptions.DeltaIllegalStateException"),
    ValueError("no"),
])
def test_other_failures_are_not(error: Exception) -> None:
    assert not is_conflict(error)


def test_a_conflict_is_retried_until_the_write_goes_through() -> None:
    attempts: list[int] = []

    def write() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise Py4JLikeError("io.delta.exceptions.ConcurrentAppendException")
        return "committed"

    assert retrying(write) == "committed"
    assert len(attempts) == 3


def test_any_other_failure_is_raised_at_once() -> None:
    attempts: list[int] = []

    def write() -> None:
        attempts.append(1)
        raise Py4JLikeError("org.postgresql.util.PSQLException")

    with pytest.raises(Py4JLikeError):
        retrying(write)
    assert len(attempts) == 1
