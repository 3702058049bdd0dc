"""Passkeys (`selfservice/strategy/passkey`): always a first factor, never MFA."""

from mfastats.kratos.dialects import ElementTest, KratosDialect

NAME = "passkey"


def keys(d: KratosDialect, config: str) -> str:
    """Entries that are objects (keys); anything else in the list is no key."""
    return d.json_count(config, "credentials", ElementTest("object"))


def malformed(d: KratosDialect, config: str) -> str:
    return d.json_field_wrong_type(config, "credentials", "array")
