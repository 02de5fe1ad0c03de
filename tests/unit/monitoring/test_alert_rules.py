"""The Prometheus alert rules, Alertmanager and Prometheus configs, checked by their own tools.

promtool and amtool come from Debian's `prometheus` and `prometheus-alertmanager` packages,
installed on first use (tests/support/apt.py). The rules' behaviour is in the promtool test
file next to this one; these tests run it, make sure it covers every alert both firing and
not firing, and that it can fail.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.support.apt import ensure_debian_packages

PROMTOOL = Path("/usr/bin/promtool")
AMTOOL = Path("/usr/bin/amtool")
DEBIAN_PACKAGES = ("prometheus", "prometheus-alertmanager")
TOOL_TIMEOUT_S = 120

CONFIG_DIR = Path(str(files("condolake.monitoring") / "prometheus"))
ALERTS = CONFIG_DIR / "alerts.yml"
ALERTMANAGER = CONFIG_DIR / "alertmanager.yml"
PROMETHEUS = CONFIG_DIR / "prometheus.yml"
RULE_TESTS = Path(__file__).parent / "prometheus" / "alerts_test.yml"

SPEC_ALERTS = {
    "CondoLakeBatchFailed", "CondoLakeBatchLate", "CondoLakeStreamDown",
    "CondoLakeStreamLagging", "CondoLakeStreamStale", "CondoLakeFreshnessSLABreached",
    "CondoLakeQuarantineRateHigh", "CondoLakeDuplicateRateHigh",
    "CondoLakeReconciliationMismatch", "CondoLakeGoldTotalsDisagree", "CondoLakeSchemaDrift",
    "CondoLakeExporterDown",
    "CondoLakeReplicationSlotRetainingWal",
    "CondoLakeCdcConnectorFailedOrPaused",
}
SEVERITIES = {"critical", "warning"}


@pytest.fixture(scope="module")
def tools() -> Iterator[None]:
    ensure_debian_packages(DEBIAN_PACKAGES, (PROMTOOL, AMTOOL))
    yield


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          timeout=TOOL_TIMEOUT_S, check=False, cwd=cwd)


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def rule_tests(path: Path = RULE_TESTS) -> list[dict[str, Any]]:
    return [case for test in yaml.safe_load(path.read_text())["tests"]
            for case in test["alert_rule_test"]]


# --- the files themselves -------------------------------------------------------------


def test_rule_file_has_exactly_the_alerts_of_the_spec() -> None:
    assert {rule["alert"] for rule in rules()} == SPEC_ALERTS
    assert all("alert" in rule for rule in rules()), "recording rules are not expected here"


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: rule["alert"])
def test_every_alert_has_severity_summary_description_and_runbook(rule: dict[str, Any]) -> None:
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert set(annotations) == {"summary", "description", "runbook_url"}
    assert annotations["summary"].strip() and annotations["description"].strip()
    assert annotations["runbook_url"] == f"docs/operations.md#{rule['alert'].lower()}"


def test_thresholds_come_from_the_exporter_not_from_the_rule_file() -> None:
    """Each threshold setting is compared through condolake_threshold{name=...}."""
    expressions = "\n".join(rule["expr"] for rule in rules())
    named = set(re.findall(r'condolake_threshold\{name="([a-z_]+)"\}', expressions))
    assert named == {"batch_late_s", "stream_lag_max", "stream_stale_s", "freshness_sla_s",
                     "quarantine_rate_max", "duplicate_rate_max"}


def test_promtool_tests_cover_every_alert_firing_and_not_firing() -> None:
    cases = rule_tests()
    tested = {case["alertname"] for case in cases}
    # An alert name promtool does not know would "pass" every exp_alerts: [] silently.
    assert tested == SPEC_ALERTS
    for alert in SPEC_ALERTS:
        outcomes = {bool(case["exp_alerts"]) for case in cases if case["alertname"] == alert}
        assert outcomes == {True, False}, f"{alert}: firing and not firing both expected"


# --- promtool and amtool --------------------------------------------------------------


@pytest.mark.usefixtures("tools")
def test_promtool_check_rules_accepts_the_rule_file() -> None:
    result = run(PROMTOOL, "check", "rules", ALERTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout


@pytest.mark.usefixtures("tools")
def test_promtool_unit_tests_of_the_rules_pass() -> None:
    result = run(PROMTOOL, "test", "rules", RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["Unit", "Testing:", str(RULE_TESTS), "SUCCESS"]


@pytest.mark.usefixtures("tools")
def test_promtool_fails_a_wrong_expectation(tmp_path: Path) -> None:
    """The harness can fail: the batch-failed alert expected as a warning is reported."""
    text = RULE_TESTS.read_text()
    assert text.count("- ../../../../src/condolake/monitoring/prometheus/alerts.yml") == 1
    text = text.replace("- ../../../../src/condolake/monitoring/prometheus/alerts.yml",
                        f"- {ALERTS}")
    expected = "          - exp_labels:\n              severity: critical\n              job: batch"
    assert text.count(expected) == 1
    wrong = tmp_path / "wrong_test.yml"
    wrong.write_text(text.replace(expected, expected.replace("critical", "warning")))

    result = run(PROMTOOL, "test", "rules", wrong)

    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "FAILED" in output
    assert "alertname: CondoLakeBatchFailed, time: 2m" in output
    assert output.count("alertname: ") == 1, output  # only the broken expectation


@pytest.mark.usefixtures("tools")
def test_amtool_accepts_the_alertmanager_config() -> None:
    result = run(AMTOOL, "check-config", ALERTMANAGER)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert " - 2 receivers" in result.stdout and " - 2 inhibit rules" in result.stdout


def test_alertmanager_routes_and_inhibitions_name_real_alerts() -> None:
    config = yaml.safe_load(ALERTMANAGER.read_text())
    receivers = {receiver["name"] for receiver in config["receivers"]}
    assert config["route"]["receiver"] == "condolake-webhook"
    assert config["route"]["group_by"] == ["alertname"]
    assert {route["receiver"] for route in config["route"]["routes"]} <= receivers
    matchers = [m for rule in config["inhibit_rules"]
                for m in rule["source_matchers"] + rule["target_matchers"]]
    named = {name for m in matchers if m.startswith("alertname")
             for name in re.findall(r"CondoLake\w+", m)}
    assert named and named <= SPEC_ALERTS


@pytest.mark.usefixtures("tools")
def test_promtool_accepts_the_example_prometheus_config() -> None:
    result = run(PROMTOOL, "check", "config", PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout
    assert f"SUCCESS: {len(rules())} rules found" in result.stdout
