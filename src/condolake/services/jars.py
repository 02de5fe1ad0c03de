"""JVM jars from Maven Central, resolved once into a project-local cache.

Resolution uses Apache Ivy, which ships inside the pyspark distribution, so no Maven install is
needed. A bundle is resolved transitively on first use and recorded in a manifest; later runs
read the manifest and never touch the network, so they work offline.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from condolake.errors import DependencyError

log = logging.getLogger(__name__)
IVY_TIMEOUT_S = 900
MANIFEST_SUFFIX = ".manifest.json"
RESOLVE_LOCK = ".resolve.lock"
RETRIEVE_SEPARATOR = "__"


@dataclass(frozen=True)
class JarBundle:
    """A named set of Maven coordinates (group:artifact:version), resolved together.

    `on_spark_classpath`: the jars join Spark's own (so those Spark ships are left out of
    `resolved_jars`); False for a bundle that runs in a JVM of its own, like the Kafka broker.
    `overrides`: group:artifact:version pins for transitive dependencies (Ivy `<override>`).
    """

    name: str
    coordinates: tuple[str, ...]
    on_spark_classpath: bool = True
    overrides: tuple[str, ...] = ()

    @property
    def fingerprint(self) -> str:
        lines = [*self.coordinates, *(f"override {pin}" for pin in self.overrides)]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


DELTA_VERSION = "4.0.1"
POSTGRES_JDBC_VERSION = "42.7.8"
KAFKA_VERSION = "4.1.1"
SPARK_VERSION = "4.0.1"
LOG4J_VERSION = "2.24.3"
KAFKA_CONNECT_VERSION = "4.3.0"
DEBEZIUM_VERSION = "3.6.1.Final"

# Everything the batch pipeline needs on Spark's classpath.
SPARK_CORE = JarBundle(
    "spark-core",
    (
        f"io.delta:delta-spark_2.13:{DELTA_VERSION}",
        f"org.postgresql:postgresql:{POSTGRES_JDBC_VERSION}",
    ),
)

# The Structured Streaming Kafka source and sink, for Spark's classpath. Its dependency
# spark-token-provider-kafka is not published for 4.0.1 on the Maven repository this project
# reaches; 4.0.0 is the same code (delegation-token helpers, unchanged in the patch release).
SPARK_KAFKA = JarBundle(
    "spark-kafka",
    (f"org.apache.spark:spark-sql-kafka-0-10_2.13:{SPARK_VERSION}",),
    overrides=("org.apache.spark:spark-token-provider-kafka-0-10_2.13:4.0.0",),
)

# The embedded Kafka broker, which runs in a JVM of its own: resolve it with
# exclude_spark_provided=False (Spark's classpath plays no part there).
KAFKA_BROKER = JarBundle(
    "kafka-broker",
    (
        f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}",
        f"org.apache.logging.log4j:log4j-core:{LOG4J_VERSION}",
        f"org.apache.logging.log4j:log4j-slf4j2-impl:{LOG4J_VERSION}",
    ),
    on_spark_classpath=False,
)

# Kafka Connect (standalone worker) with Debezium's PostgreSQL connector, in a JVM of its own.
# Debezium 3.6 is built against Kafka 4.3, whose worker talks to the 4.1 broker; Connect logs
# through slf4j 1.7, hence log4j's slf4j-1 binding (not the slf4j2 one the broker uses).
KAFKA_CONNECT = JarBundle(
    "kafka-connect",
    (
        f"org.apache.kafka:connect-runtime:{KAFKA_CONNECT_VERSION}",
        f"org.apache.kafka:connect-json:{KAFKA_CONNECT_VERSION}",
        f"io.debezium:debezium-connector-postgres:{DEBEZIUM_VERSION}",
        f"org.apache.logging.log4j:log4j-core:{LOG4J_VERSION}",
        f"org.apache.logging.log4j:log4j-slf4j-impl:{LOG4J_VERSION}",
    ),
    on_spark_classpath=False,
)

BUNDLES: dict[str, JarBundle] = {
    bundle.name: bundle for bundle in (SPARK_CORE, SPARK_KAFKA, KAFKA_BROKER, KAFKA_CONNECT)
}


def pyspark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _ivy_jar() -> Path:
    candidates = sorted((pyspark_home() / "jars").glob("ivy-*.jar"))
    if not candidates:
        raise DependencyError("the pyspark distribution has no ivy jar; reinstall pyspark")
    return candidates[-1]


def _spark_provided_artifacts() -> set[str]:
    """Artifact names already on Spark's own classpath (scala-library, antlr4-runtime…)."""
    names = set()
    for jar in (pyspark_home() / "jars").glob("*.jar"):
        names.add(jar.stem.rsplit("-", 1)[0])
    return names


