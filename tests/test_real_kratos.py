"""The report over Kratos's own migration test data and the empty real schema (SPEC 7.1), every dialect.

Worked out by hand from the rows of shared/kratos/kratos-testdata.sqlite (the .pg.sql and .mysql.sql
dumps hold the same rows):

* 11 identities, all ``active``, all ``available_aal`` NULL except 0149ce5f-...cceb6 = 'aal1'.
* Credentials: a251ebc2 has a password; 5ff66179 has a password and a TOTP whose URL starts with
  ``otpauth://`` (under the custom ``totp`` type id 8071b37b-...).  No other credential rows.
  The identifier ``foo2@ory.sh`` is typed ``webauthn`` but points at 5ff66179's *password* credential:
  it must not make anyone a WebAuthn user.
* So: enrolled 1 of 11 = 9.0909 % -> 9.09; aal2_capable 1; seed_enrolled 1; totp_users 1.
  available_aal: 10 NULL; mismatches are 5ff66179 (NULL, rule aal2) and 0149ce5f-...cceb6 (cached
  'aal1' but no credential at all, rule aal0) = 2.
* 6 sessions, all of 5ff66179: 3 with aal 'aal1' and AMR ``[{"method":"v0.6_legacy_session"}]``, 3 with
  aal 'aal2' and legacy AMR ``[{"method":"password"},{"method":"totp"}]`` (no aal, no completed_at): 3 aal2
  sessions, all 3 in stepup_without_completed_at, no dated step on any day.  One SQLite ``active`` is the
  text 'false' (does not matter for these counts: step-ups use all sessions).
* Every timestamp is 2013-10-07 08:23:19, so nothing falls in the 2024 windows and none is after as_of.
"""

from __future__ import annotations

from datetime import date

from reporthelp import (
    assert_stepup_days,
    clean_data_quality,
    domain_doc,
    methods_block,
    report_doc,
)

AS_OF = "2024-05-01T12:00:00Z"

TESTDATA_ENROLLMENT = {
    "total": 11, "enrolled": 1, "percent": 9.09, "aal2_capable": 1, "seed_enrolled": 1, "inactive_total": 0,
    "inactive_with_mfa": 0, "target_percent": 30.0, "meets_target": False, "available_aal_mismatch": 2,
    "available_aal_null": 10,
}
TESTDATA_METHODS = methods_block(totp=1, factors=(10, 1, 0, 0), app_code=1, none=10)


def test_kratos_testdata_by_hand(kratos_testdata_url: str) -> None:
    domain = domain_doc(kratos_testdata_url, as_of=AS_OF)
    assert domain["enrollment"] == TESTDATA_ENROLLMENT
    assert domain["methods"] == TESTDATA_METHODS
    assert domain["data_quality"] == clean_data_quality(stepup_without_completed_at=3)
    stepups = domain["stepups"]
    assert {k: stepups[k] for k in ("source", "aal2_sessions", "at_login", "later", "unknown")} == {
        "source": "derived", "aal2_sessions": 3, "at_login": 0, "later": 0, "unknown": 0}
    assert_stepup_days(domain, date(2024, 5, 1), {})
    days = domain["enrollments_over_time"]["days"]
    assert len(days) == 90 and days[-1]["date"] == "2024-05-01" and days[0]["date"] == "2024-02-02"
    assert all(d["totp"] == 0 and d["webauthn"] == 0 for d in days)

    # With as_of shortly after 2013-10-07 the usable TOTP shows up as one enrollment on that day.
    early = domain_doc(kratos_testdata_url, as_of="2013-10-08")
    days = {d["date"]: (d["totp"], d["webauthn"]) for d in early["enrollments_over_time"]["days"]}
    assert days["2013-10-07"] == (1, 0)
    assert sum(t for t, _ in days.values()) == 1 and sum(w for _, w in days.values()) == 0
    assert early["data_quality"]["timestamps_after_as_of"] == 0

    # Named iam: target 95; all_domains holds the one domain.
    doc = report_doc(kratos_testdata_url, as_of=AS_OF, name="iam")
    (iam,) = doc["domains"]
    assert iam["name"] == "iam"
    assert iam["enrollment"] == {**TESTDATA_ENROLLMENT, "target_percent": 95.0, "meets_target": False}
    assert doc["all_domains"]["domains"] == ["iam"]
    assert (doc["all_domains"]["enrollment"]["total"], doc["all_domains"]["enrollment"]["enrolled"]) == (11, 1)
    assert doc["all_domains"]["methods"] == TESTDATA_METHODS


def test_empty_schema(kratos_empty_url: str) -> None:
    domain = domain_doc(kratos_empty_url, as_of=AS_OF)
    enrollment = domain["enrollment"]
    assert {k: enrollment[k] for k in ("total", "enrolled", "percent", "aal2_capable", "seed_enrolled",
                                       "inactive_total", "inactive_with_mfa", "available_aal_mismatch",
                                       "available_aal_null")} == {
        "total": 0, "enrolled": 0, "percent": None, "aal2_capable": 0, "seed_enrolled": 0, "inactive_total": 0,
        "inactive_with_mfa": 0, "available_aal_mismatch": 0, "available_aal_null": 0}
    assert domain["methods"] == methods_block()
    assert domain["data_quality"] == clean_data_quality()
    assert domain["stepups"]["aal2_sessions"] == 0
    assert_stepup_days(domain, date(2024, 5, 1), {})
