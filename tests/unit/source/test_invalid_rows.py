"""Invalid-row injection: which rows, which kinds, and that each kind breaks its rule."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from condolake.source.invalid_rows import (
    CONDOMINIO_KINDS,
    EARLIEST_VALID_DATE,
    IMOVEL_KINDS,
    MORADOR_KINDS,
    TRANSACAO_KINDS,
    pick_invalid,
    spoil_condominio,
    spoil_imovel,
    spoil_morador,
    spoil_transacao,
)
from condolake.source.rows import CondominioRow, ImovelRow, MoradorRow, TransacaoRow

TODAY = date(2026, 3, 15)
FIRST_FUTURE_DAY = TODAY + timedelta(days=30)


def test_pick_invalid_is_deterministic_and_takes_turns_over_the_kinds() -> None:
    picked = pick_invalid(random.Random(1), 1000, 0.02, TRANSACAO_KINDS)
    again = pick_invalid(random.Random(1), 1000, 0.02, TRANSACAO_KINDS)
    assert picked == again
    assert len(picked) == 20
    assert all(0 <= position < 1000 for position in picked)
    assert list(picked.values())[:3] == list(TRANSACAO_KINDS)


def test_pick_invalid_with_no_share_picks_nothing() -> None:
    assert pick_invalid(random.Random(1), 1000, 0.0, MORADOR_KINDS) == {}


def _blank(text: str) -> bool:
    return text.strip(" ") == ""


def _bad_date(day: date) -> bool:
    return day >= FIRST_FUTURE_DAY or day < EARLIEST_VALID_DATE


@pytest.mark.parametrize("seed", range(20))
def test_every_kind_breaks_a_rule(seed: int) -> None:
    rng = random.Random(seed)
    condominio = CondominioRow(1, "Residencial Aurora", "Rua A, 1")
    morador = MoradorRow(1, "Ana Souza", 1, date(2020, 5, 1))
    imovel = ImovelRow(1, "casa", 1, 500_000_00)
    transacao = TransacaoRow(1, 1, 1, date(2024, 1, 1), 1_500_00)
    for kind in CONDOMINIO_KINDS:
        row = spoil_condominio(condominio, kind, rng)
        assert _blank(row.nome) or _blank(row.endereco)
    for kind in MORADOR_KINDS:
        spoiled = spoil_morador(morador, kind, rng, TODAY)
        assert _blank(spoiled.nome) or _bad_date(spoiled.data_registro)
    for kind in IMOVEL_KINDS:
        broken = spoil_imovel(imovel, kind, rng)
        assert _blank(broken.tipo) or broken.valor_cents <= 0
    for kind in TRANSACAO_KINDS:
        bad = spoil_transacao(transacao, kind, rng, TODAY)
        assert bad.valor_cents <= 0 or _bad_date(bad.data_transacao)
        assert bad.transacao_id == 1


def test_an_unknown_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown invalid kind"):
        spoil_imovel(ImovelRow(1, "casa", 1, 1), "typo", random.Random(0))
