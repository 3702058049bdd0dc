"""Recovery codes (`selfservice/strategy/lookup`): config `{"recovery_codes": [{"code", "used_at"}]}`.

A code is unused while `used_at` is null or absent. Kratos counts any non-empty list as a second
factor, used up or not; mfastats reports usable and exhausted lists separately.
"""

from mfastats.kratos.dialects import ElementTest, KratosDialect

NAME = "lookup_secret"


def unused_codes(d: KratosDialect, config: str) -> str:
    return d.json_count(config, "recovery_codes", ElementTest("null_or_absent", "used_at"))


def all_codes(d: KratosDialect, config: str) -> str:
    return d.json_count(config, "recovery_codes")


def malformed(d: KratosDialect, config: str) -> str:
    return d.json_field_wrong_type(config, "recovery_codes", "array")
