"""Cases C8-C10 of shared/cases/README.md (step-ups derived from session AMR), on every dialect.

Expected numbers are worked out by hand (SPEC 2.3, 3.4).  ``stepups.days`` must always be the 30 dates
ending on the as-of date, ascending, zeros included.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
from dbservers import KratosDb
from reporthelp import PASSWORD, TOTP, assert_stepup_days, assert_subset, domain_doc, new_ids, reusable_kratos_db

from mfastats.demo.kratos_schema import Credential, Identity, Session, write_kratos

_server_db, kratos_db = reusable_kratos_db()  # one server database per dialect and module


def _identity(db: KratosDb, created: datetime = datetime(2024, 1, 2, 3, 4, 5)) -> str:
    """One active identity with a password and a TOTP, created before every as-of date used here."""
    (i1,) = new_ids(1)
    write_kratos(db.engine, [Identity(i1, created_at=created)], [
        Credential(i1, "password", PASSWORD, created_at=created), Credential(i1, "totp", TOTP, created_at=created)])
    return i1


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- C8 ---------------------------------------------------------------------------------------------
def test_c8_legacy_and_malformed_amr(kratos_db: KratosDb) -> None:
    i1 = _identity(kratos_db)
    # SQLite can hold AMR that is not JSON; PostgreSQL/MariaDB cannot, so they get a wrong-shaped one.
    s4_amr = '[{"method":' if kratos_db.dialect == "sqlite" else {"method": "password"}
    write_kratos(kratos_db.engine, sessions=[
        Session(i1, aal="aal1", amr=[{"method": "v0.6_legacy_session"}]),
        Session(i1, aal="aal2", amr=[{"method": "password"}, {"method": "totp"}]),
        Session(i1, aal="aal1", amr='[{"method":"password","aal":"aal1"}]'),  # plain text, as Kratos writes it
        Session(i1, aal="aal1", amr=s4_amr),
    ])
    domain = domain_doc(kratos_db.url, as_of="2024-05-10T12:00:00Z")
    stepups = domain["stepups"]
    assert stepups["source"] == "derived"
    assert_subset(stepups, {"aal2_sessions": 1, "at_login": 0, "later": 0, "unknown": 0}, "stepups")
    assert_stepup_days(domain, date(2024, 5, 10), {})
    assert_subset(domain["data_quality"], {"malformed_amr": 1, "stepup_without_completed_at": 1,
                                           "malformed_config": 0, "timestamps_after_as_of": 0}, "data_quality")


# -- C9 ---------------------------------------------------------------------------------------------
def _c9_sessions(identity_id: str) -> list[Session]:
    steps = [  # (aal1 a few seconds earlier, aal2 step)
        ("2024-03-10T23:29:55Z", "2024-03-10T23:30:00Z"),
        ("2024-03-11T02:29:57Z", "2024-03-11T02:30:00.123456789Z"),
        ("2024-03-11T11:59:50+00:00", "2024-03-11T12:00:00+00:00"),
    ]
    sessions = []
    for first, second in steps:
        when = _at(first.replace("Z", "+00:00")).replace(tzinfo=None)
        sessions.append(Session(identity_id, aal="aal2", authenticated_at=when, issued_at=when, amr=[
            {"method": "password", "aal": "aal1", "completed_at": first},
            {"method": "totp", "aal": "aal2", "completed_at": second},
        ]))
    return sessions


@pytest.mark.parametrize(("timezone", "as_of", "expected"), [
    pytest.param("UTC", "2024-03-12T23:59:59Z", {"2024-03-10": 1, "2024-03-11": 2}, id="UTC"),
    # 23:30Z and 02:30Z are both on 10 March in Los Angeles (PDT from 10:00Z that day); 12:00Z is 05:00 on the 11th.
    pytest.param("America/Los_Angeles", "2024-03-12T23:59:59-07:00", {"2024-03-10": 2, "2024-03-11": 1},
                 id="Los_Angeles"),
])
def test_c9_days_in_report_zone_every_day_present(kratos_db: KratosDb, timezone: str, as_of: str,
                                                   expected: dict[str, int]) -> None:
    i1 = _identity(kratos_db)
    write_kratos(kratos_db.engine, sessions=_c9_sessions(i1))
    domain = domain_doc(kratos_db.url, as_of=as_of, timezone=timezone)
    # 2024-03-12 is the last of the 30 dates and present with 0 (the range starts on 2024-02-12, leap year).
    assert_stepup_days(domain, date(2024, 3, 12), expected)
    assert domain["stepups"]["days"][0]["date"] == "2024-02-12"
    assert domain["stepups"]["days"][-1] == {"date": "2024-03-12", "count": 0}
    assert_subset(domain["stepups"], {"aal2_sessions": 3, "at_login": 3, "later": 0, "unknown": 0}, "stepups")
    assert_subset(domain["data_quality"], {"malformed_amr": 0, "stepup_without_completed_at": 0,
                                           "missing_timestamps": 0, "timestamps_after_as_of": 0}, "data_quality")


# -- C10 --------------------------------------------------------------------------------------------
C10_AMR = [
    {"method": "password", "aal": "aal1", "completed_at": "2024-05-01T10:00:00Z"},
    {"method": "totp", "aal": "aal2", "completed_at": "2024-05-01T10:00:20Z"},
    {"method": "totp", "aal": "aal2", "completed_at": "2024-05-01T10:40:00Z"},
    {"method": "totp", "aal": "aal2", "completed_at": "2024-05-01T10:40:00Z"},
]


def test_c10_every_completed_step_counts_once(kratos_db: KratosDb) -> None:
    i1 = _identity(kratos_db)
    write_kratos(kratos_db.engine, sessions=[Session(i1, aal="aal2", amr=C10_AMR)])
    domain = domain_doc(kratos_db.url, as_of="2024-05-02")
    # 10:00:20 is 20 s after the aal1 entry (at login); 10:40:00 is 2,400 s after it (later), once.
    assert_stepup_days(domain, date(2024, 5, 2), {"2024-05-01": 2})
    assert_subset(domain["stepups"], {"aal2_sessions": 1, "at_login": 1, "later": 1, "unknown": 0}, "stepups")
    assert_subset(domain["data_quality"], {"malformed_amr": 0, "stepup_without_completed_at": 0,
                                           "missing_timestamps": 0, "timestamps_after_as_of": 0}, "data_quality")


def test_unknown_steps_boundary_and_after_as_of(kratos_db: KratosDb) -> None:
    """Exactly 300 s is at login, 301 s later; no dated aal1 entry is unknown; steps after as_of excluded."""
    i1 = _identity(kratos_db)
    write_kratos(kratos_db.engine, sessions=[
        Session(i1, aal="aal2", amr=[
            {"method": "password", "aal": "aal1", "completed_at": "2024-05-01T10:00:00Z"},
            {"method": "totp", "aal": "aal2", "completed_at": "2024-05-01T10:05:00Z"},  # 300 s: at login
        ]),
        Session(i1, aal="aal2", amr=[
            {"method": "password", "aal": "aal1", "completed_at": "2024-05-02T10:00:00Z"},
            {"method": "webauthn", "aal": "aal2", "completed_at": "2024-05-02T10:05:01Z"},  # 301 s: later
        ]),
        Session(i1, aal="aal2", amr=[
            {"method": "password", "aal": "aal1"},  # undated aal1
            {"method": "totp", "aal": "aal2", "completed_at": "2024-05-03T08:00:00Z"},  # unknown
        ]),
        # A session still marked aal1 whose AMR holds a dated aal2 entry: the step counts, not the session.
        Session(i1, aal="aal1", amr=[
            {"method": "totp", "aal": "aal2", "completed_at": "2024-05-03T09:00:00Z"},  # unknown
        ]),
        Session(i1, aal="aal2", amr=[
            {"method": "password", "aal": "aal1", "completed_at": "2024-05-04T11:00:00Z"},
            {"method": "totp", "aal": "aal2", "completed_at": "2024-05-04T12:00:01Z"},  # after as_of
        ]),
    ])
    domain = domain_doc(kratos_db.url, as_of="2024-05-04T12:00:00Z")
    assert_stepup_days(domain, date(2024, 5, 4), {"2024-05-01": 1, "2024-05-02": 1, "2024-05-03": 2})
    # aal2_sessions is a current-state count of every aal2 row, whatever its dates.
    assert_subset(domain["stepups"], {"aal2_sessions": 4, "at_login": 1, "later": 1, "unknown": 2}, "stepups")
    # The step one second after as_of is a future timestamp: left out of the days, counted (SPEC 7).
    assert_subset(domain["data_quality"], {"malformed_amr": 0, "stepup_without_completed_at": 0,
                                           "timestamps_after_as_of": 1}, "data_quality")


def test_unparseable_completed_at_is_not_a_step(kratos_db: KratosDb) -> None:
    """An aal2 session whose only aal2 entry has no parseable completed_at is a step without a date."""
    i1 = _identity(kratos_db)
    write_kratos(kratos_db.engine, sessions=[
        Session(i1, aal="aal2", amr=[{"method": "password", "aal": "aal1", "completed_at": "2024-05-01T10:00:00Z"},
                                     {"method": "totp", "aal": "aal2", "completed_at": "yesterday"}]),
        Session(i1, aal="aal2", amr=[{"method": "totp", "aal": "aal2", "completed_at": 1714557600}]),
        Session(i1, aal="aal2", amr=[{"method": "totp", "aal": "aal2", "completed_at": "2024-05-01T11:00:00Z"}]),
    ])
    domain = domain_doc(kratos_db.url, as_of="2024-05-01T23:00:00Z")
    assert_stepup_days(domain, date(2024, 5, 1), {"2024-05-01": 1})
    assert_subset(domain["stepups"], {"aal2_sessions": 3, "at_login": 0, "later": 0, "unknown": 1}, "stepups")
    assert_subset(domain["data_quality"], {"stepup_without_completed_at": 2, "malformed_amr": 0}, "data_quality")
