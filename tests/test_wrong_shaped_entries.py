"""Wrong-shaped entries inside otherwise valid lists (found by the break-it review), on every dialect.

A WebAuthn `credentials` entry that is not an object, or whose `is_passwordless` is not a boolean, is
no key: Kratos could not decode it. A recovery-code entry that is not an object, or whose `used_at` is
neither null nor a time string, is no code. Such rows are counted in `malformed_config` and never make
an identity enrolled. Expected numbers are worked out by hand below.
"""

from __future__ import annotations

from dbservers import KratosDb
from reporthelp import PASSWORD, domain_doc, new_ids, reusable_kratos_db

from mfastats.demo.kratos_schema import Credential, Identity, write_kratos

_server_db, kratos_db = reusable_kratos_db()
AS_OF = "2024-06-01T00:00:00Z"


def test_webauthn_entries_that_are_not_keys(kratos_db: KratosDb) -> None:
    ids = new_ids(7)
    configs = [
        {"credentials": [None]},                                   # I0: no key, malformed
        {"credentials": [5, "x"]},                                  # I1: no key, malformed
        {"credentials": [{}]},                                      # I2: an object without flag: a v0 key (2nd factor)
        {"credentials": [{"id": "a", "is_passwordless": "true"}]},  # I3: flag is a string: malformed
        {"credentials": [{"id": "b", "is_passwordless": 1}]},       # I4: flag is a number: malformed
        {"credentials": [{"id": "c", "is_passwordless": False}, None]},  # I5: one real key + junk: usable, malformed
        {"credentials": [{"id": "d", "is_passwordless": None}]},    # I6: null flag: 2nd factor key
    ]
    write_kratos(kratos_db.engine, [Identity(i) for i in ids],
                 [Credential(i, "password", PASSWORD) for i in ids]
                 + [Credential(i, "webauthn", c) for i, c in zip(ids, configs, strict=True)], [])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    # enrolled: I2, I5, I6 = 3 of 7; seed rule counts every webauthn row = 7.
    assert (domain["enrollment"]["enrolled"], domain["enrollment"]["seed_enrolled"]) == (3, 7)
    assert domain["methods"]["webauthn_users"] == 3
    assert domain["methods"]["webauthn_passwordless_only"] == 0
    # malformed rows: I0, I1, I3, I4, I5 = 5
    assert domain["data_quality"]["malformed_config"] == 5


def test_recovery_code_entries_that_are_not_codes(kratos_db: KratosDb) -> None:
    ids = new_ids(5)
    configs = [
        {"recovery_codes": [None]},                                      # I0: no code: empty, malformed
        {"recovery_codes": [None, 5, "x", {}]},                          # I1: {} is an unused code; 3 junk
        {"recovery_codes": [{"code": "a", "used_at": False}]},           # I2: used_at not a time: malformed
        {"recovery_codes": [{"code": "b", "used_at": "2024-05-01T10:00:00Z"}]},  # I3: exhausted
        {"recovery_codes": [{"code": "c"}, {"code": "d", "used_at": None}]},     # I4: 2 unused
    ]
    write_kratos(kratos_db.engine, [Identity(i) for i in ids],
                 [Credential(i, "password", PASSWORD) for i in ids]
                 + [Credential(i, "lookup_secret", c) for i, c in zip(ids, configs, strict=True)], [])
    domain = domain_doc(kratos_db.url, as_of=AS_OF)
    methods = domain["methods"]
    # usable: I1 ({} is unused), I4 → 2; exhausted: I3 only (I0 and I2 hold no well-formed code).
    assert (methods["lookup_secret_usable"], methods["lookup_secret_exhausted"]) == (2, 1)
    # remaining over identities with a lookup row: I0, I2, I3 → "0"; I1 (1), I4 (2) → "1-3".
    assert methods["lookup_codes_remaining"] == {"0": 3, "1-3": 2, "4+": 0}
    assert domain["enrollment"]["aal2_capable"] == 2
    assert domain["data_quality"]["malformed_config"] == 3  # I0, I1, I2
