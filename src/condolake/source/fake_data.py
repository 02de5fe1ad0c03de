"""Value pools and pure helpers for the synthetic CondoManage data (pt-BR, money in cents).

Money is handled as integer cents until it is written, so no float ever reaches a NUMERIC.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from faker import Faker

from condolake.source.rows import CENTS_PER_REAL


@dataclass(frozen=True)
class PropertyType:
    """A `tipo` of imovel, how common it is and its price range in reais."""

    tipo: str
    weight: int
    min_reais: int
    max_reais: int


PROPERTY_TYPES: tuple[PropertyType, ...] = (
    PropertyType("apartamento", 50, 250_000, 1_800_000),
    PropertyType("casa", 12, 350_000, 3_500_000),
    PropertyType("cobertura", 4, 900_000, 6_000_000),
    PropertyType("studio", 5, 200_000, 650_000),
    PropertyType("kitnet", 5, 120_000, 380_000),
    PropertyType("sala comercial", 7, 150_000, 1_200_000),
    PropertyType("loja", 4, 200_000, 2_500_000),
    PropertyType("galpão", 1, 600_000, 5_000_000),
    PropertyType("vaga de garagem", 10, 20_000, 90_000),
    PropertyType("depósito", 2, 15_000, 60_000),
)
PROPERTY_TYPE_NAMES: tuple[str, ...] = tuple(kind.tipo for kind in PROPERTY_TYPES)
# Property prices end in whole hundreds of reais, as listings do.
PRICE_STEP_CENTS = 100 * CENTS_PER_REAL

CONDOMINIO_PREFIXES = (
    "Condomínio Residencial",
    "Condomínio Edifício",
    "Condomínio",
    "Residencial",
    "Edifício",
    "Condomínio Parque",
)
CONDOMINIO_PLACES = (
    "Jardim",
    "Parque",
    "Bosque",
    "Recanto",
    "Vila",
    "Solar",
    "Morada",
    "Alto",
    "Mirante",
    "Portal",
    "Chácara",
    "Quinta",
    "Praça",
    "Terraço",
)
CONDOMINIO_NATURE = (
    "das Acácias",
    "dos Ipês",
    "das Palmeiras",
    "das Orquídeas",
    "dos Pássaros",
    "do Sol",
    "da Serra",
    "das Flores",
    "dos Jacarandás",
    "das Mangueiras",
    "do Lago",
    "da Lagoa",
    "das Hortênsias",
    "dos Girassóis",
    "das Águas",
    "do Horizonte",
    "dos Manacás",
    "das Araucárias",
    "das Gaivotas",
    "dos Coqueiros",
    "da Cachoeira",
    "das Bromélias",
)
NAME_ATTEMPTS = 20
CEP_PATTERN = "#####-###"

# Share of each kind of transaction (cumulative thresholds on one uniform draw).
FEE_SHARE = 0.55  # taxa condominial
RENT_SHARE = 0.30  # aluguel, a fraction of the property's value per month
SALE_SHARE = 0.005  # venda: the property's value, give or take 15 %
FEE_RANGE_CENTS = (150_00, 2_500_00)
RENT_FRACTION = (0.003, 0.007)
SERVICE_RANGE_CENTS = (150_00, 25_000_00)  # serviços, reformas, multas: log-uniform
SALE_FRACTION = (0.85, 1.15)
MIN_TRANSACTION_CENTS = 150_00
MAX_RENT_CENTS = 25_000_00

# Valid dates end two days before `today`, so they are in the past in every time zone.
VALID_DATE_MARGIN_DAYS = 2
REGISTRATION_START = date(2005, 1, 1)
TRANSACTION_YEARS = 5
TRANSACTION_RECENCY_DAYS = 30


def scaled_count(base: int, scale: float) -> int:
    """round(base * scale), at least 1."""
    return max(1, round(base * scale))


def day_strings(first: date, last: date) -> list[str]:
    """ISO strings of every day from first to last, inclusive (a pool to draw dates from)."""
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def last_valid_day(today: date) -> date:
    return today - timedelta(days=VALID_DATE_MARGIN_DAYS)


def registration_days(today: date) -> list[str]:
    return day_strings(REGISTRATION_START, last_valid_day(today))


def transaction_days(today: date) -> list[str]:
    """Several years of days, ending about a month before today."""
    last = today - timedelta(days=TRANSACTION_RECENCY_DAYS)
    first = last.replace(year=last.year - TRANSACTION_YEARS, day=1)
    return day_strings(first, last)


def recent_transaction_days(today: date) -> list[str]:
    """The last month's days (for appended, "new" transactions)."""
    first = today - timedelta(days=TRANSACTION_RECENCY_DAYS - 1)
    return day_strings(first, last_valid_day(today))


