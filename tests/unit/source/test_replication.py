"""The judgement of a source's change-data-capture prerequisites and its report (pure)."""

from __future__ import annotations

import dataclasses

from condolake.source.replication import (
    Prerequisite,
    PublicationState,
    SlotState,
    SourceState,
    format_report,
    judge,
    setup_statements,
    table_names,
)

TABLES = ["public.condominios", "public.moradores", "public.imoveis", "public.transacoes"]
ALL_OPS = frozenset({"insert", "update", "delete", "truncate"})
CREATE_PUB = ('CREATE PUBLICATION "condolake_cdc" FOR TABLE public.condominios, '
              "public.moradores, public.imoveis, public.transacoes "
              "WITH (publish = 'insert, update, delete, truncate');")
SET_TABLES = ('ALTER PUBLICATION "condolake_cdc" SET TABLE public.condominios, '
              "public.moradores, public.imoveis, public.transacoes;")


def ready() -> SourceState:
    return SourceState(
        database="condomanage", user="condolake", wal_level="logical",
        max_replication_slots=10, slots_used=0, max_wal_senders=10, senders_used=0,
        replica_identity=dict.fromkeys(TABLES, "full"), can_replicate=True,
        publication=PublicationState(False, frozenset(TABLES), ALL_OPS), slot=None,
    )


def not_ok(state: SourceState, slot: str = "condolake") -> dict[str, tuple[str, str | None]]:
    return {item.name: (item.found, item.fix)
            for item in judge(state, publication="condolake_cdc", slot=slot) if not item.ok}


def test_the_published_tables_are_the_four_source_tables() -> None:
    assert table_names() == TABLES


def test_a_ready_source_meets_all_ten_prerequisites() -> None:
    result = judge(ready(), publication="condolake_cdc", slot="condolake")
    assert [item.name for item in result] == [
        "wal_level", "max_replication_slots", "max_wal_senders",
        *(f"replica identity {table}" for table in TABLES),
        "publication condolake_cdc", "replication privilege", "replication slot condolake",
    ]
    assert all(item.ok and item.fix is None for item in result)
    assert result[-1].found == "absent (the connector creates it)"
    assert setup_statements(ready(), "condolake_cdc") == []


def test_a_fresh_postgres_gets_each_fix() -> None:
    fresh = dataclasses.replace(
        ready(), wal_level="replica", slots_used=10, senders_used=10,
        replica_identity={**dict.fromkeys(TABLES[:3], "default"), TABLES[3]: None},
        can_replicate=False, user="app user", publication=None,
    )
    assert not_ok(fresh) == {
        "wal_level": ("replica", "ALTER SYSTEM SET wal_level = logical; -- then restart "
                                 "PostgreSQL"),
        "max_replication_slots": ("10 of 10 in use", "ALTER SYSTEM SET max_replication_slots "
                                                     "= 11; -- then restart PostgreSQL"),
        "max_wal_senders": ("10 of 10 in use", "ALTER SYSTEM SET max_wal_senders = 11; -- then "
                                               "restart PostgreSQL"),
        "replica identity public.condominios": (
            "default", "ALTER TABLE public.condominios REPLICA IDENTITY FULL;"),
        "replica identity public.moradores": (
            "default", "ALTER TABLE public.moradores REPLICA IDENTITY FULL;"),
        "replica identity public.imoveis": (
            "default", "ALTER TABLE public.imoveis REPLICA IDENTITY FULL;"),
        "replica identity public.transacoes": (
            "table absent", "ALTER TABLE public.transacoes REPLICA IDENTITY FULL; -- after "
                            "creating the table (condolake source init)"),
        "publication condolake_cdc": ("absent", CREATE_PUB),
        "replication privilege": ("app user may not replicate",
                                  'ALTER ROLE "app user" WITH REPLICATION;'),
    }


def test_our_own_slot_counts_as_a_slot_we_have() -> None:
    full = dataclasses.replace(ready(), slots_used=10,
                               slot=SlotState("pgoutput", "condomanage", False, "reserved"))
    assert not_ok(full) == {}


def test_zero_slots_configured_is_not_ok() -> None:
    state = dataclasses.replace(ready(), max_replication_slots=0, max_wal_senders=0)
    assert not_ok(state) == {
        "max_replication_slots": ("0 of 0 in use", "ALTER SYSTEM SET max_replication_slots "
                                                   "= 10; -- then restart PostgreSQL"),
        "max_wal_senders": ("0 of 0 in use", "ALTER SYSTEM SET max_wal_senders = 10; -- then "
                                             "restart PostgreSQL"),
    }


