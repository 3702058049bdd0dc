"""TOTP (`selfservice/strategy/totp`): config `{"totp_url": "otpauth://totp/..."}`."""

from mfastats.kratos.dialects import KratosDialect

NAME = "totp"


def usable(d: KratosDialect, config: str) -> str:
    """A string `totp_url` whose first 10 characters, lower-cased, are `otpauth://`."""
    return f"(LOWER(SUBSTR({d.json_field_text(config, 'totp_url')}, 1, 10)) = 'otpauth://')"


def malformed(d: KratosDialect, config: str) -> str:
    return d.json_field_wrong_type(config, "totp_url", "string")
