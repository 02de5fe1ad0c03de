"""The SQL endpoint's pure parts: lake discovery, catalog plans, DDL text, configuration."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from condolake.config import load_settings
from condolake.errors import ConfigError
from condolake.serving import sql_endpoint
from condolake.serving.sql_catalog import (
    CatalogPlan,
    CatalogReport,
    LakeTable,
    RegisteredTable,
    create_table,
    discover_tables,
    drop_table,
    local_delta_folders,
    normalized_location,
    parse_table_information,
    plan_catalog,
    quote_identifier,
    sql_string,
)
from condolake.serving.sql_endpoint import (
    check_port,
    endpoint_conf,
    exclusive_folder,
    jdbc_url,
    report_catalog,
)

SHOW_TABLE_INFORMATION = (
    "Catalog: spark_catalog\nDatabase: gold\nTable: transacoes_por_condominio\nOwner: root\n"
    "Created Time: Thu Nov 26 03:31:14 UTC 2026\nLast Access: UNKNOWN\n"
    "Created By: Spark 4.0.1\nType: EXTERNAL\nProvider: delta\n"
    "Location: file:/lake/gold/transacoes_por_condominio\n"
    "Serde Library: org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe\n"
    "Partition Provider: Catalog\n"
)


def delta_table(folder: Path) -> None:
    (folder / "_delta_log").mkdir(parents=True)


def external(database: str, name: str, location: str) -> RegisteredTable:
    return RegisteredTable(database, name, "EXTERNAL", location)


class TestSqlText:
    def test_identifiers_are_backquoted_and_backquotes_doubled(self) -> None:
        assert quote_identifier("gold") == "`gold`"
        assert quote_identifier("odd`name") == "`odd``name`"

    def test_string_literals_escape_quotes_and_backslashes(self) -> None:
        assert sql_string("/lake/it's") == "'/lake/it\\'s'"
        assert sql_string("C:\\lake") == "'C:\\\\lake'"

    def test_create_table_registers_the_location_as_an_external_delta_table(self) -> None:
        table = LakeTable("gold", "transacoes_por_condominio", "/lake x/it's/gold/t")
        assert create_table(table) == (
            "CREATE TABLE IF NOT EXISTS `gold`.`transacoes_por_condominio` USING DELTA "
            "LOCATION '/lake x/it\\'s/gold/t'"
        )

    def test_drop_table_quotes_both_names(self) -> None:
        assert drop_table("ops", "run`s") == "DROP TABLE IF EXISTS `ops`.`run``s`"


class TestDiscovery:
    def test_every_delta_folder_of_every_layer_and_nothing_else(self, tmp_path: Path) -> None:
        lake = tmp_path / "lake"
        delta_table(lake / "gold" / "transacoes_por_condominio")
        delta_table(lake / "silver" / "transacoes")
        delta_table(lake / "ops" / "runs")
        delta_table(lake / "bronze" / "_staging")  # hidden, as Hadoop names go
        delta_table(lake / "_checkpoints" / "kafka")  # not a layer
        (lake / "silver" / "not_delta").mkdir()
        (lake / "silver" / "file.parquet").write_text("x")
        assert discover_tables(str(lake), local_delta_folders) == [
            LakeTable("silver", "transacoes", f"{lake}/silver/transacoes"),
            LakeTable("gold", "transacoes_por_condominio",
                      f"{lake}/gold/transacoes_por_condominio"),
            LakeTable("ops", "runs", f"{lake}/ops/runs"),
        ]

    def test_a_missing_lake_has_no_tables(self, tmp_path: Path) -> None:
        assert discover_tables(str(tmp_path / "absent"), local_delta_folders) == []

    def test_names_are_folded_to_lower_case_first_folder_wins(self) -> None:
        folders = {"s3a://b/lake/gold": ["Totals", "totals", "daily"]}
        tables = discover_tables("s3a://b/lake/", lambda folder: folders.get(folder, []))
        assert tables == [LakeTable("gold", "totals", "s3a://b/lake/gold/Totals"),
                          LakeTable("gold", "daily", "s3a://b/lake/gold/daily")]


class TestRegisteredTables:
    def test_show_table_extended_information_gives_kind_and_location(self) -> None:
        assert parse_table_information("gold", "t", SHOW_TABLE_INFORMATION) == RegisteredTable(
            "gold", "t", "EXTERNAL", "file:/lake/gold/transacoes_por_condominio")

    def test_a_view_has_no_location(self) -> None:
        information = "Catalog: spark_catalog\nDatabase: gold\nTable: v\nType: VIEW\n"
        assert parse_table_information("gold", "v", information) == RegisteredTable(
            "gold", "v", "VIEW", None)

    @pytest.mark.parametrize(("location", "expected"), [
        ("file:/lake/gold/t", "/lake/gold/t"),
        ("file:///lake/gold/t/", "/lake/gold/t"),
        ("/lake/gold/t", "/lake/gold/t"),
        ("s3a://bucket/lake/gold/t/", "s3a://bucket/lake/gold/t"),
    ])
    def test_locations_compare_without_scheme_noise(self, location: str, expected: str) -> None:
        assert normalized_location(location) == expected


class TestCatalogPlan:
    lake = (LakeTable("gold", "a", "/lake/gold/a"), LakeTable("gold", "b", "/lake/gold/b"))

    def test_an_empty_metastore_gets_every_table(self) -> None:
        plan = plan_catalog(self.lake, [])
        assert plan.statements == [create_table(table) for table in self.lake]
        assert plan.created == ["gold.a", "gold.b"]

    def test_a_second_run_changes_nothing(self) -> None:
        registered = [external("gold", "a", "file:/lake/gold/a"),
                      external("gold", "b", "file:/lake/gold/b/")]
        plan = plan_catalog(self.lake, registered)
        assert plan.statements == []
        assert plan.unchanged == ["gold.a", "gold.b"]

    def test_a_moved_table_is_dropped_and_created_at_its_new_location(self) -> None:
        registered = [external("gold", "a", "file:/old-lake/gold/a"),
                      external("gold", "b", "file:/lake/gold/b")]
        plan = plan_catalog(self.lake, registered)
        assert plan.statements == [drop_table("gold", "a"), create_table(self.lake[0])]
        assert plan.repointed == ["gold.a"]

    def test_tables_gone_from_the_lake_are_dropped_views_and_managed_ones_kept(self) -> None:
        registered = [external("gold", "a", "file:/lake/gold/a"),
                      external("gold", "b", "file:/lake/gold/b"),
                      external("gold", "gone", "file:/lake/gold/gone"),
                      RegisteredTable("gold", "my_view", "VIEW", None),
                      RegisteredTable("gold", "scratch", "MANAGED", "file:/wh/scratch"),
                      external("other", "elsewhere", "file:/x")]
        plan = plan_catalog(self.lake, registered)
        assert plan.statements == [drop_table("gold", "gone")]
        assert plan.dropped == ["gold.gone"]

    def test_a_view_holding_a_lake_tables_name_is_a_conflict_left_alone(self) -> None:
        registered = [RegisteredTable("gold", "a", "VIEW", None),
                      external("gold", "b", "file:/lake/gold/b")]
        plan = plan_catalog(self.lake, registered)
        assert plan.statements == []
        assert plan.conflicts == [
            "gold.a is a view made in the endpoint; the lake table /lake/gold/a is not "
            "registered"]


class TestEndpointSettings:
    def test_hive_metastore_and_server_live_under_the_state_folder(self, tmp_path: Path) -> None:
        settings = load_settings(environ={}, state_dir=str(tmp_path))
        conf = endpoint_conf(settings, ["/jars/delta.jar", "/jars/storage.jar"],
                             "127.0.0.1", 10001)
        folder = tmp_path / "sql-endpoint"
        assert conf["spark.sql.catalogImplementation"] == "hive"
        assert conf["spark.hadoop.javax.jdo.option.ConnectionURL"] == (
            f"jdbc:derby:;databaseName={folder / 'metastore_db'};create=true")
        assert conf["spark.sql.warehouse.dir"] == str(folder / "warehouse")
        assert conf["spark.driver.extraJavaOptions"].endswith(f" -Dderby.system.home={folder}")
        assert conf["spark.hadoop.hive.server2.thrift.bind.host"] == "127.0.0.1"
        assert conf["spark.hadoop.hive.server2.thrift.port"] == "10001"
        assert conf["spark.driver.extraClassPath"] == "/jars/delta.jar:/jars/storage.jar"
        # Delta as every CondoLake job has it.
        assert conf["spark.jars"] == "/jars/delta.jar,/jars/storage.jar"
        assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
        assert conf["spark.sql.catalog.spark_catalog"] == (
            "org.apache.spark.sql.delta.catalog.DeltaCatalog")

    def test_jdbc_url_opens_gold(self) -> None:
        assert jdbc_url("127.0.0.1", 10000) == "jdbc:hive2://127.0.0.1:10000/gold"
        assert jdbc_url("::1", 10000) == "jdbc:hive2://[::1]:10000/gold"


class TestStartChecks:
    def test_a_port_in_use_is_a_config_error(self) -> None:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            with pytest.raises(ConfigError, match=f"port {port} on 127.0.0.1 is already in use"):
                check_port("127.0.0.1", port)

    @pytest.mark.parametrize("port", [0, 70000])
    def test_a_port_out_of_range_is_a_config_error(self, port: int) -> None:
        with pytest.raises(ConfigError, match="is not a TCP port"):
            check_port("127.0.0.1", port)

    def test_an_address_of_another_machine_is_a_config_error(self) -> None:
        with pytest.raises(ConfigError, match="cannot listen on 192.0.2.1:10000"):
            check_port("192.0.2.1", 10000)  # TEST-NET-1: never an address of this machine

    def test_a_second_endpoint_on_the_same_state_folder_is_refused(self,
                                                                   tmp_path: Path) -> None:
        folder = tmp_path / "sql-endpoint"
        with (exclusive_folder(folder),
              pytest.raises(ConfigError, match="another SQL endpoint already runs"),
              exclusive_folder(folder)):
            pass
        with exclusive_folder(folder):  # released once the first one ended
            pass


class TestCatalogReport:
    def test_an_empty_lake_says_what_to_do(self, caplog: pytest.LogCaptureFixture) -> None:
        caplog.set_level(logging.INFO, logger=sql_endpoint.__name__)
        report_catalog(CatalogReport(CatalogPlan()), "/lake")
        assert caplog.messages == [
            "warning: no Delta tables found in the lake /lake: the databases are empty; run "
            "`condolake batch`, then restart `condolake serve sql`",
            "0 tables registered (0 new, 0 re-pointed, 0 unchanged), 0 dropped (gone from "
            "the lake)",
        ]

    def test_refusals_and_conflicts_are_warnings(self, caplog: pytest.LogCaptureFixture
                                                 ) -> None:
        caplog.set_level(logging.INFO, logger=sql_endpoint.__name__)
        plan = CatalogPlan(created=["gold.a"], unchanged=["gold.b"], dropped=["gold.c"],
                           conflicts=["gold.v is a view made in the endpoint; ..."])
        report_catalog(CatalogReport(plan, failures=["CREATE TABLE x: boom"]), "/lake")
        assert [(record.levelno, record.getMessage()) for record in caplog.records] == [
            (logging.WARNING, "warning: gold.v is a view made in the endpoint; ..."),
            (logging.WARNING, "warning: could not register: CREATE TABLE x: boom"),
            (logging.INFO, "2 tables registered (1 new, 0 re-pointed, 1 unchanged), 1 dropped "
                           "(gone from the lake)"),
        ]