def test_a_publication_with_another_table_and_no_truncate_gets_both_fixes() -> None:
    publication = PublicationState(False, frozenset([*TABLES, "public.outra"]),
                                   frozenset({"insert", "update", "delete"}))
    state = dataclasses.replace(ready(), publication=publication)
    fixes = [SET_TABLES, 'ALTER PUBLICATION "condolake_cdc" SET (publish = '
                         "'insert, update, delete, truncate');"]
    assert not_ok(state) == {"publication condolake_cdc": (
        "public.condominios, public.imoveis, public.moradores, public.outra, public.transacoes;"
        " publishes insert, update, delete", "\n".join(fixes))}
    assert setup_statements(state, "condolake_cdc") == fixes


def test_a_publication_for_all_tables_is_dropped_and_made_again() -> None:
    state = dataclasses.replace(ready(), publication=PublicationState(True, frozenset(TABLES),
                                                                      ALL_OPS))
    assert not_ok(state) == {"publication condolake_cdc": (
        "all tables; publishes insert, update, delete, truncate",
        'DROP PUBLICATION "condolake_cdc";\n' + CREATE_PUB)}


def test_a_publication_missing_a_table_is_set_to_the_four() -> None:
    state = dataclasses.replace(ready(), publication=PublicationState(
        False, frozenset(TABLES[:2]), ALL_OPS))
    assert setup_statements(state, "condolake_cdc") == [SET_TABLES]


def test_only_the_tables_without_full_identity_are_altered() -> None:
    state = dataclasses.replace(ready(), replica_identity={**dict.fromkeys(TABLES, "full"),
                                                           TABLES[1]: "index"})
    assert setup_statements(state, "condolake_cdc") == [
        "ALTER TABLE public.moradores REPLICA IDENTITY FULL;"]


def test_a_slot_of_another_plugin_database_or_lost_is_not_ok() -> None:
    drop = ("SELECT pg_drop_replication_slot('condolake'); -- only when no other program uses "
            "it; or configure another slot name")
    cases = {
        SlotState("decoderbufs", "condomanage", False, "reserved"):
            "decoderbufs in database condomanage, inactive, WAL reserved",
        SlotState("pgoutput", "outra", True, "reserved"):
            "pgoutput in database outra, active, WAL reserved",
        SlotState(None, None, False, "reserved"): "physical in database -, inactive, WAL reserved",
        SlotState("pgoutput", "condomanage", False, "lost"):
            "pgoutput in database condomanage, inactive, WAL lost",
    }
    for slot, found in cases.items():
        state = dataclasses.replace(ready(), slot=slot, slots_used=1)
        assert not_ok(state) == {"replication slot condolake": (found, drop)}


def test_a_slot_name_with_a_quote_is_a_safe_literal() -> None:
    state = dataclasses.replace(ready(), slot=SlotState("test_decoding", "condomanage", False,
                                                        "reserved"))
    fix = not_ok(state, slot="it's")["replication slot it's"][1]
    assert fix is not None and fix.startswith("SELECT pg_drop_replication_slot('it''s');")


def test_the_report_lists_each_prerequisite_and_the_fixes() -> None:
    report = format_report([
        Prerequisite("wal_level", True, "logical", None),
        Prerequisite("publication p", False, "absent", "DROP PUBLICATION \"p\";\nCREATE ..."),
        Prerequisite("replication privilege", False, "u may not replicate",
                     'ALTER ROLE "u" WITH REPLICATION;'),
    ])
    assert report.splitlines() == [
        "ok      wal_level: logical",
        "not ok  publication p: absent",
        '        fix: DROP PUBLICATION "p";',
        "             CREATE ...",
        "not ok  replication privilege: u may not replicate",
        '        fix: ALTER ROLE "u" WITH REPLICATION;',
        "2 of 3 prerequisites not met: run the fixes above as a superuser or the tables' owner",
    ]


def test_the_report_of_a_ready_source_says_so() -> None:
    report = format_report(judge(ready(), publication="condolake_cdc", slot="condolake"))
    assert report.splitlines()[0] == "ok      wal_level: logical"
    assert report.splitlines()[-1] == "all 10 prerequisites met"
    assert "fix:" not in report


def test_a_row_filter_or_column_list_is_set_back_to_whole_tables() -> None:
    publication = PublicationState(False, frozenset(TABLES), ALL_OPS,
                                   frozenset({"public.transacoes"}))
    state = dataclasses.replace(ready(), publication=publication)
    assert not_ok(state) == {"publication condolake_cdc": (
        "public.condominios, public.imoveis, public.moradores, public.transacoes; publishes "
        "insert, update, delete, truncate; row filter or column list on public.transacoes",
        SET_TABLES)}
