"""Cases C1-C7 of shared/cases/README.md (enrollment), plus malformed configs, on every dialect.

Every expected number below is worked out by hand from the rows the test writes (SPEC 3.1/3.2);
nothing is computed by mfastats to produce an expectation.  Unless a case says otherwise every
identity is active and has a password credential, and ``available_aal`` is NULL.  The domain is
named ``ciam``, so its target is 30 and ``meets_target`` is ``enrolled * 100 > 30 * total``.

On SQLite and MariaDB (UUIDs stored as text) one credential of each fixture is written with its
``identity_id`` in UPPER-case text, so the identity joins must be case-insensitive.
"""

from __future__ import annotations

from typing import Any

from dbservers import KratosDb
from reporthelp import (
    PASSWORD,
    TOTP,
    WEBAUTHN_2FA,
    assert_subset,
    clean_data_quality,
    domain_doc,
    methods_block,
    new_ids,
    reusable_kratos_db,
)

from mfastats.demo.kratos_schema import Credential, Identity, write_kratos

_server_db, kratos_db = reusable_kratos_db()  # one server database per dialect and module

AS_OF = "2024-06-01T00:00:00Z"  # after every fixture timestamp (2024-05-01 10:00)


def owner(db: KratosDb, identity_id: str) -> str:
    """The id as one credential row stores it: UPPER-case text where the column is text."""
    return identity_id if db.dialect == "postgresql" else identity_id.upper()


def passwords(ids: list[str]) -> list[Credential]:
    return [Credential(i, "password", PASSWORD) for i in ids]


def enrollment(total: int, enrolled: int, percent: float | None, aal2_capable: int, seed_enrolled: int,
               mismatch: int, null: int, *, inactive_total: int = 0, inactive_with_mfa: int = 0) -> dict[str, Any]:
    """Expected enrollment block for the ``ciam`` domain (target 30)."""
    return {
        "total": total, "enrolled": enrolled, "percent": percent, "aal2_capable": aal2_capable,
        "seed_enrolled": seed_enrolled, "inactive_total": inactive_total, "inactive_with_mfa": inactive_with_mfa,
        "target_percent": 30.0, "meets_target": enrolled * 100 > 30 * total,
        "available_aal_mismatch": mismatch, "available_aal_null": null,
    }


def check(domain: dict[str, Any], enroll: dict[str, Any], methods: dict[str, Any],
          data_quality: dict[str, int] | None = None) -> None:
    assert_subset(domain["enrollment"], enroll, "enrollment")
    assert domain["methods"] == methods
    assert_subset(domain["data_quality"], data_quality or clean_data_quality(), "data_quality")


# -- C1 ---------------------------------------------------------------------------------------------
def test_c1_webauthn_row_with_no_keys_left(kratos_db: KratosDb) -> None:
    i1, i2 = new_ids(2)
    write_kratos(kratos_db.engine, [Identity(i1), Identity(i2)], [
        *passwords([i1, i2]),
        Credential(i1, "webauthn", {"credentials": [], "user_handle": "dTE="}),
        Credential(owner(kratos_db, i2), "webauthn",
                   {"credentials": [{"id": "azE=", "is_passwordless": False, "display_name": "key"}]}),
    ])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    # I2 is the only one with a second factor; both have a webauthn row (seed rule); I2's NULL cache
    # hides aal2 (mismatch 1), I1's NULL cache is right (aal1 by password).
    check(domain,
          enrollment(total=2, enrolled=1, percent=50.0, aal2_capable=1, seed_enrolled=2, mismatch=1, null=2),
          methods_block(webauthn=1, factors=(1, 1, 0, 0), phishing_resistant=1, none=1))


# -- C2 ---------------------------------------------------------------------------------------------
def test_c2_passwordless_keys_are_a_first_factor(kratos_db: KratosDb) -> None:
    i1, i2, i3 = new_ids(3)
    write_kratos(kratos_db.engine, [Identity(i) for i in (i1, i2, i3)], [
        *passwords([i1, i2, i3]),
        Credential(i1, "webauthn", {"credentials": [{"id": "cDE=", "is_passwordless": True}]}),
        Credential(owner(kratos_db, i2), "webauthn", {"credentials": [
            {"id": "cDI=", "is_passwordless": True}, {"id": "azI=", "is_passwordless": False}]}),
        Credential(i3, "webauthn", {"credentials": [{"id": "azM=", "display_name": "v0 key"}]}, version=0),
    ])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    check(domain,
          enrollment(total=3, enrolled=2, percent=66.67, aal2_capable=2, seed_enrolled=3, mismatch=2, null=3),
          methods_block(webauthn=2, passwordless_only=1, factors=(1, 2, 0, 0), phishing_resistant=2, none=1))


