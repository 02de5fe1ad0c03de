from __future__ import annotations

from condolake.services.jars import (
    BUNDLES,
    KAFKA_BROKER,
    KAFKA_CONNECT,
    SPARK_CORE,
    SPARK_KAFKA,
    JarBundle,
    _artifact_of,
    _ivy_module,
    bundle_folder,
)


def test_retrieved_file_names_give_the_artifact() -> None:
    assert _artifact_of("io.delta__delta-spark_2.13__4.0.1.jar") == "delta-spark_2.13"


def test_ivy_module_lists_every_coordinate() -> None:
    xml = _ivy_module(["g:a:1", "h:b:2"])
    assert '<dependency org="g" name="a" rev="1"' in xml
    assert '<dependency org="h" name="b" rev="2"' in xml


def test_fingerprint_changes_with_the_coordinates() -> None:
    other = JarBundle(SPARK_CORE.name, (*SPARK_CORE.coordinates, "x:y:1"))
    assert other.fingerprint != SPARK_CORE.fingerprint
    # Two versions of a bundle (two clones of the project) keep their jars apart in the cache.
    assert bundle_folder(SPARK_CORE) == f"spark-core-{SPARK_CORE.fingerprint}"
    assert bundle_folder(other) != bundle_folder(SPARK_CORE)


def test_overrides_pin_transitive_revisions_and_count_in_the_fingerprint() -> None:
    pinned = JarBundle("b", ("g:a:1",), overrides=("h:b:2",))

    assert '    <override org="h" module="b" rev="2"/>' in _ivy_module(["g:a:1"], ["h:b:2"])
    assert pinned.fingerprint != JarBundle("b", ("g:a:1",)).fingerprint


def test_every_bundle_is_registered_and_the_broker_and_connect_run_outside_spark() -> None:
    assert list(BUNDLES) == ["spark-core", "spark-kafka", "kafka-broker", "kafka-connect"]
    bundles = (SPARK_CORE, SPARK_KAFKA, KAFKA_BROKER, KAFKA_CONNECT)
    assert [b.on_spark_classpath for b in bundles] == [True, True, False, False]
