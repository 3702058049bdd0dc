"""`/metrics` and the generated alerting rules, checked by Prometheus's own promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import webfixture
from click.testing import CliRunner
from dbservers import ci_mode
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from mfastats.cli import cli
from mfastats.outputs.prometheus import EVALUATED_ALERTS, rule_list
from mfastats.report import build_report
from mfastats.web.app import create_app
from mfastats.web.state import ReportStore

TOKEN = "prometheus-test-token-0123456789"
ALLOWED_LABELS = {"domain", "method", "tier", "alert", "severity", "state", "issue", "version"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        message = "promtool not found (Debian package `prometheus`: apt-get install -y prometheus)"
        if ci_mode():
            pytest.fail(message, pytrace=False)
        pytest.skip(f"{message} (or set CI=true to make this a failure)")
    return path


@pytest.fixture(scope="module")
def metrics_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    fixture = webfixture.build(tmp_path_factory.mktemp("prom"))
    settings = fixture.settings()
    store = ReportStore(lambda: build_report(settings, webfixture.AS_OF))
    assert store.refresh()
    response = TestClient(create_app(store, token=TOKEN)).get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return response.text


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def test_promtool_check_metrics(metrics_text: str) -> None:
    result = subprocess.run([promtool(), "check", "metrics"], input=metrics_text, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_series_are_unique_bounded_and_never_identity_ids(metrics_text: str) -> None:
    samples = _samples(metrics_text)
    keys = [(name, tuple(sorted(labels.items()))) for name, labels, _ in samples]
    assert len(keys) == len(set(keys)), "duplicated series"
    for name, labels, _ in samples:
        assert name.startswith("mfastats_")
        assert set(labels) <= ALLOWED_LABELS, (name, labels)
        for value in labels.values():
            assert not UUID.search(value), (name, labels)
            assert value not in webfixture.IDS.values()
    assert not any(identity in metrics_text for identity in webfixture.IDS.values())


def test_values_come_from_the_report(metrics_text: str) -> None:
    values = {(name, tuple(sorted(labels.items()))): value for name, labels, value in _samples(metrics_text)}

    def value(name: str, **labels: str) -> float:
        return values[(name, tuple(sorted(labels.items())))]

    assert value("mfastats_identities", domain="ciam") == 5
    assert value("mfastats_enrolled_identities", domain="iam") == 2
    assert value("mfastats_enrollment_ratio", domain="iam") == pytest.approx(2 / 3)
    assert value("mfastats_target_ratio", domain="ciam") == pytest.approx(0.30)
    assert value("mfastats_method_users", domain="ciam", method="webauthn") == 1
    assert value("mfastats_method_users", domain="ciam", method="lookup_secret") == 1
    assert value("mfastats_aal2_stepups_as_of_date", domain="ciam") == 1
    assert value("mfastats_aal2_stepups_30_dates", domain="iam") == 1
    assert value("mfastats_alert_firing", domain="iam", alert="below_target", severity="warning") == 1
    assert value("mfastats_alert_firing", domain="ciam", alert="below_target", severity="warning") == 0
    assert value("mfastats_alert_state", domain="ciam", alert="challenge_failure_spike", state="insufficient_data") == 1
    assert value("mfastats_challenge_failures_available", domain="ciam") == 0
    assert value("mfastats_data_quality_issues", domain="ciam", issue="malformed_config") == 0
    assert value("mfastats_domain_up", domain="iam") == 1
    assert value("mfastats_refresh_failed") == 0
    assert value("mfastats_report_age_seconds") >= 0
    assert ("mfastats_challenge_failure_identities", (("domain", "ciam"),)) not in values  # unavailable, not 0


def _annotations(rule: dict, domain: str) -> dict[str, str]:
    return {key: text.replace("{{ $labels.domain }}", domain) for key, text in rule["annotations"].items()}


def test_promtool_checks_and_tests_the_rules(metrics_text: str, tmp_path: Path) -> None:
    tool = promtool()
    rules_file = tmp_path / "mfastats.rules.yml"
    result = CliRunner().invoke(cli, ["prometheus-rules", "-o", str(rules_file)])
    assert result.exit_code == 0, result.output
    checked = subprocess.run([tool, "check", "rules", str(rules_file)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    rules = {rule["alert"]: rule for rule in rule_list()}
    # Input: the real scrape of the fixture (iam is below target, ciam is not), constant for 40 minutes,
    # plus hand-written series where a mfastats-evaluated alert fires in iam and not in ciam.
    series = []
    for name, labels, value in _samples(metrics_text):
        if name in ("mfastats_report_age_seconds", "mfastats_domain_up"):
            continue
        if name == "mfastats_alert_firing" and labels["alert"] == "aal2_stepup_zero":
            value = 1 if labels["domain"] == "iam" else 0
        selector = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        series.append((f"{name}{{{selector}}}", f"{value:g}x40"))
    series += [("mfastats_report_age_seconds", "60+60x40"),  # 1860 s at 30 min: stale from 29 min
               ('mfastats_domain_up{domain="ciam"}', "1x40"), ('mfastats_domain_up{domain="iam"}', "0x40")]

    def alert(name: str, domain: str | None, **labels: str) -> str:
        rule = rules[name]
        label_text = ", ".join(f"{k}: {v}" for k, v in {**labels, **rule["labels"]}.items())
        if domain is not None:
            label_text = f"domain: {domain}, {label_text}"
        annotations = ", ".join(f"{k}: {_quote(v)}" for k, v in _annotations(rule, domain or "").items())
        return f"          - exp_labels: {{{label_text}}}\n            exp_annotations: {{{annotations}}}\n"

    zero = next(name for name, _, _ in EVALUATED_ALERTS if name == "aal2_stepup_zero")
    cases = [
        ("5m", "MfastatsAal2StepupZero", alert("MfastatsAal2StepupZero", "iam", alert=zero)),
        ("5m", "MfastatsEnrollmentDropping", ""),
        ("5m", "MfastatsChallengeFailureSpike", ""),
        ("5m", "MfastatsBelowTarget", alert("MfastatsBelowTarget", "iam")),
        ("5m", "MfastatsReportStale", ""),
        ("30m", "MfastatsReportStale", alert("MfastatsReportStale", None)),
        ("5m", "MfastatsDomainUnreadable", ""),
        ("15m", "MfastatsDomainUnreadable", alert("MfastatsDomainUnreadable", "iam")),
    ]
    lines = ["rule_files:", f"  - {rules_file.name}", "evaluation_interval: 1m", "tests:", "  - interval: 1m",
             "    input_series:"]
    lines += [f"      - series: '{selector}'\n        values: '{values}'" for selector, values in series]
    lines.append("    alert_rule_test:")
    for at, name, expected in cases:
        lines.append(f"      - eval_time: {at}\n        alertname: {name}")
        lines.append("        exp_alerts:\n" + expected.rstrip("\n") if expected else "        exp_alerts: []")
    test_file = tmp_path / "mfastats.rules.test.yml"
    test_file.write_text("\n".join(lines) + "\n")
    tested = subprocess.run([tool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert tested.returncode == 0, tested.stdout + tested.stderr

    # And a rule test that must fail, so the test above cannot pass vacuously.
    wrong = test_file.read_text().replace('exp_alerts: []', 'exp_alerts: [{exp_labels: {domain: ciam}}]', 1)
    test_file.write_text(wrong)
    failing = subprocess.run([tool, "test", "rules", str(test_file)], capture_output=True, text=True, timeout=60)
    assert failing.returncode == 1


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