def resolved_jars(
    bundle: JarBundle,
    cache_dir: Path,
    *,
    exclude_spark_provided: bool = True,
) -> list[Path]:
    """Local paths of the bundle's jars, resolving them from Maven Central the first time.

    The cache is shared by every clone of the user: each version of a bundle (its
    fingerprint) has a folder of its own, so clones that need different jars never remove
    each other's, and one process resolves at a time (the others then find its manifest)."""
    folder = cache_dir / bundle_folder(bundle)
    manifest_path = folder.with_name(folder.name + MANIFEST_SUFFIX)
    manifest = _read_manifest(manifest_path)
    if manifest is None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with (cache_dir / RESOLVE_LOCK).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            manifest = _read_manifest(manifest_path) or _resolve(
                bundle, cache_dir, folder, manifest_path)
    jars = [folder / name for name in manifest["jars"]]
    missing = [str(jar) for jar in jars if not jar.exists()]
    if missing:
        manifest_path.unlink(missing_ok=True)
        raise DependencyError(
            f"jar cache {cache_dir} is incomplete (missing {missing[0]}); "
            "run `condolake setup` again with network access"
        )
    if exclude_spark_provided:
        provided = _spark_provided_artifacts()
        jars = [jar for jar in jars if _artifact_of(jar.name) not in provided]
    return jars


def bundle_folder(bundle: JarBundle) -> str:
    """`<bundle>-<fingerprint>`: the folder of this version of the bundle in the cache."""
    return f"{bundle.name}-{bundle.fingerprint}"


def _artifact_of(file_name: str) -> str:
    parts = file_name.split(RETRIEVE_SEPARATOR)
    return parts[1] if len(parts) >= 3 else file_name


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())  # type: ignore[no-any-return]
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _resolve(
    bundle: JarBundle,
    cache_dir: Path,
    target: Path,
    manifest_path: Path,
) -> dict[str, Any]:
    """Resolves the bundle into `target` (hold the resolve lock)."""
    log.info(f"resolving {bundle.name} jars from Maven Central into {cache_dir} (once)")
    with tempfile.TemporaryDirectory(dir=cache_dir) as staging:
        ivy_file = Path(staging) / "ivy.xml"
        ivy_file.write_text(_ivy_module(bundle.coordinates, bundle.overrides))
        pattern = (
            f"{staging}/jars/[organisation]{RETRIEVE_SEPARATOR}[artifact]{RETRIEVE_SEPARATOR}"
            "[revision](-[classifier]).[ext]"
        )
        command = _java_command(
            "-ivy", str(ivy_file), "-confs", "default", "-m2compatible",
            "-cache", str(cache_dir / "ivy-cache"), "-retrieve", pattern,
        )
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=IVY_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise DependencyError(f"could not run Ivy to resolve {bundle.name}: {error}") from error
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
            raise DependencyError(
                f"could not resolve the {bundle.name} jars from Maven Central "
                f"({', '.join(bundle.coordinates)}):\n{tail}"
            )
        if target.exists():
            shutil.rmtree(target)
        shutil.move(f"{staging}/jars", target)
    manifest: dict[str, Any] = {
        "fingerprint": bundle.fingerprint,
        "coordinates": list(bundle.coordinates),
        "overrides": list(bundle.overrides),
        "jars": sorted(path.name for path in target.glob("*.jar")),
    }
    staged = manifest_path.with_name(manifest_path.name + ".tmp")
    staged.write_text(json.dumps(manifest, indent=2))
    os.replace(staged, manifest_path)  # readers without the lock see no half-written manifest
    return manifest


def java_executable() -> str:
    """`$JAVA_HOME/bin/java` when JAVA_HOME is set, otherwise `java` from PATH."""
    java = shutil.which("java")
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        java = str(Path(java_home) / "bin" / "java")
    if not java:
        raise DependencyError("Java 17 is required: put java on PATH or set JAVA_HOME")
    return java


def _java_command(*ivy_args: str) -> list[str]:
    return [java_executable(), "-cp", str(_ivy_jar()), "org.apache.ivy.Main", *ivy_args]


def _ivy_module(coordinates: Sequence[str], overrides: Sequence[str] = ()) -> str:
    dependencies = []
    for coordinate in coordinates:
        group, artifact, version = coordinate.split(":")
        dependencies.append(
            f'    <dependency org="{group}" name="{artifact}" rev="{version}" '
            'conf="default->default(*),master(*)"/>'
        )
    for pin in overrides:
        group, artifact, version = pin.split(":")
        dependencies.append(f'    <override org="{group}" module="{artifact}" rev="{version}"/>')
    body = "\n".join(dependencies)
    return (
        '<ivy-module version="2.0">\n'
        '  <info organisation="condolake" module="condolake-jars"/>\n'
        '  <configurations><conf name="default"/></configurations>\n'
        f"  <dependencies>\n{body}\n  </dependencies>\n"
        "</ivy-module>\n"
    )
