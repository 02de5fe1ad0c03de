"""Synthetic CondoManage source data in PostgreSQL: pt-BR, deterministic for a seed, by COPY.

Scale 1 is about 100 condominios, 20 000 moradores, 30 000 imoveis and 1 000 000 transacoes.
Ids are explicit (1..N) and the serial sequences are moved past them afterwards, so later
INSERTs without an id continue the numbering. Valid dates end two days before `today`; see
`invalid_rows` for what `invalid_share` injects.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from faker import Faker

from condolake.errors import InputError
from condolake.source.bulk_load import (
    Connection,
    check_references,
    copy_lines,
    foreign_key_triggers_skipped,
    make_room,
    reset_sequences,
)
from condolake.source.ddl import TABLE_NAMES, init_schema
from condolake.source.fake_data import (
    address,
    condominio_name,
    odd_tipo,
    pick_property_type,
    property_value_cents,
    recent_transaction_days,
    registration_days,
    scaled_count,
    transaction_days,
)
from condolake.source.invalid_rows import (
    CONDOMINIO_KINDS,
    IMOVEL_KINDS,
    MORADOR_KINDS,
    TRANSACAO_KINDS,
    pick_invalid,
    spoil_condominio,
    spoil_imovel,
    spoil_morador,
)
from condolake.source.rows import CondominioRow, ImovelRow, MoradorRow
from condolake.source.transacoes_rows import TransacaoPools, transacao_lines

log = logging.getLogger(__name__)

BASE_ROWS = {"condominios": 100, "moradores": 20_000, "imoveis": 30_000, "transacoes": 1_000_000}
FAKER_LOCALE = "pt_BR"
CENTS_PER_REAL = 100


@dataclass(frozen=True)
class GenerationReport:
    """What `generate` loaded: rows and injected invalid rows per table, and how long it took."""

    rows: dict[str, int]
    invalid: dict[str, int]
    tipo_variants: int  # imoveis whose tipo has odd casing or spaces (valid after normalising)
    seconds: float
    copy_seconds: dict[str, float]  # per table: generating and COPYing its rows


def generate(
    conn: Connection,
    *,
    scale: float,
    seed: int = 42,
    invalid_share: float = 0.0,
    today: date | None = None,
    replace: bool = False,
) -> GenerationReport:
    """Create the schema if needed and fill the four tables, all in one transaction.

    The tables must be empty unless `replace`, which truncates them first. `today` (default:
    the current date) anchors every date, so the same `seed` and `today` give identical data.
    """
    if scale <= 0:
        raise InputError(f"scale must be positive, got {scale}")
    if not 0.0 <= invalid_share < 1.0:
        raise InputError(f"invalid_share must be in [0, 1), got {invalid_share}")
    day = today or date.today()
    counts = {table: scaled_count(base, scale) for table, base in BASE_ROWS.items()}
    fake = Faker(FAKER_LOCALE)
    fake.seed_instance(seed)
    started = time.perf_counter()
    invalid: dict[str, int] = {}
    seconds: dict[str, float] = {}
    lines: Iterable[str]
    with conn.transaction():
        init_schema(conn)
        make_room(conn, replace)
        with foreign_key_triggers_skipped(conn) as skipped:
            if not skipped:
                log.info("no privilege to skip FK triggers: loading with per-row FK checks "
                         "(slower)")
            rng = _table_rng(seed, "condominios")
            lines, invalid["condominios"] = _condominio_lines(fake, rng, counts, invalid_share)
            seconds["condominios"] = copy_lines(conn, "condominios", lines)

            rng = _table_rng(seed, "moradores")
            lines, invalid["moradores"] = _morador_lines(fake, rng, counts, invalid_share, day)
            seconds["moradores"] = copy_lines(conn, "moradores", lines)

            rng = _table_rng(seed, "imoveis")
            imoveis, invalid["imoveis"], tipo_variants = _imoveis(rng, counts, invalid_share)
            seconds["imoveis"] = copy_lines(conn, "imoveis", (r.copy_line() for r in imoveis))

            rng = _table_rng(seed, "transacoes")
            spoiled = pick_invalid(rng, counts["transacoes"], invalid_share, TRANSACAO_KINDS)
            pools = TransacaoPools(
                imovel_ids=range(1, counts["imoveis"] + 1),
                imovel_cents=[row.valor_cents for row in imoveis],
                morador_ids=range(1, counts["moradores"] + 1),
                days=transaction_days(day),
            )
            lines = transacao_lines(rng, 1, counts["transacoes"], pools, spoiled, day)
            invalid["transacoes"] = len(spoiled)
            seconds["transacoes"] = copy_lines(conn, "transacoes", lines)
            if skipped:
                check_references(conn)
        reset_sequences(conn)
    for table in TABLE_NAMES:
        rows, spoiled_rows, took = counts[table], invalid[table], seconds[table]
        log.info(f"{table}: {rows:,} rows ({spoiled_rows:,} invalid) in {took:.1f} s")
    return GenerationReport(
        rows=counts,
        invalid=invalid,
        tipo_variants=tipo_variants,
        seconds=time.perf_counter() - started,
        copy_seconds=seconds,
    )


def append_transactions(
    conn: Connection,
    *,
    count: int,
    seed: int,
    today: date | None = None,
) -> tuple[int, int]:
    """Append `count` valid transacoes dated in the last month, with ids after the current
    maximum, between existing imoveis and moradores; return (first_id, last_id)."""
    if count < 1:
        raise InputError(f"count must be at least 1, got {count}")
    day = today or date.today()
    with conn.transaction():
        # Concurrent appends would pick the same ids: serialise them.
        conn.execute("LOCK TABLE transacoes IN SHARE ROW EXCLUSIVE MODE")
        imoveis = conn.execute("SELECT imovel_id, valor FROM imoveis ORDER BY imovel_id").fetchall()
        moradores = conn.execute("SELECT morador_id FROM moradores ORDER BY morador_id").fetchall()
        if not imoveis or not moradores:
            raise InputError("there are no imoveis or moradores to append transacoes to")
        row = conn.execute("SELECT coalesce(max(transacao_id), 0) FROM transacoes").fetchone()
        first_id = int(row[0] if row else 0) + 1
        pools = TransacaoPools(
            imovel_ids=[int(imovel_id) for imovel_id, _ in imoveis],
            imovel_cents=[int(valor * CENTS_PER_REAL) for _, valor in imoveis],
            morador_ids=[int(morador_id) for (morador_id,) in moradores],
            days=recent_transaction_days(day),
        )
        rng = _table_rng(seed, "transacoes/append")
        lines = transacao_lines(rng, first_id, count, pools, {}, day)
        seconds = copy_lines(conn, "transacoes", lines)
        reset_sequences(conn, ("transacoes",))
    last_id = first_id + count - 1
    log.info(f"transacoes: appended ids {first_id}..{last_id} in {seconds:.1f} s")
    return first_id, last_id


def _condominio_lines(
    fake: Faker, rng: random.Random, counts: dict[str, int], invalid_share: float
) -> tuple[list[str], int]:
    spoiled = pick_invalid(rng, counts["condominios"], invalid_share, CONDOMINIO_KINDS)
    taken: set[str] = set()
    lines = []
    for n in range(counts["condominios"]):
        row = CondominioRow(n + 1, condominio_name(fake, rng, taken), address(fake))
        if n in spoiled:
            row = spoil_condominio(row, spoiled[n], rng)
        lines.append(row.copy_line())
    return lines, len(spoiled)


def _morador_lines(
    fake: Faker, rng: random.Random, counts: dict[str, int], invalid_share: float, today: date
) -> tuple[Iterator[str], int]:
    spoiled = pick_invalid(rng, counts["moradores"], invalid_share, MORADOR_KINDS)
    days = registration_days(today)

    def lines() -> Iterator[str]:
        for n in range(counts["moradores"]):
            condominio_id = rng.randint(1, counts["condominios"])
            registered = date.fromisoformat(rng.choice(days))
            row = MoradorRow(n + 1, fake.name(), condominio_id, registered)
            if n in spoiled:
                row = spoil_morador(row, spoiled[n], rng, today)
            yield row.copy_line()

    return lines(), len(spoiled)


def _imoveis(
    rng: random.Random, counts: dict[str, int], invalid_share: float
) -> tuple[list[ImovelRow], int, int]:
    """The imoveis, how many were spoiled, and how many got an odd (still valid) tipo spelling:
    as many as were spoiled, so none when invalid_share is 0."""
    rows: list[ImovelRow] = []
    for n in range(counts["imoveis"]):
        kind = pick_property_type(rng)
        condominio_id = rng.randint(1, counts["condominios"])
        rows.append(ImovelRow(n + 1, kind.tipo, condominio_id, property_value_cents(kind, rng)))
    spoiled = pick_invalid(rng, len(rows), invalid_share, IMOVEL_KINDS)
    valid_positions = [n for n in range(len(rows)) if n not in spoiled]
    odd = rng.sample(valid_positions, min(len(valid_positions), len(spoiled)))
    for n, kind_name in spoiled.items():
        rows[n] = spoil_imovel(rows[n], kind_name, rng)
    for n in odd:
        rows[n] = rows[n]._replace(tipo=odd_tipo(rows[n].tipo, rng))
    return rows, len(spoiled), len(odd)


def _table_rng(seed: int, table: str) -> random.Random:
    """One generator per table, so a table's rows do not depend on how the others were drawn."""
    return random.Random(f"{seed}/{table}")
