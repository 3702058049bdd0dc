"""What each page shows, computed from the stored SPEC 6.1 document (the JSON the API serves).

`page_data` is the one data function per page: the HTML view and its JSON twin both call it, so the
numbers on the page are the numbers of `/api/report`. `present` only arranges those numbers for the
template (chart specifications and the HTML tables that repeat every chart's numbers); it computes
nothing new except per-date totals across domains in the all-domains charts, which Plotly stacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mfastats.web.state import StoredReport

# One colour per series, readable on white and distinct for the common colour-vision deficiencies.
COLORS = {"totp": "#2f6db5", "webauthn": "#e08a00", "stepups": "#2f6db5", "failures": "#c0392b"}
DOMAIN_COLORS = ("#2f6db5", "#e08a00", "#2a9d8f", "#8e5ea2", "#c0392b", "#6c757d")

METHOD_ROWS = (  # (key in the methods block, label)
    ("totp_users", "TOTP app"),
    ("webauthn_users", "WebAuthn key (2nd factor)"),
    ("both", "TOTP and WebAuthn"),
    ("lookup_secret_usable", "Recovery codes, usable"),
    ("lookup_secret_exhausted", "Recovery codes, all used"),
    ("code_users", "E-mail/SMS code"),
    ("passkey_users", "Passkey (1st factor)"),
    ("webauthn_passwordless_only", "Passwordless WebAuthn only"),
)
TIER_LABELS = {
    "phishing_resistant": "Phishing-resistant (WebAuthn)",
    "app_code": "App code (TOTP)",
    "email_sms_code": "E-mail/SMS code",
    "recovery_codes_only": "Recovery codes only",
    "none": "None",
}
QUALITY_LABELS = {
    "malformed_config": "Credential rows with malformed config JSON",
    "unknown_credential_types": "Credential rows of an unknown type",
    "malformed_amr": "Sessions with malformed authentication_methods",
    "stepup_without_completed_at": "AAL2 sessions without a dated step-up",
    "missing_timestamps": "Rows with a missing timestamp",
    "timestamps_after_as_of": "Rows dated after the as-of time",
    "unknown_state": "Identities with an unknown state",
    "audit_rows_without_identity": "Audit rows without a valid identity id",
}


class NotFound(LookupError):
    """No such domain in the stored report."""


def page_data(stored: StoredReport, domain: str | None) -> dict[str, Any]:
    """The document behind a page: the whole report (all domains) or one domain's block."""
    if domain is None:
        return stored.document
    block = stored.domain(domain)
    if block is None:
        known = ", ".join(stored.domain_names) or "none"
        raise NotFound(f"no domain {domain!r} in the report; known domains: {known}")
    return block


@dataclass
class Table:
    columns: list[str]
    rows: list[list[Any]]
    numeric_from: int = 1  # columns from this index are right-aligned numbers


@dataclass
class Chart:
    id: str
    title: str
    figure: dict[str, Any]
    table: Table
    note: str | None = None


@dataclass
class View:
    title: str
    domain: str | None
    headline: dict[str, Any]
    charts: list[Chart] = field(default_factory=list)
    stepup_split: dict[str, Any] | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    quality: Table | None = None
    breakdown: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def present(document: dict[str, Any], domain: str | None) -> View:
    """Arrange the page for one domain (`domain` set) or for all domains."""
    blocks = document["domains"]
    breakdown = [_breakdown_row(block) for block in blocks]
    if domain is None:
        return _all_view(document, blocks, breakdown)
    block = next(b for b in blocks if b["name"] == domain)
    return _domain_view(block, breakdown)


def _breakdown_row(block: dict[str, Any]) -> dict[str, Any]:
    e = block["enrollment"]
    return {"domain": block["name"], "status": block["status"], "enrolled": e["enrolled"], "total": e["total"],
            "percent": e["percent"], "target_percent": e["target_percent"], "meets_target": e["meets_target"]}


def _headline(enrollment: dict[str, Any]) -> dict[str, Any]:
    return dict(enrollment)


def _domain_view(block: dict[str, Any], breakdown: list[dict[str, Any]]) -> View:
    name = block["name"]
    view = View(title=name.upper(), domain=name, headline=_headline(block["enrollment"]), breakdown=breakdown)
    if block["status"] != "ok":
        view.errors.append(f"Domain {name} could not be read: {block['error']}")
    view.charts += _method_charts(block["methods"], name)
    view.charts.append(_enrollments_chart([block], name))
    view.charts.append(_stepups_chart([block], name))
    failure_days = block["challenge_failures"].get("days") or []
    if failure_days:
        view.charts.append(_failure_days_chart(failure_days, name))
    trend = block.get("enrollment_trend") or []
    if trend:
        view.charts.append(_trend_chart(trend, name))
    s = block["stepups"]
    view.stepup_split = {"source": s["source"], "aal2_sessions": s["aal2_sessions"], "at_login": s["at_login"],
                         "later": s["later"], "unknown": s["unknown"]}
    view.failures = [_failures(block)]
    view.alerts = [{"domain": name, **alert} for alert in block["alerts"]]
    view.quality = Table(["Check", name], [[QUALITY_LABELS.get(k, k), v] for k, v in block["data_quality"].items()])
    view.notes = _notes([block])
    return view


