"""Passkeys (`selfservice/strategy/passkey`): always a first factor, never MFA."""

from mfastats.kratos.dialects import KratosDialect

NAME = "passkey"


def keys(d: KratosDialect, config: str) -> str:
    return d.json_count(config, "credentials")


def malformed(d: KratosDialect, config: str) -> str:
    return d.json_field_wrong_type(config, "credentials", "array")