# -- C3 ---------------------------------------------------------------------------------------------
def test_c3_passkeys_are_never_mfa(kratos_db: KratosDb) -> None:
    i1, i2 = new_ids(2)
    write_kratos(kratos_db.engine, [Identity(i1), Identity(i2)], [
        Credential(owner(kratos_db, i1), "passkey", {"credentials": [{"id": "cDE=", "is_passwordless": True}]}),
        Credential(i2, "password", PASSWORD),
        Credential(i2, "totp", TOTP),
    ])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    # I1 (passkey only) is in the population; a passkey is a first factor (aal1, no mismatch).
    check(domain,
          enrollment(total=2, enrolled=1, percent=50.0, aal2_capable=1, seed_enrolled=1, mismatch=1, null=2),
          methods_block(totp=1, passkey=1, factors=(1, 1, 0, 0), app_code=1, none=1))


# -- C4 ---------------------------------------------------------------------------------------------
def test_c4_recovery_codes_all_used(kratos_db: KratosDb) -> None:
    i1, i2 = new_ids(2)
    write_kratos(kratos_db.engine, [Identity(i1), Identity(i2)], [
        *passwords([i1, i2]),
        Credential(i1, "lookup_secret", {"recovery_codes": [
            {"code": "a1", "used_at": "2024-05-01T10:00:00Z"}, {"code": "a2", "used_at": "2024-05-02T09:00:00Z"}]}),
        Credential(owner(kratos_db, i2), "lookup_secret", {"recovery_codes": [
            {"code": "b1", "used_at": "2024-05-01T10:00:00Z"}, {"code": "b2", "used_at": None}, {"code": "b3"}]}),
    ])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    # Kratos calls both aal2-capable (non-empty lists) while the cache is NULL: mismatch 2.
    check(domain,
          enrollment(total=2, enrolled=0, percent=0.0, aal2_capable=1, seed_enrolled=0, mismatch=2, null=2),
          methods_block(lookup_usable=1, lookup_exhausted=1, remaining=(1, 1, 0), factors=(1, 1, 0, 0),
                        recovery_codes_only=1, none=1))


def test_lookup_codes_remaining_buckets(kratos_db: KratosDb) -> None:
    """Bucket edges: 0, 1, 3 unused (1-3), 4 unused (4+); an empty list is neither usable nor exhausted."""
    ids = new_ids(6)
    used = {"code": "u", "used_at": "2024-05-01T10:00:00Z"}

    def codes(unused: int, n_used: int = 1) -> dict[str, Any]:
        return {"recovery_codes": [used] * n_used + [{"code": f"c{n}"} for n in range(unused)]}

    write_kratos(kratos_db.engine, [Identity(i) for i in ids], [
        *passwords(ids),
        Credential(ids[0], "lookup_secret", codes(0, 2)),
        Credential(ids[1], "lookup_secret", codes(1)),
        Credential(ids[2], "lookup_secret", codes(3)),
        Credential(owner(kratos_db, ids[3]), "lookup_secret", codes(4, 0)),
        Credential(ids[4], "lookup_secret", {"recovery_codes": []}),
        # ids[5]: password only, no lookup row: not in lookup_codes_remaining
    ])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    # Kratos rule aal2 for every non-empty list (ids 0-3); the empty list gives aal1.
    check(domain,
          enrollment(total=6, enrolled=0, percent=0.0, aal2_capable=3, seed_enrolled=0, mismatch=4, null=6),
          methods_block(lookup_usable=3, lookup_exhausted=1, remaining=(2, 2, 1), factors=(3, 3, 0, 0),
                        recovery_codes_only=3, none=3))


