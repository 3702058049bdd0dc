"""Prometheus exposition of the stored report, and alerting rules built on it.

`ReportCollector` is a custom collector on a private `CollectorRegistry`: a scrape renders the report the
web app already holds and never queries Kratos. Labels are bounded (`domain`, `method`, `tier`, `alert`,
`severity`, `state`, `issue`); no identity id ever becomes a label. Gauges only: every number is a
current-state count or a count over a fixed window of the report, not a monotonic counter.

The alert logic (medians, MADs, snapshot comparisons) stays in mfastats: rules fire on
`mfastats_alert_firing`, except `below_target`, which is plain PromQL over two gauges.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mfastats import __version__

NAMESPACE = "mfastats"
ALERT_STATES = ("ok", "firing", "insufficient_data")
METHOD_KEYS = {  # label value of `method` -> key of the report's `methods` block
    "totp": "totp_users",
    "webauthn": "webauthn_users",
    "lookup_secret": "lookup_secret_usable",
    "code": "code_users",
    "passkey": "passkey_users",
}
DEFAULT_STALE_SECONDS = 1800


class StoredReportSource:
    """What the collector needs from the web store: the latest document, its time, and refresh health."""

    def __init__(self, document: Callable[[], dict[str, Any] | None], refreshed_at: Callable[[], datetime | None],
                 refresh_failed: Callable[[], bool], now: Callable[[], datetime]) -> None:
        self.document = document
        self.refreshed_at = refreshed_at
        self.refresh_failed = refresh_failed
        self.now = now


class ReportCollector(Collector):
    def __init__(self, source: StoredReportSource) -> None:
        self.source = source

    def describe(self) -> list[Any]:
        return []  # nothing to describe up front: families depend on the stored report

    def collect(self) -> Iterator[GaugeMetricFamily]:
        info = GaugeMetricFamily(f"{NAMESPACE}_build_info", "mfastats version (always 1).", labels=["version"])
        info.add_metric([__version__], 1)
        yield info
        refreshed_at = self.source.refreshed_at()
        failed = GaugeMetricFamily(f"{NAMESPACE}_refresh_failed",
                                   "1 when the most recent refresh failed and older numbers are served.")
        failed.add_metric([], 1 if self.source.refresh_failed() else 0)
        yield failed
        document = self.source.document()
        if document is None or refreshed_at is None:
            return
        yield _gauge("last_refresh_timestamp_seconds", "Unix time of the last successful report refresh.",
                     value=refreshed_at.timestamp())
        yield _gauge("report_age_seconds", "Seconds since the last successful report refresh.",
                     value=max(0.0, (self.source.now() - refreshed_at).total_seconds()))
        as_of = datetime.fromisoformat(document["as_of"].replace("Z", "+00:00"))
        yield _gauge("report_as_of_timestamp_seconds", "Unix time the served report is computed as of.",
                     value=as_of.timestamp())
        yield from domain_families(document["domains"])


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{NAMESPACE}_{name}", documentation, value=value)


def domain_families(domains: list[dict[str, Any]]) -> Iterator[GaugeMetricFamily]:
    """Per-domain gauges; a value the report has as null (domain in error, no target) is left out."""
    def family(name: str, documentation: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"{NAMESPACE}_{name}", documentation, labels=["domain", *labels])

    up = family("domain_up", "1 when the domain's Kratos database was read, 0 when it failed.")
    identities = family("identities", "Active identities.")
    inactive = family("inactive_identities", "Inactive identities (any state other than active).")
    enrolled = family("enrolled_identities", "Active identities with a usable TOTP or WebAuthn second-factor key.")
    capable = family("aal2_capable_identities",
                     "Active identities able to reach AAL2 (enrolled, lookup codes, enabled e-mail/SMS code).")
    seed = family("seed_enrolled_identities",
                  "Identities of any state with any totp or webauthn row (the seed page's overcounting rule).")
    ratio = family("enrollment_ratio", "Enrolled / active identities, 0-1.")
    target = family("target_ratio", "Enrollment target of the domain, 0-1.")
    mismatch = family("available_aal_mismatch_identities",
                      "Identities whose cached available_aal disagrees with their credentials.")
    method_users = family("method_users", "Active identities with a usable credential of this method.", ("method",))
    tiers = family("strength_tier_identities", "Active identities by their strongest factor.", ("tier",))
    stepups_day = family("aal2_stepups_as_of_date", "AAL2 step-ups on the report's as-of date.")
    stepups_window = family("aal2_stepups_30_dates", "AAL2 step-ups on the 30 dates ending on the as-of date.")
    aal2_sessions = family("aal2_sessions", "Session rows with aal = aal2 (current state).")
    failures_available = family("challenge_failures_available",
                                "1 when challenge failures can be computed (an audit source is configured).")
    failing = family("challenge_failure_identities",
                     "Identities with at least the threshold of second-factor challenge failures in the window.")
    firing = family("alert_firing", "1 when the mfastats alert fires, else 0.", ("alert", "severity"))
    state = family("alert_state", "1 for the alert's current state (ok, firing, insufficient_data).",
                   ("alert", "state"))
    quality = family("data_quality_issues", "Rows or identities counted by a data-quality check.", ("issue",))

    for block in domains:
        name = block["name"]
        up.add_metric([name], 1 if block["status"] == "ok" else 0)
        enrollment, methods = block["enrollment"], block["methods"]
        _add(identities, [name], enrollment["total"])
        _add(inactive, [name], enrollment["inactive_total"])
        _add(enrolled, [name], enrollment["enrolled"])
        _add(capable, [name], enrollment["aal2_capable"])
        _add(seed, [name], enrollment["seed_enrolled"])
        _add(mismatch, [name], enrollment["available_aal_mismatch"])
        if enrollment["enrolled"] is not None and enrollment["total"]:
            ratio.add_metric([name], enrollment["enrolled"] / enrollment["total"])
        if enrollment["target_percent"] is not None:
            target.add_metric([name], enrollment["target_percent"] / 100)
        for method, key in METHOD_KEYS.items():
            _add(method_users, [name, method], methods[key])
        for tier, count in methods["strength_tiers"].items():
            _add(tiers, [name, tier], count)
        days = block["stepups"]["days"]
        if days:
            stepups_day.add_metric([name], days[-1]["count"])
            stepups_window.add_metric([name], sum(day["count"] for day in days))
        _add(aal2_sessions, [name], block["stepups"]["aal2_sessions"])
        failures = block["challenge_failures"]
        failures_available.add_metric([name], 1 if failures["available"] else 0)
        if failures["available"]:
            failing.add_metric([name], len(failures["identities"]))
        for alert in block["alerts"]:
            firing.add_metric([name, alert["name"], alert["severity"]], 1 if alert["state"] == "firing" else 0)
            for each in ALERT_STATES:
                state.add_metric([name, alert["name"], each], 1 if alert["state"] == each else 0)
        for issue, count in block["data_quality"].items():
            _add(quality, [name, issue], count)

    yield from (up, identities, inactive, enrolled, capable, seed, ratio, target, mismatch, method_users, tiers,
                stepups_day, stepups_window, aal2_sessions, failures_available, failing, firing, state, quality)


def _add(metric: GaugeMetricFamily, labels: list[str], value: int | float | None) -> None:
    if value is not None:
        metric.add_metric(labels, value)


def private_registry(source: StoredReportSource) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(source))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


# --------------------------------------------------------------------------------------------------
# Alerting rules
# --------------------------------------------------------------------------------------------------
# The alerts mfastats evaluates itself (SPEC 4); `below_target` is expressed in PromQL instead.
EVALUATED_ALERTS = (
    ("enrollment_dropping", "warning", "MFA enrollment in {{ $labels.domain }} dropped by 2 points or more in a week."),
    ("challenge_failure_spike", "critical",
     "Second-factor challenge failures in {{ $labels.domain }} spiked above the usual level (median + 5 MAD)."),
    ("aal2_stepup_zero", "critical",
     "No AAL2 step-up in {{ $labels.domain }} for 3 days although identities are enrolled."),
    ("audit_source_silent", "warning", "The audit source of {{ $labels.domain }} wrote no event in 24 hours."),
)


def _camel(name: str) -> str:
    return "Mfastats" + "".join(part.capitalize() for part in name.split("_"))


def alerting_rules(stale_seconds: int = DEFAULT_STALE_SECONDS) -> str:
    """The rules file (YAML) for Prometheus: `mfastats prometheus-rules -o mfastats.rules.yml`."""
    return ("# Prometheus alerting rules for mfastats (generated by `mfastats prometheus-rules`).\n"
            "# Scrape mfastats' /metrics; the alert logic itself runs in mfastats (mfastats_alert_firing).\n"
            + _yaml({"groups": [{"name": "mfastats", "rules": rule_list(stale_seconds)}]}))


def rule_list(stale_seconds: int = DEFAULT_STALE_SECONDS) -> list[dict[str, Any]]:
    """The alerting rules as data (Prometheus rule-group entries)."""
    rules: list[dict[str, Any]] = []
    for name, severity, summary in EVALUATED_ALERTS:
        rules.append({
            "alert": _camel(name),
            "expr": f'{NAMESPACE}_alert_firing{{alert="{name}"}} == 1',
            "labels": {"severity": severity},
            "annotations": {"summary": summary,
                            "description": f"mfastats evaluates {name}; see the analytics page or "
                                           "`mfastats check` for its value and threshold."},
        })
    rules.append({
        "alert": _camel("below_target"),
        "expr": f"{NAMESPACE}_enrollment_ratio <= {NAMESPACE}_target_ratio",
        "labels": {"severity": "warning"},
        "annotations": {"summary": "MFA enrollment in {{ $labels.domain }} does not exceed its target.",
                        "description": "mfastats_enrollment_ratio is at or below mfastats_target_ratio; see the "
                                       "breakdown table of the analytics page."},
    })
    rules.append({
        "alert": "MfastatsReportStale",
        "expr": f"{NAMESPACE}_report_age_seconds > {stale_seconds}",
        "labels": {"severity": "warning"},
        "annotations": {"summary": "mfastats has not refreshed its report for more than "
                                   f"{stale_seconds} seconds; its numbers and alerts are stale.",
                        "description": "Check the stale-data banner of the mfastats page (or /api/status) "
                                       "for the refresh error."},
    })
    rules.append({
        "alert": "MfastatsDomainUnreadable",
        "expr": f"{NAMESPACE}_domain_up == 0",
        "for": "10m",
        "labels": {"severity": "warning"},
        "annotations": {"summary": "mfastats cannot read the Kratos database of {{ $labels.domain }}.",
                        "description": "The domain's numbers and alerts are missing; see the mfastats page."},
    })
    return rules


def _yaml(value: Any, indent: int = 0) -> str:
    """A tiny YAML emitter for the rules file: mappings, lists and strings (JSON-quoted, valid YAML)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list):
                lines.append(f"{pad}{key}:")
                lines.append(_yaml(item, indent + 2).rstrip("\n"))
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            body = _yaml(item, indent + 2).rstrip("\n")
            lines.append(f"{pad}- {body.lstrip()}")
    else:
        lines.append(f"{pad}{_scalar(value)}")
    return "\n".join(lines) + "\n"


_PLAIN = re.compile(r"[A-Za-z_(][^\n]*[^\s:]")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n"}


def _scalar(value: Any) -> str:
    """A plain scalar when YAML reads it back as the same string, else a JSON-quoted one (valid YAML)."""
    if (isinstance(value, str) and _PLAIN.fullmatch(value) and ": " not in value and " #" not in value
            and value.lower() not in _YAML_WORDS):
        return value
    return json.dumps(value)