def _all_view(document: dict[str, Any], blocks: list[dict[str, Any]], breakdown: list[dict[str, Any]]) -> View:
    everything = document["all_domains"]
    view = View(title="All domains", domain=None, headline=_headline(everything["enrollment"]), breakdown=breakdown)
    view.headline["domains"] = everything["domains"]
    view.errors = [f"Domain {b['name']} could not be read: {b['error']}" for b in blocks if b["status"] != "ok"]
    view.charts += _method_charts(everything["methods"], "all")
    view.charts.append(_enrollments_chart(blocks, "all"))
    view.charts.append(_stepups_chart(blocks, "all"))
    view.failures = [_failures(b) for b in blocks]
    view.alerts = [{"domain": b["name"], **alert} for b in blocks for alert in b["alerts"]]
    keys = list(blocks[0]["data_quality"]) if blocks else []
    view.quality = Table(["Check", *[b["name"] for b in blocks]],
                         [[QUALITY_LABELS.get(k, k), *[b["data_quality"][k] for b in blocks]] for k in keys])
    view.notes = _notes(blocks)
    return view


def _notes(blocks: list[dict[str, Any]]) -> list[str]:
    notes: list[str] = []
    for b in blocks:
        for text in (b["enrollments_over_time"].get("note"), b["stepups"].get("note"), b.get("approximation")):
            if text and text not in notes:
                notes.append(text)
    return notes


def _failures(block: dict[str, Any]) -> dict[str, Any]:
    f = block["challenge_failures"]
    return {"domain": block["name"], "available": f["available"], "reason": f["reason"], "source": f["source"],
            "threshold": f["threshold"], "window_days": f["window_days"], "identities": f["identities"]}


# Charts -------------------------------------------------------------------------------------------
def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "margin": {"l": 48, "r": 12, "t": 8, "b": 40},
        "height": 300,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        "showlegend": False,
        "yaxis": {"rangemode": "tozero", "gridcolor": "#e3e6ea", "automargin": True},
        "xaxis": {"automargin": True},
    }
    layout.update(extra)
    return layout


def _count_axis(values: list[Any], **extra: Any) -> dict[str, Any]:
    """A count axis: whole-number ticks even when every count is small."""
    axis: dict[str, Any] = {"rangemode": "tozero", "gridcolor": "#e3e6ea", "automargin": True, "tickformat": ",d"}
    if max([v for v in values if isinstance(v, int | float)], default=0) < 5:
        axis["dtick"] = 1
    axis.update(extra)
    return axis


def _legend() -> dict[str, Any]:
    return {"showlegend": True, "legend": {"orientation": "h", "y": -0.2}}


def _method_charts(methods: dict[str, Any], key: str) -> list[Chart]:
    labels = [label for _, label in METHOD_ROWS]
    values = [methods[k] for k, _ in METHOD_ROWS]
    split = Chart(
        id=f"methods-{key}", title="Method split (active identities)",
        figure={"data": [{"type": "bar", "x": values, "y": labels, "orientation": "h", "marker": {"color": "#2f6db5"},
                          "hovertemplate": "%{y}: %{x}<extra></extra>"}],
                "layout": _layout(yaxis={"autorange": "reversed", "automargin": True}, xaxis=_count_axis(values))},
        table=Table(["Method", "Identities"], [[label, value] for label, value in zip(labels, values, strict=True)]),
    )
    split.table.rows += [[f"Recovery codes remaining: {bucket}", count]
                         for bucket, count in methods["lookup_codes_remaining"].items()]
    tiers = methods["strength_tiers"]
    tier_labels = [TIER_LABELS.get(k, k) for k in tiers]
    strength = Chart(
        id=f"tiers-{key}", title="Strongest factor per identity",
        figure={"data": [{"type": "bar", "x": list(tiers.values()), "y": tier_labels, "orientation": "h",
                          "marker": {"color": ["#2a9d8f", "#2f6db5", "#e08a00", "#8e5ea2", "#adb5bd"][:len(tiers)]},
                          "hovertemplate": "%{y}: %{x}<extra></extra>"}],
                "layout": _layout(yaxis={"autorange": "reversed", "automargin": True},
                                  xaxis=_count_axis(list(tiers.values())))},
        table=Table(["Tier", "Identities"], [[label, value] for label, value in zip(tier_labels, tiers.values(),
                                                                                     strict=True)]),
    )
    factors = methods["factors_per_identity"]
    strength.table.rows += [[f"Usable second-factor methods: {bucket}", count] for bucket, count in factors.items()]
    return [split, strength]