# -- C5 ---------------------------------------------------------------------------------------------
def _c5_rows(db: KratosDb) -> list[str]:
    i1, i2, i3, i4 = ids = new_ids(4)
    write_kratos(db.engine, [Identity(i) for i in ids], [
        *passwords(ids),
        Credential(owner(db, i1), "code", {"addresses": [{"channel": "sms", "address": "+15550100001"}]}, version=1),
        Credential(i2, "code", {"address_type": "email"}, version=0),
        Credential(i3, "code", {"addresses": []}, version=1),
        Credential(i4, "code", {"addresses": [{"channel": "email", "address": ""}]}, version=1),
    ])
    return ids


def test_c5_code_counts_only_when_enabled(kratos_db: KratosDb) -> None:
    _c5_rows(kratos_db)
    enabled = domain_doc(kratos_db.url, as_of=AS_OF, code_mfa=True)
    disabled = domain_doc(kratos_db.url, as_of=AS_OF)
    # Enabled: I1, I2 are aal2-capable and Kratos's rule says aal2 for them (NULL cache: mismatch 2).
    check(enabled,
          enrollment(total=4, enrolled=0, percent=0.0, aal2_capable=2, seed_enrolled=0, mismatch=2, null=4),
          methods_block(code=2, factors=(2, 2, 0, 0), email_sms_code=2, none=2))
    check(disabled,
          enrollment(total=4, enrolled=0, percent=0.0, aal2_capable=0, seed_enrolled=0, mismatch=0, null=4),
          methods_block(code=2, factors=(4, 0, 0, 0), none=4))


# -- C6 ---------------------------------------------------------------------------------------------
def test_c6_available_aal_cache_is_not_the_truth(kratos_db: KratosDb) -> None:
    i1, i2, i3 = new_ids(3)
    write_kratos(kratos_db.engine, [
        Identity(i1, available_aal=None), Identity(i2, available_aal="aal2"), Identity(i3, available_aal="aal1"),
    ], [*passwords([i1, i2, i3]), Credential(owner(kratos_db, i1), "totp", TOTP)])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    check(domain,
          enrollment(total=3, enrolled=1, percent=33.33, aal2_capable=1, seed_enrolled=1, mismatch=2, null=1),
          methods_block(totp=1, factors=(2, 1, 0, 0), app_code=1, none=2))


def test_available_aal_rule_aal0_and_case(kratos_db: KratosDb) -> None:
    """No credential at all: Kratos's rule gives aal0, so a cached 'aal1' is a mismatch; 'aal2' matches TOTP."""
    i1, i2, i3 = new_ids(3)
    write_kratos(kratos_db.engine, [
        Identity(i1, available_aal="aal1"),  # no credentials: aal0 -> mismatch
        Identity(i2, available_aal="aal2"),  # totp: aal2 -> match
        Identity(i3, available_aal="aal1"),  # password only: aal1 -> match
    ], [Credential(i2, "password", PASSWORD), Credential(owner(kratos_db, i2), "totp", TOTP),
        Credential(i3, "password", PASSWORD)])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    check(domain,
          enrollment(total=3, enrolled=1, percent=33.33, aal2_capable=1, seed_enrolled=1, mismatch=1, null=0),
          methods_block(totp=1, factors=(2, 1, 0, 0), app_code=1, none=2))


# -- C7 ---------------------------------------------------------------------------------------------
def test_c7_inactive_identities(kratos_db: KratosDb) -> None:
    i1, i2, i3 = new_ids(3)
    write_kratos(kratos_db.engine, [Identity(i1, state="inactive"), Identity(i2), Identity(i3)], [
        *passwords([i1, i2, i3]),
        Credential(owner(kratos_db, i1), "totp", TOTP),
        Credential(i2, "totp", TOTP),
    ])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    expected = enrollment(total=2, enrolled=1, percent=50.0, aal2_capable=1, seed_enrolled=2, mismatch=0, null=0,
                          inactive_total=1, inactive_with_mfa=1)
    # SPEC does not say whether the available_aal counts include inactive identities: not asserted here.
    del expected["available_aal_mismatch"], expected["available_aal_null"]
    check(domain, expected, methods_block(totp=1, factors=(1, 1, 0, 0), app_code=1, none=1))


