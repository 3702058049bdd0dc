"""`mfastats check` output in the monitoring-plugin convention (Nagios, Icinga, Sensu).

First line `MFASTATS OK|WARNING|CRITICAL|UNKNOWN - summary | perfdata`; exit 0, 1, 2 or 3. UNKNOWN
(3) when a domain failed and no warning or critical alert fires.
"""

from __future__ import annotations

from mfastats.model import Report

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
_LABEL = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}


def status(report: Report) -> int:
    firing = [a for d in report.domains for a in d.alerts if a.state == "firing"]
    if any(a.severity == "critical" for a in firing):
        return CRITICAL
    if firing:
        return WARNING
    if report.failed_domains:
        return UNKNOWN
    return OK


def render(report: Report) -> tuple[int, list[str]]:
    code = status(report)
    firing = [f"{d.name} {a.name}" for d in report.domains for a in d.alerts if a.state == "firing"]
    failed = [f"{d.name} failed" if d.status != "ok" else f"{d.name} audit source failed"
              for d in report.failed_domains]
    summary = "; ".join(firing + failed) or f"no alert firing in {len(report.domains)} domain(s)"
    perfdata = " ".join(
        f"{d.name}_enrollment_percent={d.enrollment.percent};;;0;100"
        for d in report.domains if d.enrollment.percent is not None)
    lines = [f"MFASTATS {_LABEL[code]} - {summary}" + (f" | {perfdata}" if perfdata else "")]
    for d in report.domains:
        if d.error:
            lines.append(f"{d.name}: error: {d.error}")
        for a in d.alerts:
            lines.append(f"{d.name} {a.name} [{a.severity}] {a.state}: {a.message}")
    return code, lines
