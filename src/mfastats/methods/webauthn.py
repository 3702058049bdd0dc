"""WebAuthn (`selfservice/strategy/webauthn`): config `{"credentials": [{..., "is_passwordless": bool}]}`.

A key with `is_passwordless: true` is a first factor; a key whose flag is false, null or missing (as in
v0 rows) is a second factor. Older Kratos kept the row with an empty list after the last key was
removed: such a row is not usable. An entry that is not an object, or whose flag is not a boolean,
is no key at all: Kratos could not decode it, so the row counts as malformed.
"""

from mfastats.kratos.dialects import ElementTest, KratosDialect

NAME = "webauthn"


def second_factor_keys(d: KratosDialect, config: str) -> str:
    """Number of keys whose `is_passwordless` is false, null or missing."""
    return d.json_count(config, "credentials", ElementTest("false_null_or_absent", "is_passwordless"))


def passwordless_keys(d: KratosDialect, config: str) -> str:
    return d.json_count(config, "credentials", ElementTest("true", "is_passwordless"))


def malformed(d: KratosDialect, config: str) -> str:
    wrong_entries = (f"{d.json_count(config, 'credentials')} <> "
                     f"{second_factor_keys(d, config)} + {passwordless_keys(d, config)}")
    return f"({d.json_field_wrong_type(config, 'credentials', 'array')} OR {wrong_entries})"