def test_state_compared_case_insensitively_and_unknown_state(kratos_db: KratosDb) -> None:
    ids = new_ids(4)
    write_kratos(kratos_db.engine, [
        Identity(ids[0], state="ACTIVE"), Identity(ids[1], state="Inactive"),
        Identity(ids[2], state="deleted"), Identity(ids[3]),
    ], [*passwords(ids), *(Credential(i, "totp", TOTP) for i in ids)])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    # active: ids 0, 3; inactive: 'Inactive' and 'deleted' (unknown_state 1); all four have TOTP.
    assert_subset(domain["enrollment"], {"total": 2, "enrolled": 2, "percent": 100.0, "inactive_total": 2,
                                         "inactive_with_mfa": 2, "seed_enrolled": 4}, "enrollment")
    assert domain["data_quality"]["unknown_state"] == 1


def test_mixed_methods_both_and_strength_tiers(kratos_db: KratosDb) -> None:
    """Each identity counted once at its strongest factor; factors = distinct usable 2FA methods."""
    ids = new_ids(5)
    lookup = {"recovery_codes": [{"code": "x1"}, {"code": "x2"}]}
    sms = {"addresses": [{"channel": "sms", "address": "+15550100002"}]}
    write_kratos(kratos_db.engine, [Identity(i) for i in ids], [
        *passwords(ids),
        # 0: TOTP + WebAuthn + lookup + code -> 4 methods (3+), phishing resistant
        Credential(ids[0], "totp", TOTP), Credential(owner(kratos_db, ids[0]), "webauthn", WEBAUTHN_2FA),
        Credential(ids[0], "lookup_secret", lookup), Credential(ids[0], "code", sms),
        # 1: TOTP + lookup -> 2, app code
        Credential(ids[1], "totp", TOTP), Credential(ids[1], "lookup_secret", lookup),
        # 2: code + lookup -> 2 with code enabled, email/sms
        Credential(ids[2], "code", sms), Credential(ids[2], "lookup_secret", lookup),
        # 3: WebAuthn only -> 1
        Credential(ids[3], "webauthn", WEBAUTHN_2FA),
        # 4: password only
    ])
    domain = domain_doc(kratos_db.url, as_of=AS_OF, code_mfa=True)
    check(domain,
          enrollment(total=5, enrolled=3, percent=60.0, aal2_capable=4, seed_enrolled=3, mismatch=4, null=5),
          methods_block(totp=2, webauthn=2, both=1, lookup_usable=3, remaining=(0, 3, 0), code=2,
                        factors=(1, 1, 2, 1), phishing_resistant=2, app_code=1, email_sms_code=1, none=1))


# -- malformed configs and unknown types ------------------------------------------------------------------
def test_malformed_config_and_unknown_types(kratos_db: KratosDb) -> None:
    good, array, creds_str, url_num, unknown, *bad_text = new_ids(5 + (2 if kratos_db.dialect == "sqlite" else 0))
    everyone = [good, array, creds_str, url_num, unknown, *bad_text]
    rows = [
        *passwords(everyone),
        Credential(owner(kratos_db, good), "totp", TOTP),
        Credential(array, "totp", [TOTP["totp_url"]]),  # config an array
        Credential(creds_str, "webauthn", {"credentials": "azE="}),  # credentials a string
        Credential(url_num, "totp", {"totp_url": 12345}),  # totp_url a number
        Credential(unknown, "sms_magic", {"phone": "+15550100003"}),  # a type Kratos does not know
    ]
    if kratos_db.dialect == "sqlite":  # only SQLite can hold text that is not JSON
        rows += [Credential(bad_text[0], "totp", '{"totp_url": "otpauth://totp/x'),
                 Credential(bad_text[1], "webauthn", '{"credentials": [{"id": ')]
    write_kratos(kratos_db.engine, [Identity(i) for i in everyone], rows)
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    n = len(everyone)
    seed = n - 1  # every identity but `unknown` has a totp or webauthn row
    check(domain,
          enrollment(total=n, enrolled=1, percent=20.0 if n == 5 else 14.29, aal2_capable=1, seed_enrolled=seed,
                     mismatch=1, null=n),
          methods_block(totp=1, factors=(n - 1, 1, 0, 0), app_code=1, none=n - 1),
          clean_data_quality(malformed_config=3 + len(bad_text), unknown_credential_types=1))


