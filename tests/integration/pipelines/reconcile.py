"""The gold aggregates computed directly in PostgreSQL over the rows the rules call valid.

This is an independent statement of the validation rules and gold contracts in SQL, so the
lake can be reconciled against its source to the cent.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from condolake.services.postgres import SourceDatabase

VALID_ROWS = """
WITH vc AS (
    SELECT condominio_id, nome FROM condominios
    WHERE btrim(nome) <> '' AND btrim(endereco) <> '' AND char_length(btrim(nome)) <= 255
), vm AS (
    SELECT m.morador_id, m.nome, m.condominio_id FROM moradores m
    JOIN vc ON vc.condominio_id = m.condominio_id
    WHERE btrim(m.nome) <> '' AND char_length(btrim(m.nome)) <= 255
      AND m.data_registro BETWEEN DATE '1900-01-01' AND %(run_date)s
), vi AS (
    SELECT i.imovel_id, lower(btrim(i.tipo)) AS tipo, i.condominio_id FROM imoveis i
    JOIN vc ON vc.condominio_id = i.condominio_id
    WHERE btrim(i.tipo) <> '' AND char_length(btrim(i.tipo)) <= 50 AND i.valor > 0
), vt AS (
    SELECT t.transacao_id, t.imovel_id, t.morador_id, t.data_transacao, t.valor_transacao
    FROM transacoes t
    JOIN vi ON vi.imovel_id = t.imovel_id
    JOIN vm ON vm.morador_id = t.morador_id
    WHERE t.valor_transacao > 0
      AND t.data_transacao BETWEEN DATE '1900-01-01' AND %(run_date)s
)
"""

POR_CONDOMINIO = VALID_ROWS + """
SELECT vc.condominio_id, vc.nome, count(vt.transacao_id),
       coalesce(sum(vt.valor_transacao), 0.00)
FROM vc
LEFT JOIN vi ON vi.condominio_id = vc.condominio_id
LEFT JOIN vt ON vt.imovel_id = vi.imovel_id
GROUP BY vc.condominio_id, vc.nome
"""

POR_MORADOR = VALID_ROWS + """
SELECT vm.morador_id, vm.nome, vm.condominio_id, count(vt.transacao_id),
       coalesce(sum(vt.valor_transacao), 0.00)
FROM vm LEFT JOIN vt ON vt.morador_id = vm.morador_id
GROUP BY vm.morador_id, vm.nome, vm.condominio_id
"""

DIARIAS_POR_TIPO = VALID_ROWS + """
SELECT vt.data_transacao, vi.tipo, count(*), sum(vt.valor_transacao)
FROM vt JOIN vi ON vi.imovel_id = vt.imovel_id
GROUP BY vt.data_transacao, vi.tipo
"""

COUNTS = VALID_ROWS + """
SELECT (SELECT count(*) FROM vc), (SELECT count(*) FROM vm), (SELECT count(*) FROM vi),
       (SELECT count(*) FROM vt)
"""

GOLD_QUERIES = {
    "transacoes_por_condominio": POR_CONDOMINIO,
    "transacoes_por_morador": POR_MORADOR,
    "transacoes_diarias_por_tipo": DIARIAS_POR_TIPO,
}


def expected_gold(db: SourceDatabase, run_date: dt.date) -> dict[str, set[tuple[object, ...]]]:
    with db.connect() as conn:
        return {
            name: {tuple(row) for row in conn.execute(query, {"run_date": run_date})}
            for name, query in GOLD_QUERIES.items()
        }


def expected_valid_counts(db: SourceDatabase, run_date: dt.date) -> dict[str, int]:
    with db.connect() as conn:
        row = conn.execute(COUNTS, {"run_date": run_date}).fetchone()
    assert row is not None
    return dict(zip(("condominios", "moradores", "imoveis", "transacoes"), map(int, row),
                    strict=True))


def as_money(value: object) -> Decimal:
    assert isinstance(value, Decimal)
    return value


def expected_valid_ids(db: SourceDatabase, run_date: dt.date) -> set[int]:
    """`transacao_id` of every transaction the rules call valid."""
    with db.connect() as conn:
        rows = conn.execute(VALID_ROWS + "SELECT transacao_id FROM vt", {"run_date": run_date})
        return {int(row[0]) for row in rows}
