"""WebAuthn (`selfservice/strategy/webauthn`): config `{"credentials": [{..., "is_passwordless": bool}]}`.

A key with `is_passwordless: true` is a first factor; any other key (false, null or missing, as in
v0 rows) is a second factor. Older Kratos kept the row with an empty list after the last key was
removed: such a row is not usable.
"""

from mfastats.kratos.dialects import ElementTest, KratosDialect

NAME = "webauthn"


def second_factor_keys(d: KratosDialect, config: str) -> str:
    """Number of keys whose `is_passwordless` is not true."""
    all_keys = d.json_count(config, "credentials")
    return f"({all_keys} - {passwordless_keys(d, config)})"


def passwordless_keys(d: KratosDialect, config: str) -> str:
    return d.json_count(config, "credentials", ElementTest("true", "is_passwordless"))


def malformed(d: KratosDialect, config: str) -> str:
    return d.json_field_wrong_type(config, "credentials", "array")
