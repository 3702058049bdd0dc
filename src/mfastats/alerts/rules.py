"""The seed's alerts (SPEC 4): each returns an `Alert` with state ok / firing / insufficient_data.

Pure functions of numbers already computed; time and history come in as arguments.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from mfastats.metrics.failures import spike_threshold
from mfastats.model import Alert, Enrollment, Stepups
from mfastats.rows import Snapshot
from mfastats.settings import AlertSettings


def below_target(enrollment: Enrollment) -> Alert:
    name, severity = "below_target", "warning"
    if enrollment.meets_target is None:
        return Alert(name, severity, "insufficient_data", enrollment.percent, enrollment.target_percent,
                     "No enrollment target, or no active identities, to compare against.")
    if enrollment.meets_target:
        return Alert(name, severity, "ok", enrollment.percent, enrollment.target_percent,
                     f"Enrollment {enrollment.percent}% is above the {enrollment.target_percent}% target.")
    shown = "n/a" if enrollment.percent is None else f"{enrollment.percent}%"
    return Alert(name, severity, "firing", enrollment.percent, enrollment.target_percent,
                 f"Enrollment {shown} does not exceed the {enrollment.target_percent}% target.")


def _plural(count: int | Decimal, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def aal2_stepup_zero(stepups: Stepups, enrollment: Enrollment, config: AlertSettings, undated_sessions: int = 0) -> Alert:
    """Zero steps on each of the last N dates while someone is enrolled: AAL2 is likely not enforced.

    `undated_sessions` (aal2 sessions whose legacy AMR has no `completed_at`) is named in the message:
    step-ups may happen but cannot be dated from such sessions."""
    name, severity, days = "aal2_stepup_zero", "critical", config.stepup_zero_days
    if len(stepups.days) < days or enrollment.enrolled is None:
        return Alert(name, severity, "insufficient_data", None, 0, "No step-up series to evaluate.")
    recent = sum(day.count for day in stepups.days[-days:])
    if recent == 0 and enrollment.enrolled > 0:
        undated = (f" ({_plural(undated_sessions, 'aal2 session has', 'aal2 sessions have')} legacy AMR "
                   "without completed_at and cannot be dated)") if undated_sessions else ""
        return Alert(name, severity, "firing", recent, 0,
                     f"No AAL2 step-up on any of the last {days} days although "
                     f"{_plural(enrollment.enrolled, 'identity is', 'identities are')} enrolled: check that "
                     f"sensitive operations require AAL2{undated}.")
    steps = _plural(recent, "AAL2 step-up", "AAL2 step-ups")
    return Alert(name, severity, "ok", recent, 0, f"{steps} in the last {days} days.")


def enrollment_dropping(enrollment: Enrollment, history: list[Snapshot], as_of: datetime,
                        config: AlertSettings) -> Alert:
    """Percent fell by at least N points against the latest snapshot at or before as_of - 7 d."""
    name, severity, points = "enrollment_dropping", "warning", config.enrollment_drop_points
    cutoff = as_of - timedelta(days=config.enrollment_drop_lookback_days)
    earlier = [s for s in history if s.as_of <= cutoff and s.percent is not None]
    if not earlier or enrollment.percent is None:
        return Alert(name, severity, "insufficient_data", None, points,
                     f"No snapshot from {config.enrollment_drop_lookback_days} or more days ago to compare with "
                     "(run `mfastats snapshot` daily).")
    before = earlier[-1]
    drop = before.percent - enrollment.percent
    state = "firing" if drop >= points else "ok"
    return Alert(name, severity, state, drop, points,
                 f"Enrollment was {before.percent}% on {before.as_of:%Y-%m-%d} and is {enrollment.percent}% now "
                 f"({-drop:+} points; alert at a drop of {points}).")


def challenge_failure_spike(windows: list[int] | None, config: AlertSettings, reason: str | None) -> Alert:
    """`windows[0]` is the last 24 h, then the preceding 24-hour windows, newest first."""
    name, severity = "challenge_failure_spike", "critical"
    if windows is None or len(windows) < config.spike_baseline_windows + 1:
        return Alert(name, severity, "insufficient_data", None, None,
                     reason or "Not enough failure history for a baseline.")
    current, baseline = windows[0], windows[1:config.spike_baseline_windows + 1]
    limit = spike_threshold(baseline, config.spike_mad_factor)
    firing = Decimal(current) > limit and current >= config.spike_min_failures
    return Alert(name, severity, "firing" if firing else "ok", current, limit,
                 f"{_plural(current, 'MFA challenge failure', 'MFA challenge failures')} in the last 24 h "
                 f"against a baseline limit of {limit} "
                 f"(median + {config.spike_mad_factor}×MAD of the {len(baseline)} previous days; at least "
                 f"{config.spike_min_failures} needed).")


def audit_source_silent(configured: bool, recent_events: int | None, config: AlertSettings,
                        error: str | None = None) -> Alert:
    name, severity = "audit_source_silent", "warning"
    if not configured:
        return Alert(name, severity, "insufficient_data", None, 0, "No audit source configured.")
    if recent_events is None:
        return Alert(name, severity, "insufficient_data", None, 0, f"The audit source could not be read: {error}.")
    if recent_events == 0:
        return Alert(name, severity, "firing", 0, 0,
                     f"The audit source recorded no event in the last {config.silent_hours} h: is the producer down?")
    return Alert(name, severity, "ok", recent_events, 0,
                 f"{recent_events} audit events in the last {config.silent_hours} h.")


def not_evaluated(name: str, severity: str, reason: str) -> Alert:
    return Alert(name, severity, "insufficient_data", None, None, reason)
