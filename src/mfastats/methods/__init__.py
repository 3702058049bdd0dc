"""What makes each Kratos credential type a usable factor, as SQL predicates over `config`.

One module per credential type; each knows only its own `config` shape (Kratos
`selfservice/strategy/<method>`). The predicates run inside the database (SPEC 2.1: secrets never
leave it) and are built from the named traits in `kratos.dialects`.
"""

# Every credential type name Kratos knows (identity_credential_types.name). Rows of any other type are
# counted in `unknown_credential_types`.
KNOWN_TYPES = (
    "password", "oidc", "totp", "webauthn", "lookup_secret", "code", "passkey", "saml",
    "deviceauthn", "profile", "identifier_first",
)

# Types whose mere presence is a first factor for Kratos's `available_aal` rule. `webauthn` is a first
# factor only through passwordless keys and `code` through a usable address: both handled by their modules.
FIRST_FACTOR_TYPES = ("password", "oidc", "saml", "passkey")
