"""The replication line the embedded PostgreSQL adds to pg_hba.conf (pure text edit)."""

from __future__ import annotations

from condolake.services.postgres import REPLICATION_HBA_LINE, with_hba_line

LINE = "host replication condolake 127.0.0.1/32 scram-sha-256"
INITDB_HBA = (
    "# TYPE  DATABASE        USER            ADDRESS                 METHOD\n"
    "local   all             all                                     scram-sha-256\n"
    "host    all             all             127.0.0.1/32            scram-sha-256\n"
    "local   replication     all                                     scram-sha-256\n"
    "host    replication     all             127.0.0.1/32            scram-sha-256\n"
)


def test_the_line_names_the_superuser_over_loopback() -> None:
    assert REPLICATION_HBA_LINE == LINE


def test_the_line_goes_before_the_first_replication_line() -> None:
    lines = with_hba_line(INITDB_HBA, LINE).splitlines()
    assert lines[3] == LINE
    assert lines[4].startswith("local   replication")
    assert len(lines) == 6


def test_a_file_with_the_line_is_unchanged_whatever_its_spacing() -> None:
    text = INITDB_HBA + "host   replication   condolake   127.0.0.1/32   scram-sha-256  # cdc\n"
    assert with_hba_line(text, LINE) == text
    once = with_hba_line(INITDB_HBA, LINE)
    assert with_hba_line(once, LINE) == once


def test_a_commented_out_line_does_not_count() -> None:
    text = "host all all 127.0.0.1/32 scram-sha-256\n# " + LINE + "\n"
    assert with_hba_line(text, LINE) == text + LINE + "\n"
    assert with_hba_line("host all all 127.0.0.1/32 md5", LINE) == (
        "host all all 127.0.0.1/32 md5\n" + LINE + "\n")
