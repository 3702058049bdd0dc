"""The alerts of SPEC 4: the pure rules on hand-built inputs (thresholds exactly hit), then end to end
through `mfastats snapshot` / `check` / `report` with a history store on SQLite and on PostgreSQL.

The end-to-end Kratos fixture is built so that exactly one alert can fire per run: the domain is named
``lab`` (no default target, so ``below_target`` is insufficient_data), there is no audit source (spike
and silence are insufficient_data), and sessions with an AAL2 step exist on both check dates.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from reporthelp import PASSWORD, TOTP, new_ids
from sqlalchemy import create_engine

from mfastats.alerts import rules
from mfastats.audit.tables import AuditEvent, write_audit
from mfastats.cli import cli
from mfastats.demo.kratos_schema import Credential, Identity, Session, write_kratos
from mfastats.metrics.enrollment import enrollment
from mfastats.metrics.failures import spike_threshold
from mfastats.model import Enrollment, StepupDay, Stepups
from mfastats.rows import IdentityProfile, Snapshot
from mfastats.settings import AlertSettings

CONFIG = AlertSettings()
AS_OF = datetime(2024, 5, 8, 12, 0, 0, tzinfo=UTC)


def at_percent(value: str) -> Enrollment:
    return Enrollment(total=10_000, enrolled=int(Decimal(value) * 100), percent=Decimal(value))


def snap(when: datetime, percent: str) -> Snapshot:
    return Snapshot("ciam", when, None, None, Decimal(percent))


# -- enrollment_dropping ----------------------------------------------------------------------------
@pytest.mark.parametrize(("now", "state", "drop"), [
    ("28.00", "firing", Decimal("2.00")),  # exactly 2.00 points: fires (>=)
    ("28.01", "ok", Decimal("1.99")),
    ("35.00", "ok", Decimal("-5.00")),
])
def test_enrollment_dropping_threshold(now: str, state: str, drop: Decimal) -> None:
    result = rules.enrollment_dropping(at_percent(now), [snap(AS_OF - timedelta(days=7), "30.00")], AS_OF, CONFIG)
    assert (result.name, result.severity, result.state, result.value, result.threshold) == (
        "enrollment_dropping", "warning", state, drop, Decimal("2.00"))


def test_enrollment_dropping_needs_a_snapshot_seven_days_old() -> None:
    almost = snap(AS_OF - timedelta(days=6, hours=23, minutes=59), "90.00")
    result = rules.enrollment_dropping(at_percent("10.00"), [almost], AS_OF, CONFIG)
    assert (result.state, result.value) == ("insufficient_data", None)
    assert rules.enrollment_dropping(at_percent("10.00"), [], AS_OF, CONFIG).state == "insufficient_data"
    assert rules.enrollment_dropping(Enrollment(total=0, enrolled=0, percent=None),
                                     [snap(AS_OF - timedelta(days=8), "50.00")], AS_OF, CONFIG).state == \
        "insufficient_data"


def test_enrollment_dropping_uses_latest_snapshot_at_or_before_cutoff() -> None:
    history = [snap(AS_OF - timedelta(days=10), "29.00"),  # older: a drop of 1.00 only
               snap(AS_OF - timedelta(days=8), "30.00"),  # the one to use: a drop of 2.00
               snap(AS_OF - timedelta(days=6), "28.00")]  # too recent
    result = rules.enrollment_dropping(at_percent("28.00"), history, AS_OF, CONFIG)
    assert (result.state, result.value) == ("firing", Decimal("2.00"))


# -- challenge_failure_spike ------------------------------------------------------------------------
# 14 baseline windows, sorted: 0 1 2 2 3 4 4 | 4 4 5 6 6 7 8 -> median (4+4)/2 = 4;
# |x - 4| sorted: 0 0 0 0 1 1 2 | 2 2 2 3 3 4 4 -> raw MAD (2+2)/2 = 2; limit 4 + 5*2 = 14.
BASELINE_14 = [4, 0, 1, 2, 2, 3, 4, 4, 4, 5, 6, 6, 7, 8]
# sorted: 0 1 1 1 2 2 2 | 2 2 3 3 3 4 5 -> median 2; deviations sorted 0 0 0 0 0 1 1 | 1 1 1 1 2 2 3 -> MAD 1;
# limit 2 + 5 = 7 (below the minimum of 10 failures).
BASELINE_7 = [2, 0, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 5]
# sorted: 2 3 3 4 4 4 5 | 5 6 6 7 8 9 20 -> median 5; deviations sorted 0 0 1 1 1 1 1 | 2 2 2 3 3 4 15 -> MAD 1.5;
# limit 5 + 7.5 = 12.5.
BASELINE_12_5 = [2, 3, 3, 4, 4, 4, 5, 5, 6, 6, 7, 8, 9, 20]


@pytest.mark.parametrize(("baseline", "limit"), [(BASELINE_14, Decimal(14)), (BASELINE_7, Decimal(7)),
                                                 (BASELINE_12_5, Decimal("12.5"))])
def test_spike_threshold_is_median_plus_five_raw_mad(baseline: list[int], limit: Decimal) -> None:
    assert spike_threshold(baseline, Decimal(5)) == limit


@pytest.mark.parametrize(("baseline", "current", "state"), [
    (BASELINE_14, 14, "ok"),  # exactly median + 5*MAD: must be strictly above
    (BASELINE_14, 15, "firing"),  # fires only with the raw MAD (scaled by 1.4826 the limit would be 18.8)
    (BASELINE_7, 9, "ok"),  # above the limit 7 but fewer than 10 failures
    (BASELINE_7, 10, "firing"),
    (BASELINE_12_5, 12, "ok"),
    (BASELINE_12_5, 13, "firing"),
])
def test_challenge_failure_spike(baseline: list[int], current: int, state: str) -> None:
    result = rules.challenge_failure_spike([current, *baseline], CONFIG, None)
    assert (result.name, result.severity, result.state, result.value) == (
        "challenge_failure_spike", "critical", state, current)
    assert result.threshold == spike_threshold(baseline, Decimal(5))
    # Windows beyond the 14 preceding ones are not part of the baseline.
    assert rules.challenge_failure_spike([current, *baseline, 1000], CONFIG, None).state == state


def test_challenge_failure_spike_needs_fifteen_windows() -> None:
    result = rules.challenge_failure_spike([50, *BASELINE_14[:13]], CONFIG, None)
    assert (result.state, result.value) == ("insufficient_data", None)
    assert rules.challenge_failure_spike(None, CONFIG, "no audit source").state == "insufficient_data"
    assert rules.challenge_failure_spike(None, CONFIG, "no audit source").message == "no audit source"


# -- aal2_stepup_zero -------------------------------------------------------------------------------
def stepups(counts: dict[int, int]) -> Stepups:
    """30 days ending 2024-05-08; `counts` maps days-before-as-of (0 = the as-of date) to steps."""
    last = date(2024, 5, 8)
    return Stepups("derived", tuple(StepupDay(last - timedelta(days=29 - i), counts.get(29 - i, 0))
                                    for i in range(30)))


@pytest.mark.parametrize(("counts", "enrolled", "state", "value"), [
    ({}, 5, "firing", 0),
    ({3: 9, 10: 4}, 5, "firing", 0),  # steps on day -3 and earlier are outside the 3 dates
    ({2: 1}, 5, "ok", 1),  # one step on day -2 (the first of the 3 dates)
    ({0: 2}, 5, "ok", 2),
    ({}, 0, "ok", 0),  # nobody enrolled: zero steps are expected
])
def test_aal2_stepup_zero(counts: dict[int, int], enrolled: int, state: str, value: int) -> None:
    result = rules.aal2_stepup_zero(stepups(counts), Enrollment(total=10, enrolled=enrolled), CONFIG)
    assert (result.name, result.severity, result.state, result.value) == ("aal2_stepup_zero", "critical", state, value)


def test_aal2_stepup_zero_without_series() -> None:
    assert rules.aal2_stepup_zero(Stepups(), Enrollment(total=1, enrolled=1), CONFIG).state == "insufficient_data"


# -- below_target -----------------------------------------------------------------------------------
def profile(*, mfa: bool, count: int) -> IdentityProfile:
    return IdentityProfile("active", None, mfa, mfa, False, False, None, False, False, False, True, count)


@pytest.mark.parametrize(("enrolled", "total", "target", "state"), [
    (30, 100, Decimal(30), "firing"),  # exactly at target: meets_target requires strictly above
    (31, 100, Decimal(30), "ok"),
    (19, 20, Decimal(95), "firing"),  # 95.00 % against the IAM target of 95
    (1, 3, Decimal("33.33"), "ok"),  # 33.333... > 33.33 on exact values (the rounded percent is 33.33)
    (1, 3, Decimal("33.34"), "firing"),
])
def test_below_target(enrolled: int, total: int, target: Decimal, state: str) -> None:
    block = enrollment([profile(mfa=True, count=enrolled), profile(mfa=False, count=total - enrolled)],
                       target=target, code_mfa_enabled=False)
    result = rules.below_target(block)
    assert (result.name, result.severity, result.state, result.threshold) == ("below_target", "warning", state, target)


def test_below_target_without_target_or_population() -> None:
    no_target = enrollment([profile(mfa=True, count=1)], target=None, code_mfa_enabled=False)
    assert rules.below_target(no_target).state == "insufficient_data"
    nobody = enrollment([], target=Decimal(30), code_mfa_enabled=False)
    assert rules.below_target(nobody).state == "insufficient_data"


# -- audit_source_silent ----------------------------------------------------------------------------
@pytest.mark.parametrize(("configured", "recent", "state"), [
    (True, 0, "firing"), (True, 1, "ok"), (True, None, "insufficient_data"), (False, None, "insufficient_data"),
])
def test_audit_source_silent(configured: bool, recent: int | None, state: str) -> None:
    result = rules.audit_source_silent(configured, recent, CONFIG)
    assert (result.name, result.severity, result.state) == ("audit_source_silent", "warning", state)


# -- end to end -------------------------------------------------------------------------------------
T0 = datetime(2024, 5, 1, 12, 0, 0)
T1 = T0 + timedelta(days=7)  # 2024-05-08T12:00Z


def stepped_session(identity_id: str, when: datetime) -> Session:
    """A session with an AAL2 step 30 s after login at `when` (naive UTC)."""
    iso = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (when + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Session(identity_id, aal="aal2", issued_at=when, authenticated_at=when, amr=[
        {"method": "password", "aal": "aal1", "completed_at": iso},
        {"method": "totp", "aal": "aal2", "completed_at": later}])


def add_identities(url: str, enrolled: int, plain: int) -> list[str]:
    ids = new_ids(enrolled + plain)
    engine = create_engine(url)
    try:
        write_kratos(engine, [Identity(i, created_at=datetime(2024, 1, 1)) for i in ids],
                     [Credential(i, "password", PASSWORD) for i in ids]
                     + [Credential(i, "totp", TOTP, created_at=datetime(2024, 1, 1)) for i in ids[:enrolled]])
    finally:
        engine.dispose()
    return ids


class Lab:
    """A ``lab`` Kratos database in SQLite that grows through three states (see each method)."""

    def __init__(self, tmp_path: Path) -> None:
        self.url = f"sqlite:///{tmp_path / 'lab_kratos.sqlite'}"
        ids = add_identities(self.url, 4, 4)  # state A: 4 of 8 enrolled = 50.00 %
        engine = create_engine(self.url)
        write_kratos(engine, sessions=[stepped_session(ids[0], T0 - timedelta(hours=2)),
                                       stepped_session(ids[0], T1 - timedelta(hours=2))])
        engine.dispose()

    def state_b(self) -> None:
        add_identities(self.url, 2, 0)  # 6 of 10 = 60.00 %

    def state_c(self) -> None:
        add_identities(self.url, 0, 2)  # 6 of 12 = 50.00 %


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def snapshot(lab: Lab, store: str, when: datetime) -> None:
    result = run("snapshot", "--kratos", f"lab={lab.url}", "--store", store, "--as-of", when.isoformat())
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("stored 1 domain snapshot(s) as of ")


def check(lab: Lab, store: str, when: datetime, *extra: str) -> tuple[int, list[str]]:
    result = run("check", "--kratos", f"lab={lab.url}", "--store", store, "--as-of", when.isoformat(), *extra)
    return result.exit_code, result.stdout.splitlines()


def states(lines: list[str]) -> dict[str, str]:
    """`lab <alert> [<severity>] <state>: ...` lines of the check output."""
    found = {}
    for line in lines[1:]:
        parts = line.split(" ")
        if parts[0] == "lab" and len(parts) > 3:
            found[parts[1]] = parts[3].rstrip(":")
    return found


def history_flow(tmp_path: Path, store: str) -> None:
    lab = Lab(tmp_path)
    snapshot(lab, store, T0 - timedelta(hours=3))  # 50.00 % (same day as the next one: not the trend point)
    lab.state_b()
    snapshot(lab, store, T0)  # 60.00 %: the latest snapshot at or before T1 - 7 d
    lab.state_c()

    code, lines = check(lab, store, T1)  # 50.00 % now: a drop of 10.00 points
    assert code == 1, lines
    assert lines[0] == "MFASTATS WARNING - lab enrollment_dropping | lab_enrollment_percent=50.00;;;0;100"
    assert states(lines) == {"enrollment_dropping": "firing", "challenge_failure_spike": "insufficient_data",
                             "aal2_stepup_zero": "ok", "below_target": "insufficient_data",
                             "audit_source_silent": "insufficient_data"}

    snapshot(lab, store, T1)
    result = run("report", "--format", "json", "--kratos", f"lab={lab.url}", "--store", store,
                 "--as-of", T1.isoformat())
    assert result.exit_code == 0, result.output
    (block,) = json.loads(result.stdout)["domains"]
    assert block["enrollment_trend"] == [
        {"date": "2024-05-01", "enrolled": 6, "total": 10, "percent": 60.0},
        {"date": "2024-05-08", "enrolled": 6, "total": 12, "percent": 50.0},
    ]
    (dropping,) = [a for a in block["alerts"] if a["name"] == "enrollment_dropping"]
    assert (dropping["state"], dropping["value"], dropping["threshold"]) == ("firing", 10.0, 2.0)


def test_snapshot_check_report_sqlite_store(tmp_path: Path) -> None:
    history_flow(tmp_path, str(tmp_path / "history.sqlite"))


@pytest.mark.postgresql
def test_snapshot_check_report_postgresql_store(tmp_path: Path, fresh_db_factory) -> None:  # noqa: ANN001
    db = fresh_db_factory("postgresql")
    db.engine.dispose()
    history_flow(tmp_path, f"postgresql://postgres@127.0.0.1/{db.name}")


def test_check_ok_critical_unknown(tmp_path: Path) -> None:
    lab = Lab(tmp_path)
    store = str(tmp_path / "empty-history.sqlite")  # never created: check without a webhook only reads it

    code, lines = check(lab, store, T0)
    assert (code, lines[0]) == (0, "MFASTATS OK - no alert firing in 1 domain(s) | lab_enrollment_percent=50.00;;;0;100")

    # Ten days later no step-up falls on the last 3 dates while 4 identities are enrolled.
    code, lines = check(lab, store, T1 + timedelta(days=3))
    assert (code, lines[0]) == (2, "MFASTATS CRITICAL - lab aal2_stepup_zero | lab_enrollment_percent=50.00;;;0;100")
    assert not Path(store).exists()

    # An unreachable second domain and nothing firing: UNKNOWN.
    gone = ("--kratos", "gone=postgresql://postgres@127.0.0.1:1/nowhere")
    code, lines = check(lab, store, T0, *gone)
    assert code == 3, lines
    assert lines[0] == "MFASTATS UNKNOWN - gone failed | lab_enrollment_percent=50.00;;;0;100"
    # A firing alert is more severe than a failed domain.
    code, lines = check(lab, store, T1 + timedelta(days=3), *gone)
    assert code == 2 and lines[0].startswith("MFASTATS CRITICAL - lab aal2_stepup_zero; gone failed"), lines

    # A target the lab does not exceed: a warning.
    code, lines = check(lab, store, T0, "--target", "lab=50")
    assert (code, lines[0]) == (1, "MFASTATS WARNING - lab below_target | lab_enrollment_percent=50.00;;;0;100")
    # A usage error is UNKNOWN too.
    code, lines = check(lab, store, T0, "--as-of", "yesterday-ish")
    assert code == 3 and lines[0].startswith("MFASTATS UNKNOWN - "), lines


def spike_events(as_of: datetime, current: int) -> list[AuditEvent]:
    """`current` failures in (as_of - 24 h, as_of] and BASELINE_14 in the 14 windows before, each window's
    first row exactly on its (inclusive) end, plus one older event so the history covers the baseline."""
    (who,) = new_ids(1)
    day, step = timedelta(days=1), timedelta(minutes=10)
    events = [AuditEvent("mfa.challenge_failed", as_of - j * step, who) for j in range(current)]
    for k, count in enumerate(BASELINE_14, start=1):
        events += [AuditEvent("mfa.challenge_failed", as_of - k * day - j * step, who) for j in range(count)]
    return [*events, AuditEvent("login", as_of - 15 * day, None)]


@pytest.mark.parametrize(("current", "code", "state"), [(14, 0, "ok"), (15, 2, "firing")])
def test_spike_end_to_end(tmp_path: Path, current: int, code: int, state: str) -> None:
    lab = Lab(tmp_path)
    as_of = T1.replace(tzinfo=UTC)
    engine = create_engine(lab.url)
    write_audit(engine, spike_events(as_of, current), shape="sdk", domain="lab")
    engine.dispose()
    exit_code, lines = check(lab, str(tmp_path / "h.sqlite"), T1, "--audit", f"lab={lab.url}")
    assert states(lines)["challenge_failure_spike"] == state, lines
    assert exit_code == code, lines
    (line,) = [x for x in lines if x.startswith("lab challenge_failure_spike")]
    assert f"{current} MFA challenge failures in the last 24 h against a baseline limit of 14" in line
