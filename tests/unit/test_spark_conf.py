from __future__ import annotations

from condolake.config import load_settings
from condolake.spark import spark_conf


def test_delta_is_configured_and_local_stays_on_loopback() -> None:
    conf = spark_conf(load_settings(environ={}), ["/jars/a.jar", "/jars/b.jar"])
    assert conf["spark.jars"] == "/jars/a.jar,/jars/b.jar"
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.driver.bindAddress"] == "127.0.0.1"
    assert conf["spark.ui.enabled"] == "false"


def test_remote_cluster_lets_spark_pick_the_driver_address() -> None:
    settings = load_settings(environ={"CONDOLAKE_SPARK_MASTER": "spark://10.0.0.5:7077"})
    conf = spark_conf(settings, [])
    assert conf["spark.master"] == "spark://10.0.0.5:7077"
    assert "spark.driver.bindAddress" not in conf
