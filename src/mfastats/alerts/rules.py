"""The seed's alerts (SPEC 4): each returns an `Alert` with state ok / firing / insufficient_data."""

from __future__ import annotations

from mfastats.model import Alert, Enrollment, Stepups

STEPUP_ZERO_DAYS = 3


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


def aal2_stepup_zero(stepups: Stepups, enrollment: Enrollment) -> Alert:
    """Zero steps on each of the last 3 dates while someone is enrolled: AAL2 is likely not enforced."""
    name, severity = "aal2_stepup_zero", "critical"
    if len(stepups.days) < STEPUP_ZERO_DAYS or enrollment.enrolled is None:
        return Alert(name, severity, "insufficient_data", None, 0, "No step-up series to evaluate.")
    recent = sum(day.count for day in stepups.days[-STEPUP_ZERO_DAYS:])
    if recent == 0 and enrollment.enrolled > 0:
        return Alert(name, severity, "firing", recent, 0,
                     f"No AAL2 step-up on any of the last {STEPUP_ZERO_DAYS} days although "
                     f"{enrollment.enrolled} identities are enrolled: check that sensitive operations "
                     "require AAL2.")
    return Alert(name, severity, "ok", recent, 0,
                 f"{recent} AAL2 step-ups in the last {STEPUP_ZERO_DAYS} days.")


def not_evaluated(name: str, severity: str, reason: str) -> Alert:
    return Alert(name, severity, "insufficient_data", None, None, reason)