def test_totp_url_rule(kratos_db: KratosDb) -> None:
    """First 10 characters lower-cased must be 'otpauth://'; a missing or empty URL is simply not usable."""
    configs = {
        "upper-scheme": ({"totp_url": "OTPAUTH://totp/X?secret=JBSWY3DPEHPK3PXP"}, True),
        "mixed-scheme": ({"totp_url": "OtpAuth://totp/X?secret=JBSWY3DPEHPK3PXP"}, True),
        "empty": ({"totp_url": ""}, False),
        "not-otpauth": ({"totp_url": "https://example.com/otpauth://"}, False),
        "no-url": ({}, False),
    }
    ids = dict(zip(configs, new_ids(len(configs)), strict=True))
    write_kratos(kratos_db.engine, [Identity(i) for i in ids.values()], [
        *passwords(list(ids.values())), *(Credential(ids[k], "totp", config) for k, (config, _) in configs.items())])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    assert_subset(domain["enrollment"], {"total": 5, "enrolled": 2, "percent": 40.0, "seed_enrolled": 5},
                  "enrollment")
    assert domain["methods"]["totp_users"] == 2
    assert domain["data_quality"]["malformed_config"] == 0


def test_config_of_wrong_json_type(kratos_db: KratosDb) -> None:
    """Valid JSON that is not an object (a string, null, a number) is malformed on every dialect."""
    good, as_string, as_null, as_number, creds_obj = new_ids(5)
    everyone = [good, as_string, as_null, as_number, creds_obj]
    write_kratos(kratos_db.engine, [Identity(i) for i in everyone], [
        *passwords(everyone),
        Credential(good, "webauthn", WEBAUTHN_2FA),
        Credential(as_string, "totp", '"otpauth://totp/X?secret=JBSWY3DPEHPK3PXP"'),
        Credential(as_null, "webauthn", "null"),
        Credential(as_number, "lookup_secret", "42"),
        Credential(owner(kratos_db, creds_obj), "webauthn", {"credentials": {"id": "azE=", "is_passwordless": False}}),
    ])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    # seed rule: good, as_string (totp), as_null, creds_obj (webauthn) = 4
    check(domain,
          enrollment(total=5, enrolled=1, percent=20.0, aal2_capable=1, seed_enrolled=4, mismatch=1, null=5),
          # as_number has a (malformed) lookup row: 0 codes remaining
          methods_block(webauthn=1, remaining=(1, 0, 0), factors=(4, 1, 0, 0), phishing_resistant=1, none=4),
          clean_data_quality(malformed_config=4))


def test_uuid_case_identity_side_and_networks(kratos_db: KratosDb) -> None:
    """identities.id in UPPER-case text with lower-case credential rows; two networks are both counted."""
    i1, i2, i3 = new_ids(3)
    other_nid = "0f0e0d0c-0b0a-4909-8807-060504030201"
    write_kratos(kratos_db.engine, [
        Identity(owner(kratos_db, i1)), Identity(i2, nid=other_nid), Identity(owner(kratos_db, i3), nid=other_nid),
    ], [
        *passwords([i1, i2, i3]),
        Credential(i1, "totp", TOTP),
        Credential(i2, "webauthn", WEBAUTHN_2FA, nid=other_nid),
        Credential(owner(kratos_db, i2), "totp", TOTP, nid=other_nid),
    ])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    check(domain,
          enrollment(total=3, enrolled=2, percent=66.67, aal2_capable=2, seed_enrolled=2, mismatch=2, null=3),
          methods_block(totp=2, webauthn=1, both=1, factors=(1, 1, 1, 0), phishing_resistant=1, app_code=1, none=1))


