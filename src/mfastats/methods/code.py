"""One-time codes by e-mail or SMS (`selfservice/strategy/code`).

v1 rows (`version` 1) hold `{"addresses": [{"channel", "address"}]}`; legacy rows (`version` 0) hold
`{"address_type": "email"}`. Whether a code is a second factor depends on the domain's
`code_mfa_enabled` (Kratos `selfservice.methods.code.mfa_enabled`), applied in the metrics.
"""

from mfastats.kratos.dialects import ElementTest, KratosDialect

NAME = "code"


def usable_address(d: KratosDialect, config: str, version: str) -> str:
    v1 = f"({d.json_count(config, 'addresses', ElementTest('nonempty_string', 'address'))} > 0)"
    legacy = f"(COALESCE({d.json_field_text(config, 'address_type')}, '') <> '')"
    return f"(CASE WHEN COALESCE({version}, 0) = 0 THEN {legacy} ELSE {v1} END)"


def malformed(d: KratosDialect, config: str) -> str:
    return d.json_field_wrong_type(config, "addresses", "array")
