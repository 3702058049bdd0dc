"""The terminal report (Rich): the per-domain breakdown first, then one panel per domain."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mfastats.model import DomainReport, Report

_STATE_STYLE = {"ok": "green", "firing": "bold red", "insufficient_data": "dim"}


def _pct(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value}%"


def _health(domain: DomainReport) -> Text:
    meets = domain.enrollment.meets_target
    if domain.status != "ok":
        return Text("error", style="bold red")
    if meets is None:
        return Text("no target", style="dim")
    return Text("meets target", style="green") if meets else Text("below target", style="bold yellow")


def breakdown(report: Report) -> Table:
    table = Table(title="Per-domain MFA enrollment (usable TOTP or WebAuthn second factor)", title_justify="left")
    for column in ("domain", "enrolled", "total", "percent", "target", "health", "seed rule", "aal2-capable"):
        table.add_column(column, justify="left" if column in ("domain", "health") else "right")
    for d in report.domains:
        e = d.enrollment
        table.add_row(d.name + (" *" if d.approximation else ""), _n(e.enrolled), _n(e.total), _pct(e.percent),
                      _pct(e.target_percent), _health(d), _n(e.seed_enrolled), _n(e.aal2_capable))
    a = report.all_domains.enrollment
    table.add_row("all domains", _n(a.enrolled), _n(a.total), _pct(a.percent), "", "", _n(a.seed_enrolled),
                  _n(a.aal2_capable), style="bold")
    return table


def _n(value: object) -> str:
    return "n/a" if value is None else str(value)


def _pairs(title: str, pairs: list[tuple[str, object]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, pad_edge=False)
    table.add_column("name", style="cyan")
    table.add_column("value", justify="right")
    for name, value in pairs:
        table.add_row(name, _n(value))
    return table


def domain_panel(d: DomainReport) -> Panel:
    if d.status != "ok":
        return Panel(Text(d.error or "failed", style="red"), title=f"[bold]{d.name}[/] — error", border_style="red")
    e, m, s = d.enrollment, d.methods, d.stepups
    enrollment = _pairs("Enrollment (active identities)", [
        ("enrolled / total", f"{e.enrolled} / {e.total} ({_pct(e.percent)})"),
        ("target", _pct(e.target_percent)),
        ("aal2-capable (incl. codes)", e.aal2_capable),
        ("seed rule (any totp/webauthn row)", e.seed_enrolled),
        ("inactive (with MFA)", f"{e.inactive_total} ({e.inactive_with_mfa})"),
        ("available_aal cache wrong / null", f"{e.available_aal_mismatch} / {e.available_aal_null}"),
    ])
    methods = _pairs("Methods", [
        ("TOTP", m.totp_users), ("WebAuthn (2nd factor)", m.webauthn_users), ("both", m.both),
        ("recovery codes usable / exhausted", f"{m.lookup_secret_usable} / {m.lookup_secret_exhausted}"),
        ("email/SMS code", m.code_users), ("passkey", m.passkey_users),
        ("WebAuthn passwordless only", m.webauthn_passwordless_only),
        ("factors 0/1/2/3+", " / ".join(_n(v) for v in m.factors_per_identity.values())),
        ("strength", ", ".join(f"{k} {v}" for k, v in m.strength_tiers.items())),
    ])
    last = s.days[-7:]
    stepups = _pairs(f"AAL2 step-ups ({s.source}, last 30 days: {sum(x.count for x in s.days)})", [
        ("last 7 days", " ".join(str(x.count) for x in last)),
        ("at login / later / unknown", "n/a (needs session AMR)" if s.at_login is None
         else f"{s.at_login} / {s.later} / {s.unknown}"),
        ("aal2 sessions now", s.aal2_sessions),
    ])
    alerts = Table(title="Alerts", title_justify="left", box=None, show_header=False, pad_edge=False)
    alerts.add_column("state")
    alerts.add_column("alert")
    alerts.add_column("message")
    for alert in d.alerts:
        alerts.add_row(Text(alert.state, style=_STATE_STYLE[alert.state]), alert.name, alert.message)
    quality = [(k, v) for k, v in vars(d.data_quality).items() if v]
    parts = [enrollment, methods, stepups, alerts]
    failures = d.challenge_failures
    if not failures.available:
        parts.append(Text(f"Challenge failures: unavailable — {failures.reason}", style="dim"))
    else:
        parts.append(_failures(d))
    if quality:
        parts.append(_pairs("Data quality warnings", quality))
    if d.approximation:
        parts.append(Text(f"* {d.approximation}", style="yellow"))
    return Panel(Group(*parts), title=f"[bold]{d.name}[/]", border_style="green" if e.meets_target else "yellow")


def _failures(d: DomainReport) -> Table | Text:
    f = d.challenge_failures
    last = f.days[-1].failures if f.days else 0
    title = (f"Challenge failures ({f.source}): {last} on the as-of date; {len(f.identities)} "
             f"{'identity' if len(f.identities) == 1 else 'identities'} with ≥ {f.threshold} in {f.window_days} days")
    if not f.identities:
        return Text(title)
    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for column in ("identity", "failures", "IPs", "last", "hint"):
        table.add_column(column)
    for row in f.identities[:10]:
        table.add_row(row.identity_id[:8] + "…", str(row.failures), _n(row.distinct_ips),
                      f"{row.last_at:%m-%d %H:%M}", row.hint)
    if len(f.identities) > 10:
        table.add_row("…", f"+{len(f.identities) - 10} more (see --format json)", "", "", "")
    return table


def render_table(report: Report, console: Console) -> None:
    if not console.is_terminal:  # piped or redirected: Rich would assume 80 columns
        console.width = max(console.width, 120)
    console.print(f"mfastats report as of {report.as_of:%Y-%m-%d %H:%M:%S} UTC (days in {report.timezone})")
    console.print(breakdown(report))
    for domain in report.domains:
        console.print(domain_panel(domain))