def test_enrollments_over_time_zone_and_future_rows(kratos_db: KratosDb) -> None:
    """Usable factors per creation day in the report zone; a row created after as_of is left out and counted."""
    from datetime import datetime

    ids = new_ids(5)
    write_kratos(kratos_db.engine, [Identity(i, created_at=datetime(2024, 1, 1)) for i in ids], [
        *(Credential(i, "password", PASSWORD, created_at=datetime(2024, 1, 1)) for i in ids),
        Credential(ids[0], "totp", TOTP, created_at=datetime(2024, 3, 11, 2, 30)),  # LA: 10 March 19:30
        Credential(ids[1], "webauthn", WEBAUTHN_2FA, created_at=datetime(2024, 3, 11, 12, 0)),  # LA: 11 March
        Credential(ids[2], "totp", {"totp_url": "nope"}, created_at=datetime(2024, 3, 11, 12, 0)),  # not usable
        Credential(ids[3], "webauthn", {"credentials": [{"id": "cDE=", "is_passwordless": True}]},
                   created_at=datetime(2024, 3, 11, 12, 0)),  # passwordless only: not a second factor
        Credential(ids[4], "totp", TOTP, created_at=datetime(2024, 3, 13, 8, 0)),  # after as_of
    ])
    as_of = "2024-03-12T23:59:59-07:00"  # end of 12 March in Los Angeles
    domain = domain_doc(kratos_db.url, as_of=as_of, timezone="America/Los_Angeles")
    days = domain["enrollments_over_time"]["days"]
    assert len(days) == 90 and days[-1]["date"] == "2024-03-12"
    dated = {d["date"]: (d["totp"], d["webauthn"]) for d in days if d["totp"] or d["webauthn"]}
    assert dated == {"2024-03-10": (1, 0), "2024-03-11": (0, 1)}
    assert domain["enrollments_over_time"]["source"] == "derived"
    assert domain["data_quality"]["timestamps_after_as_of"] == 1
    # Current-state counts are as found: the TOTP created after as_of still counts as enrolled.
    assert domain["enrollment"]["enrolled"] == 3
    utc = domain_doc(kratos_db.url, as_of="2024-03-12T23:59:59Z")
    dated_utc = {d["date"]: (d["totp"], d["webauthn"]) for d in utc["enrollments_over_time"]["days"]
                 if d["totp"] or d["webauthn"]}
    assert dated_utc == {"2024-03-11": (1, 1)}


def test_webauthn_is_passwordless_null_is_second_factor(kratos_db: KratosDb) -> None:
    i1, i2 = new_ids(2)
    write_kratos(kratos_db.engine, [Identity(i1), Identity(i2)], [
        *passwords([i1, i2]),
        Credential(i1, "webauthn", {"credentials": [{"id": "azE=", "is_passwordless": None}]}),
        Credential(i2, "webauthn", {"credentials": [{"id": "cDE=", "is_passwordless": True},
                                                    {"id": "cDI=", "is_passwordless": True}]}),
    ])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    check(domain,
          enrollment(total=2, enrolled=1, percent=50.0, aal2_capable=1, seed_enrolled=2, mismatch=1, null=2),
          methods_block(webauthn=1, passwordless_only=1, factors=(1, 1, 0, 0), phishing_resistant=1, none=1))


def _old_schema(db: KratosDb) -> dict[str, Any]:
    """3 identities (TOTP, WebAuthn, password only) in a schema without any optional column."""
    from mfastats.demo.kratos_schema import OPTIONAL_COLUMNS, Session

    i1, i2, i3 = new_ids(3)
    write_kratos(db.engine, [Identity(i1), Identity(i2), Identity(i3)], [
        *passwords([i1, i2, i3]),
        Credential(owner(db, i1), "totp", TOTP),
        Credential(i2, "webauthn", WEBAUTHN_2FA),
    ], [Session(i1)], omit=OPTIONAL_COLUMNS)
    return domain_doc(db.url, as_of=AS_OF)


def test_old_schema_without_optional_columns(kratos_db: KratosDb) -> None:
    """No state, available_aal, version, sessions.aal or AMR column: detected, not assumed; everyone is active."""
    domain = _old_schema(kratos_db)
    assert_subset(domain["enrollment"], {"total": 3, "enrolled": 2, "percent": 66.67, "aal2_capable": 2,
                                         "seed_enrolled": 2, "inactive_total": 0}, "enrollment")
    assert_subset(domain["methods"], {"totp_users": 1, "webauthn_users": 1, "both": 0}, "methods")
    assert len(domain["stepups"]["days"]) == 30
    assert domain["stepups"]["aal2_sessions"] == 0


def test_old_schema_has_no_available_aal_cache_to_blame(kratos_db: KratosDb) -> None:
    enrollment = _old_schema(kratos_db)["enrollment"]
    assert enrollment["available_aal_null"] in (0, None)
    assert enrollment["available_aal_mismatch"] in (0, None)
