"""The pt-BR dashboard in a real headless Chromium against the real API server.

Every number the page shows is compared, as text, with gold read through Spark and formatted
by `condolake.formatting`: the page formats money from the API's decimal strings, so any
float on the way would show up here as a wrong cent.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from tests.integration.serving.browser import headless_chromium

from condolake.catalog import MART_NAMES
from condolake.config import Settings
from condolake.formatting import format_brl, format_count
from condolake.layout import Layer, table_path

LOAD_TIMEOUT_S = 90
POLL_S = 0.1
TOP_RESIDENTS = 10
STALE_AFTER_S = 3600  # app.js: STALE_AFTER_S
DASHBOARD_TIME_ZONE = ZoneInfo("America/Sao_Paulo")  # app.js: TIME_ZONE
KEY_STORAGE = "condolake.apiKey"  # app.js: KEY_STORAGE
COMMIT_FILE = re.compile(r"\d{20}\.json")
WRONG_KEY_MESSAGE = "Chave de API inválida ou ausente. Confira a chave e tente novamente."
DAILY_NOTE = ("O gráfico diário por tipo de imóvel reúne todos os condomínios e não está "
              "disponível para chaves restritas a um condomínio.")

pytestmark = pytest.mark.integration


# --- expectations from gold --------------------------------------------------------------------


@dataclass(frozen=True)
class Condominio:
    condominio_id: int
    nome: str
    quantidade_transacoes: int
    valor_total: Decimal


@dataclass(frozen=True)
class Morador:
    morador_id: int
    nome: str
    condominio_id: int
    quantidade_transacoes: int
    valor_total: Decimal


@dataclass(frozen=True)
class Gold:
    condominios: list[Condominio]  # by condominio_id
    moradores: list[Morador]  # by valor_total desc, morador_id asc (the dashboard's top order)
    transacoes_por_tipo: dict[str, int]  # daily mart summed over all days
    committed_at: dict[str, dt.datetime]  # each gold table's latest commit


def gold_table(spark: SparkSession, settings: Settings, name: str,
               columns: tuple[str, ...]) -> list[dict[str, Any]]:
    frame = spark.read.format("delta").load(table_path(settings.lake_path, Layer.GOLD, name))
    return [row.asDict() for row in frame.select(*columns).collect()]


def last_commit(settings: Settings, name: str) -> dt.datetime:
    """`commitInfo.timestamp` of the table's latest Delta commit (the protocol's commit time)."""
    log = Path(table_path(settings.lake_path, Layer.GOLD, name)) / "_delta_log"
    latest = max((path for path in log.iterdir() if COMMIT_FILE.fullmatch(path.name)),
                 key=lambda path: int(path.stem))
    for line in latest.read_text(encoding="utf-8").splitlines():
        info = json.loads(line).get("commitInfo")
        if info is not None:
            millis = info.get("inCommitTimestamp", info["timestamp"])
            return dt.datetime.fromtimestamp(millis / 1000, tz=dt.UTC)
    raise AssertionError(f"{latest} has no commitInfo")


@pytest.fixture(scope="module")
def gold(spark: SparkSession, serving_settings: Settings) -> Gold:
    condominios = sorted(
        (Condominio(**row) for row in gold_table(spark, serving_settings,
                                                  "transacoes_por_condominio",
                                                  tuple(Condominio.__dataclass_fields__))),
        key=lambda c: c.condominio_id)
    moradores = sorted(
        (Morador(**row) for row in gold_table(spark, serving_settings, "transacoes_por_morador",
                                              tuple(Morador.__dataclass_fields__))),
        key=lambda m: (-m.valor_total, m.morador_id))
    por_tipo = (spark.read.format("delta")
                .load(table_path(serving_settings.lake_path, Layer.GOLD,
                                 "transacoes_diarias_por_tipo"))
                .groupBy("tipo").agg(F.sum("quantidade_transacoes").alias("total"))
                .collect())
    return Gold(
        condominios=condominios,
        moradores=moradores,
        transacoes_por_tipo={row.tipo: row.total for row in por_tipo},
        committed_at={name: last_commit(serving_settings, name) for name in MART_NAMES},
    )


def masked(name: str) -> str:
    """The spec's masking, written out again here so the test does not trust the server's."""
    return " ".join(f"{word[0]}***" for word in name.split())


def scope_of(key_entry: str) -> int:
    """The condominio_id of a `name:role:scope:sha256` CONDOLAKE_SERVE_KEYS entry."""
    return int(key_entry.split(":")[2])


# --- driving the page --------------------------------------------------------------------------


def sign_in(driver: Chrome, base_url: str, key: str) -> None:
    driver.get(f"{base_url}/")
    # app.js enables the button once it has wired the form (before that a submit would post).
    entrar = WebDriverWait(driver, LOAD_TIMEOUT_S, POLL_S).until(
        EC.element_to_be_clickable((By.ID, "entrar")))
    field = driver.find_element(By.ID, "api-key")
    field.clear()
    field.send_keys(key)
    entrar.click()


ERROR_SHOWN, DATA_SHOWN = "erro", "dados"


def dashboard_state(driver: Chrome) -> str | None:
    """ERROR_SHOWN once the error box shows, DATA_SHOWN once the data is on screen."""
    if driver.find_element(By.ID, "erro").is_displayed():
        return ERROR_SHOWN
    if (driver.find_element(By.ID, "conteudo").is_displayed()
            and not driver.find_element(By.ID, "carregando").is_displayed()):
        return DATA_SHOWN
    return None


def wait_for_data(driver: Chrome) -> None:
    state = WebDriverWait(driver, LOAD_TIMEOUT_S, POLL_S).until(dashboard_state)
    if state == ERROR_SHOWN:
        raise AssertionError(f"the dashboard showed an error: {text_of(driver, 'erro')!r}")


def wait_for_error(driver: Chrome) -> str:
    state = WebDriverWait(driver, LOAD_TIMEOUT_S, POLL_S).until(dashboard_state)
    assert state == ERROR_SHOWN, "the dashboard loaded data instead of showing an error"
    return text_of(driver, "erro")


def cells(row: WebElement) -> list[str]:
    return [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]


def text_of(driver: Chrome, element_id: str) -> str:
    text: str = driver.find_element(By.ID, element_id).text
    return text


def stored_key(driver: Chrome) -> str | None:
    key: str | None = driver.execute_script(
        "return window.sessionStorage.getItem(arguments[0]);", KEY_STORAGE)
    return key


def condominium_rows(driver: Chrome) -> list[tuple[str, list[str]]]:
    return [(row.get_attribute("data-condominio-id") or "", cells(row))
            for row in driver.find_elements(By.CSS_SELECTOR,
                                            "#tabela-condominios tbody tr[data-condominio-id]")]


def resident_rows(driver: Chrome) -> list[tuple[str, list[str]]]:
    return [(row.get_attribute("data-morador-id") or "", cells(row))
            for row in driver.find_elements(By.CSS_SELECTOR,
                                            "#top-moradores tbody tr[data-morador-id]")]


def expected_condominium_rows(condominios: list[Condominio]) -> list[tuple[str, list[str]]]:
    return [(str(c.condominio_id), [str(c.condominio_id), c.nome,
                                    format_count(c.quantidade_transacoes),
                                    format_brl(c.valor_total)])
            for c in condominios]


def expected_resident_rows(moradores: list[Morador], show_name: bool = True,
                           ) -> list[tuple[str, list[str]]]:
    return [(str(m.morador_id), [f"{rank}º", str(m.morador_id),
                                 m.nome if show_name else masked(m.nome),
                                 str(m.condominio_id), format_count(m.quantidade_transacoes),
                                 format_brl(m.valor_total)])
            for rank, m in enumerate(moradores[:TOP_RESIDENTS], start=1)]


@pytest.fixture
def browser() -> Iterator[Chrome]:
    """A fresh headless Chromium (empty sessionStorage) for one test."""
    with headless_chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def admin_page(api_server: str, api_keys: dict[str, str]) -> Iterator[Chrome]:
    """One browser signed in with the admin key, shared by the read-only checks below."""
    with headless_chromium() as driver:
        sign_in(driver, api_server, api_keys["admin"])
        wait_for_data(driver)
        yield driver


# --- admin: everything, exactly ----------------------------------------------------------------


def test_condominium_table_matches_gold(admin_page: Chrome, gold: Gold) -> None:
    assert condominium_rows(admin_page) == expected_condominium_rows(gold.condominios)


def test_grand_totals_are_exact_sums_of_gold(admin_page: Chrome, gold: Gold) -> None:
    count = sum(c.quantidade_transacoes for c in gold.condominios)
    value = sum((c.valor_total for c in gold.condominios), start=Decimal("0.00"))
    assert text_of(admin_page, "total-transacoes") == format_count(count)
    assert text_of(admin_page, "valor-total") == format_brl(value)
    assert text_of(admin_page, "total-condominios") == format_count(len(gold.condominios))


def test_top_residents_match_gold_order_and_values(admin_page: Chrome, gold: Gold) -> None:
    assert resident_rows(admin_page) == expected_resident_rows(gold.moradores)


def test_freshness_badge_shows_the_oldest_gold_commit(admin_page: Chrome, gold: Gold) -> None:
    oldest = min(gold.committed_at.values())
    shown = oldest.astimezone(DASHBOARD_TIME_ZONE).strftime("%d/%m/%Y %H:%M")
    badge = admin_page.find_element(By.ID, "freshness")
    assert badge.text.startswith(f"Atualizado em {shown} · há ")
    stale = (dt.datetime.now(dt.UTC) - oldest).total_seconds() > STALE_AFTER_S
    assert badge.get_attribute("data-stale") == str(stale).lower()


def test_chart_draws_one_line_per_tipo_with_every_page(admin_page: Chrome,
                                                      gold: Gold) -> None:
    chart = admin_page.find_element(By.ID, "grafico-diario")
    lines = chart.find_elements(By.CSS_SELECTOR, "path, polyline")
    assert sorted(line.get_attribute("data-tipo") or "" for line in lines) == sorted(
        gold.transacoes_por_tipo)
    # The legend's per-tipo totals add up every page of the daily mart (well over 1000 rows).
    legend = {button.get_attribute("data-tipo"): button.find_element(By.CLASS_NAME, "total").text
              for button in admin_page.find_elements(By.CSS_SELECTOR, "#legenda-diario button")}
    assert legend == {tipo: format_count(total) for tipo, total in gold.transacoes_por_tipo.items()}
    labels = [text.text for text in chart.find_elements(By.CSS_SELECTOR, "text.titulo-eixo")]
    assert labels[0] in {"Data da transação", "Mês da transação"}
    assert labels[1].startswith("Transações por ")


def test_legend_hides_and_shows_a_line(admin_page: Chrome) -> None:
    def line_and_button(tipo: str) -> tuple[WebElement, WebElement]:
        selector = f'[data-tipo="{tipo}"]'
        return (admin_page.find_element(By.CSS_SELECTOR, f"#grafico-diario path{selector}"),
                admin_page.find_element(By.CSS_SELECTOR, f"#legenda-diario button{selector}"))

    first = admin_page.find_element(By.CSS_SELECTOR, "#legenda-diario button")
    tipo = first.get_attribute("data-tipo") or ""
    first.click()
    line, button = line_and_button(tipo)
    assert (line.get_attribute("visibility"), button.get_attribute("aria-pressed")) == (
        "hidden", "false")
    button.click()
    line, button = line_and_button(tipo)
    assert (line.get_attribute("visibility"), button.get_attribute("aria-pressed")) == (
        None, "true")


# Values the lake may not hold today: zero, cents only, negative, beyond 2^53 cents.
EDGE_MONEY = ("0.00", "0.01", "0.10", "-0.07", "999.99", "1000.00", "-1234567.89",
              "90071992547409.93", "12345678901234567890123.45")
EDGE_COUNTS = (0, 7, 999, 1000, 1234567, 2**53 + 1)


def test_formatting_module_matches_condolake_formatting(admin_page: Chrome,
                                                        api_server: str) -> None:
    shown = admin_page.execute_async_script(
        """
        const [url, money, counts, done] = arguments;
        import(url).then((f) => done([money.map(f.formatBrl),
                                      counts.map((c) => f.formatCount(BigInt(c)))]));
        """,
        f"{api_server}/static/format.js", list(EDGE_MONEY), [str(c) for c in EDGE_COUNTS])
    assert shown == [[format_brl(Decimal(value)) for value in EDGE_MONEY],
                     [format_count(count) for count in EDGE_COUNTS]]


def test_page_has_no_script_errors_and_a_screenshot(admin_page: Chrome,
                                                    tmp_path: Path) -> None:
    errors = [entry for entry in admin_page.get_log("browser")
              if entry["source"] == "javascript"]
    assert errors == []
    width = admin_page.get_window_size()["width"]
    height = admin_page.execute_script(  # the whole page: content plus the window's frame
        "return document.body.scrollHeight + window.outerHeight - window.innerHeight;")
    admin_page.set_window_size(width, height)
    shot = tmp_path / "dashboard.png"
    assert admin_page.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- keys, roles and errors --------------------------------------------------------------------


def test_sindico_sees_its_condominium_and_a_note_instead_of_the_chart(
        browser: Chrome, api_server: str, api_keys: dict[str, str],
        key_pairs: dict[str, tuple[str, str]], gold: Gold) -> None:
    condominio_id = scope_of(key_pairs["sindico"][1])
    own = [c for c in gold.condominios if c.condominio_id == condominio_id]
    sign_in(browser, api_server, api_keys["sindico"])
    wait_for_data(browser)

    assert condominium_rows(browser) == expected_condominium_rows(own)
    assert text_of(browser, "total-transacoes") == format_count(own[0].quantidade_transacoes)
    assert text_of(browser, "valor-total") == format_brl(own[0].valor_total)
    residents = [m for m in gold.moradores if m.condominio_id == condominio_id]
    assert resident_rows(browser) == expected_resident_rows(residents)
    assert text_of(browser, "nota-diario") == DAILY_NOTE
    assert not browser.find_element(By.ID, "grafico-diario").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, "#grafico-diario path") == []


def test_analyst_sees_masked_resident_names(browser: Chrome, api_server: str,
                                           api_keys: dict[str, str], gold: Gold) -> None:
    sign_in(browser, api_server, api_keys["analista"])
    wait_for_data(browser)
    assert resident_rows(browser) == expected_resident_rows(gold.moradores, show_name=False)


def test_wrong_key_shows_the_error_and_is_not_kept(browser: Chrome,
                                                  api_server: str) -> None:
    sign_in(browser, api_server, "chave-que-nao-existe")
    assert wait_for_error(browser) == WRONG_KEY_MESSAGE
    assert browser.find_element(By.ID, "erro").get_attribute("role") == "alert"
    assert not browser.find_element(By.ID, "conteudo").is_displayed()
    assert browser.find_element(By.ID, "api-key").is_displayed()
    assert stored_key(browser) is None


def test_key_survives_a_reload_until_sair(browser: Chrome, api_server: str,
                                          api_keys: dict[str, str], gold: Gold) -> None:
    sign_in(browser, api_server, api_keys["admin"])
    wait_for_data(browser)
    assert stored_key(browser) == api_keys["admin"]

    browser.refresh()
    wait_for_data(browser)  # signed in again from sessionStorage, nothing typed
    assert condominium_rows(browser) == expected_condominium_rows(gold.condominios)

    browser.find_element(By.ID, "sair").click()
    WebDriverWait(browser, LOAD_TIMEOUT_S, POLL_S).until(
        EC.visibility_of_element_located((By.ID, "api-key")))
    assert stored_key(browser) is None
    assert not browser.find_element(By.ID, "conteudo").is_displayed()
    assert not browser.find_element(By.ID, "freshness").is_displayed()