def _enrollments_chart(blocks: list[dict[str, Any]], key: str) -> Chart:
    traces = []
    dates = _dates(b["enrollments_over_time"]["days"] for b in blocks)
    for index, block in enumerate(blocks):
        days = block["enrollments_over_time"]["days"]
        for method in ("totp", "webauthn"):
            prefix = f"{block['name']} " if len(blocks) > 1 else ""
            name = f"{prefix}{'TOTP' if method == 'totp' else 'WebAuthn'}"
            color = COLORS[method] if len(blocks) == 1 else _shade(DOMAIN_COLORS[index % 6], method == "webauthn")
            traces.append({"type": "bar", "name": name, "x": [d["date"] for d in days],
                           "y": [d[method] for d in days], "marker": {"color": color},
                           "hovertemplate": f"{name}: %{{y}}<extra></extra>"})
    source = ", ".join(sorted({s for b in blocks if (s := b["enrollments_over_time"]["source"])}))
    return Chart(
        id=f"enrollments-{key}", title=f"New enrollments per day ({len(dates)} days)",
        figure={"data": traces, "layout": _layout(barmode="stack", hovermode="x unified", yaxis=_count_axis(_totals(traces)),
                                                  **_legend())},
        table=_table_of(traces, dates),
        note=f"source: {source}" if source else None,
    )


def _stepups_chart(blocks: list[dict[str, Any]], key: str) -> Chart:
    traces = []
    dates = _dates(b["stepups"]["days"] for b in blocks)
    for index, block in enumerate(blocks):
        days = block["stepups"]["days"]
        name = block["name"]
        color = COLORS["stepups"] if len(blocks) == 1 else DOMAIN_COLORS[index % 6]
        traces.append({"type": "bar", "name": name, "x": [d["date"] for d in days], "y": [d["count"] for d in days],
                       "marker": {"color": color}, "hovertemplate": f"{name}: %{{y}}<extra></extra>"})
    source = ", ".join(sorted({b["stepups"]["source"] for b in blocks if b["stepups"]["source"]}))
    legend = _legend() if len(blocks) > 1 else {}
    return Chart(
        id=f"stepups-{key}", title=f"AAL2 step-ups per day ({len(dates)} days)",
        figure={"data": traces, "layout": _layout(barmode="stack", hovermode="x unified", yaxis=_count_axis(_totals(traces)),
                                                  **legend)},
        table=_table_of(traces, dates),
        note=f"source: {source}" if source else None,
    )


def _table_of(traces: list[dict[str, Any]], dates: list[str]) -> Table:
    """The numbers behind a daily chart: one row per date, newest first, one column per trace."""
    values = [dict(zip(trace["x"], trace["y"], strict=True)) for trace in traces]
    return Table(["Date", *(trace["name"] for trace in traces)],
                 [[d, *(column.get(d) for column in values)] for d in reversed(dates)])


def _failure_days_chart(days: list[dict[str, Any]], key: str) -> Chart:
    return Chart(
        id=f"failure-days-{key}", title="Second-factor challenge failures per day",
        figure={"data": [{"type": "bar", "name": "failures", "x": [d["date"] for d in days],
                          "y": [d["failures"] for d in days], "marker": {"color": COLORS["failures"]},
                          "hovertemplate": "failures: %{y}<extra></extra>"}],
                "layout": _layout(hovermode="x unified", yaxis=_count_axis([d["failures"] for d in days]))},
        table=Table(["Date", "Failures", "Successes"],
                    [[d["date"], d["failures"], d.get("successes")] for d in reversed(days)]),
    )


def _trend_chart(points: list[dict[str, Any]], key: str) -> Chart:
    return Chart(
        id=f"trend-{key}", title="Enrollment percent (daily snapshots)",
        figure={"data": [{"type": "scatter", "mode": "lines+markers", "x": [p["date"] for p in points],
                          "y": [p["percent"] for p in points], "line": {"color": "#2f6db5"},
                          "hovertemplate": "%{x}: %{y:.2f} %<extra></extra>"}],
                "layout": _layout(hovermode="x unified")},
        table=Table(["Date", "Enrolled", "Total", "Percent"],
                    [[p["date"], p["enrolled"], p["total"], p["percent"]] for p in reversed(points)]),
    )


def _totals(traces: list[dict[str, Any]]) -> list[int]:
    """Per-date heights of stacked bars (only to choose the axis ticks)."""
    totals: dict[str, int] = {}
    for trace in traces:
        for x, y in zip(trace["x"], trace["y"], strict=True):
            totals[x] = totals.get(x, 0) + (y or 0)
    return list(totals.values())


def _dates(series: Any) -> list[str]:
    return sorted({day["date"] for days in series for day in days})


def _shade(color: str, lighter: bool) -> str:
    if not lighter:
        return color
    channels = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{c + (255 - c) // 2:02x}" for c in channels)
