"""Typed rows the sources return and the metrics consume. No I/O here.

Every value is on the allow-list of SPEC 2.1: flags and counts computed inside the database, ids,
type names, states and timestamps; never a `config` or `traits` value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True)
class IdentityProfile:
    """A group of identities that share every MFA-relevant flag, with how many there are.

    The database groups identities by these flags, so the number of rows is bounded by the number
    of flag combinations, not by the number of identities.
    """

    state: str  # "active", "inactive" or "unknown" (any other value; counted as inactive)
    cached_aal: str | None  # identities.available_aal as stored (a lazily refreshed cache)
    seed_mfa_row: bool  # any totp or webauthn row at all: the seed page's literal rule
    usable_totp: bool
    webauthn_second_factor: bool  # at least one key whose is_passwordless is not true
    webauthn_passwordless: bool  # at least one key with is_passwordless true
    lookup_bucket: str | None  # unused recovery codes "0" / "1-3" / "4+"; None without a lookup row
    lookup_nonempty: bool
    code_usable: bool  # a `code` credential with a usable address
    passkey: bool
    plain_first_factor: bool  # password, oidc, saml or passkey row
    count: int

    @property
    def lookup_usable(self) -> bool:
        return self.lookup_bucket not in (None, "0")

    @property
    def lookup_exhausted(self) -> bool:
        return self.lookup_nonempty and self.lookup_bucket == "0"


@dataclass(frozen=True)
class CredentialQuality:
    """Row counts of credential problems (SPEC 6.1 data_quality)."""

    malformed_config: int
    unknown_credential_types: int
    missing_timestamps: int
    enrollments_after_as_of: int


@dataclass(frozen=True)
class EnrollmentDay:
    day: date
    totp: int
    webauthn: int


@dataclass(frozen=True)
class SessionSummary:
    aal2_sessions: int
    malformed_amr: int


@dataclass(frozen=True)
class AmrEntry:
    """One AMR entry of a session: only `method`, `aal` and `completed_at` leave the database."""

    session_id: str
    session_aal: str | None
    method: str | None
    aal: str | None
    completed_at: str | None


@dataclass(frozen=True)
class Snapshot:
    """Headline numbers of one stored snapshot (SPEC 5)."""

    domain: str
    as_of: datetime
    enrolled: int | None
    total: int | None
    percent: Decimal | None