def condominio_name(fake: Faker, rng: random.Random, taken: set[str]) -> str:
    """'Condomínio Residencial Jardim das Acácias', unique among `taken` while possible."""
    name = ""
    for _ in range(NAME_ATTEMPTS):
        prefix = rng.choice(CONDOMINIO_PREFIXES)
        if rng.random() < 0.15:
            name = f"{prefix} {fake.last_name()}"
        else:
            name = f"{prefix} {rng.choice(CONDOMINIO_PLACES)} {rng.choice(CONDOMINIO_NATURE)}"
        if name not in taken:
            break
    taken.add(name)
    return name


def address(fake: Faker) -> str:
    """'Rua das Flores, 123 - Centro, Campinas - SP, CEP 13010-000'"""
    return (
        f"{fake.street_name()}, {fake.building_number()} - {fake.bairro()}, "
        f"{fake.city()} - {fake.estado_sigla()}, CEP {fake.numerify(CEP_PATTERN)}"
    )


def pick_property_type(rng: random.Random) -> PropertyType:
    return rng.choices(PROPERTY_TYPES, weights=[kind.weight for kind in PROPERTY_TYPES])[0]


def property_value_cents(kind: PropertyType, rng: random.Random) -> int:
    """A price within the type's range, log-uniform (cheap ones are more common)."""
    low, high = math.log(kind.min_reais), math.log(kind.max_reais)
    cents = math.exp(rng.uniform(low, high)) * CENTS_PER_REAL
    return max(PRICE_STEP_CENTS, round(cents / PRICE_STEP_CENTS) * PRICE_STEP_CENTS)


def transaction_cents(draw: float, spread: float, property_cents: int) -> int:
    """The amount of one transaction from two uniform draws in [0, 1) and its property's value.

    `draw` picks the kind (fee, rent, service, sale), `spread` the amount within the kind.
    Pure arithmetic so the hot loop stays fast; the result is always >= R$ 150.00.
    """
    if draw < FEE_SHARE:
        low, high = FEE_RANGE_CENTS
        cents = low + int(spread * (high - low))
    elif draw < FEE_SHARE + RENT_SHARE:
        low_f, high_f = RENT_FRACTION
        cents = min(MAX_RENT_CENTS, int(property_cents * (low_f + spread * (high_f - low_f))))
    elif draw < 1.0 - SALE_SHARE:
        low, high = SERVICE_RANGE_CENTS
        cents = int(low * (high / low) ** spread)
    else:
        low_f, high_f = SALE_FRACTION
        cents = int(property_cents * (low_f + spread * (high_f - low_f)))
    return max(MIN_TRANSACTION_CENTS, cents)


def odd_tipo(tipo: str, rng: random.Random) -> str:
    """The same tipo with odd casing or surrounding spaces ('  Apartamento ', 'CASA').

    Not invalid: trimming and lower-casing gives `tipo` back. Inner spacing is never touched.
    """
    variants: Sequence[str] = (
        tipo.upper(),
        tipo.title(),
        tipo.capitalize(),
        f"  {tipo.capitalize()} ",
        f" {tipo}",
        f"{tipo.upper()}  ",
    )
    return rng.choice(variants)
