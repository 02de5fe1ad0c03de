from __future__ import annotations

from condolake.services.jars import SPARK_CORE, JarBundle, _artifact_of, _ivy_module


def test_retrieved_file_names_give_the_artifact() -> None:
    assert _artifact_of("io.delta__delta-spark_2.13__4.0.1.jar") == "delta-spark_2.13"


def test_ivy_module_lists_every_coordinate() -> None:
    xml = _ivy_module(["g:a:1", "h:b:2"])
    assert '<dependency org="g" name="a" rev="1"' in xml
    assert '<dependency org="h" name="b" rev="2"' in xml


def test_fingerprint_changes_with_the_coordinates() -> None:
    other = JarBundle(SPARK_CORE.name, (*SPARK_CORE.coordinates, "x:y:1"))
    assert other.fingerprint != SPARK_CORE.fingerprint
