"""Pure helpers of the generator: value pools, money, COPY text, dates."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
from faker import Faker

from condolake.source.fake_data import (
    CONDOMINIO_PREFIXES,
    PRICE_STEP_CENTS,
    PROPERTY_TYPES,
    address,
    condominio_name,
    odd_tipo,
    property_value_cents,
    recent_transaction_days,
    registration_days,
    scaled_count,
    transaction_cents,
    transaction_days,
)
from condolake.source.rows import ImovelRow, MoradorRow, copy_text, money_text

TODAY = date(2026, 3, 15)


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0.00"), (5, "0.05"), (123456, "1234.56"), (-5, "-0.05"), (-250000, "-2500.00")],
)
def test_money_text_writes_cents_as_a_numeric_literal(cents: int, text: str) -> None:
    assert money_text(cents) == text


def test_copy_text_escapes_what_copy_would_misread() -> None:
    assert copy_text("a\\b\tc\nd\re") == "a\\\\b\\tc\\nd\\re"
    assert copy_text("Condomínio Aurora") == "Condomínio Aurora"


def test_rows_become_tab_separated_copy_lines() -> None:
    assert ImovelRow(7, "sala comercial", 2, 15000000).copy_line() == (
        "7\tsala comercial\t2\t150000.00\n"
    )
    assert MoradorRow(1, "Ana\tLiz", 3, date(2020, 1, 2)).copy_line() == (
        "1\tAna\\tLiz\t3\t2020-01-02\n"
    )


@pytest.mark.parametrize(
    ("base", "scale", "expected"),
    [
        (100, 1.0, 100),
        (100, 0.01, 1),
        (100, 0.001, 1),
        (1_000_000, 0.01, 10_000),
        (30_000, 2.5, 75_000),
    ],
)
def test_scaled_count_rounds_and_keeps_at_least_one_row(
    base: int, scale: float, expected: int
) -> None:
    assert scaled_count(base, scale) == expected


def test_property_values_stay_in_their_type_range_in_whole_hundreds() -> None:
    rng = random.Random(1)
    for kind in PROPERTY_TYPES:
        values = [property_value_cents(kind, rng) for _ in range(500)]
        assert all(kind.min_reais * 100 <= v <= kind.max_reais * 100 for v in values), kind
        assert all(v % PRICE_STEP_CENTS == 0 for v in values)


@pytest.mark.parametrize("draw", [0.0, 0.3, 0.6, 0.9, 0.999])
@pytest.mark.parametrize("spread", [0.0, 0.5, 0.999999])
@pytest.mark.parametrize("property_cents", [-500, 0, 2_000_000, 600_000_000])
def test_transaction_amounts_are_at_least_150_reais(
    draw: float, spread: float, property_cents: int
) -> None:
    assert transaction_cents(draw, spread, property_cents) >= 150_00


def test_fees_and_rents_stay_between_150_and_25000_reais() -> None:
    rng = random.Random(2)
    amounts = [transaction_cents(rng.random() * 0.85, rng.random(), 90_000_000) for _ in range(999)]
    assert all(150_00 <= cents <= 25_000_00 for cents in amounts)


def test_a_sale_is_about_the_property_value() -> None:
    assert 850_000_00 <= transaction_cents(0.9999, 0.5, 1_000_000_00) <= 1_150_000_00


def test_odd_tipo_spellings_normalise_back_to_the_tipo() -> None:
    rng = random.Random(3)
    for kind in PROPERTY_TYPES:
        spellings = {odd_tipo(kind.tipo, rng) for _ in range(50)}
        assert kind.tipo not in spellings
        assert {s.strip().lower() for s in spellings} == {kind.tipo}


def test_condominio_names_are_portuguese_and_unique_while_possible() -> None:
    fake, rng, taken = Faker("pt_BR"), random.Random(4), set[str]()
    fake.seed_instance(4)
    names = [condominio_name(fake, rng, taken) for _ in range(200)]
    assert len(set(names)) == 200
    assert all(name.startswith(CONDOMINIO_PREFIXES) for name in names)


def test_addresses_name_street_city_state_and_cep() -> None:
    fake = Faker("pt_BR")
    fake.seed_instance(5)
    text = address(fake)
    assert text.count(" - ") == 2
    assert text.rsplit("CEP ", 1)[1][5] == "-"


def test_valid_date_pools_end_before_yesterday() -> None:
    assert registration_days(TODAY)[-1] == (TODAY - timedelta(days=2)).isoformat()
    assert transaction_days(TODAY)[-1] == (TODAY - timedelta(days=30)).isoformat()
    assert transaction_days(TODAY)[0] <= "2021-02-13"
    recent = recent_transaction_days(TODAY)
    assert (recent[0], recent[-1]) == (
        (TODAY - timedelta(days=29)).isoformat(),
        (TODAY - timedelta(days=2)).isoformat(),
    )
