"""Recovery codes (`selfservice/strategy/lookup`): config `{"recovery_codes": [{"code", "used_at"}]}`.

A code is unused while `used_at` is null or absent, and used when it holds a time (a string). Kratos
counts any non-empty list as a second factor, used up or not; mfastats reports usable and exhausted
lists separately. An entry that is not an object, or whose `used_at` is neither null nor a string, is
no code at all and makes the row malformed.
"""

from mfastats.kratos.dialects import ElementTest, KratosDialect

NAME = "lookup_secret"


def unused_codes(d: KratosDialect, config: str) -> str:
    return d.json_count(config, "recovery_codes", ElementTest("null_or_absent", "used_at"))


def used_codes(d: KratosDialect, config: str) -> str:
    return d.json_count(config, "recovery_codes", ElementTest("string", "used_at"))


def all_codes(d: KratosDialect, config: str) -> str:
    """Well-formed codes, used or not."""
    return f"({unused_codes(d, config)} + {used_codes(d, config)})"


def malformed(d: KratosDialect, config: str) -> str:
    wrong_entries = f"{d.json_count(config, 'recovery_codes')} <> {all_codes(d, config)}"
    return f"({d.json_field_wrong_type(config, 'recovery_codes', 'array')} OR {wrong_entries})"
