"""Enrollment, the method split and the `available_aal` cache check (SPEC 3.1, 3.2)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from decimal import ROUND_HALF_UP, Decimal

from mfastats.model import BUCKETS_FACTORS, BUCKETS_REMAINING, STRENGTH_TIERS, Enrollment, Methods
from mfastats.rows import IdentityProfile


def has_mfa(p: IdentityProfile) -> bool:
    """The seed's intent: a usable TOTP or a WebAuthn second-factor key."""
    return p.usable_totp or p.webauthn_second_factor


def second_factors(p: IdentityProfile, code_mfa_enabled: bool) -> int:
    """Number of distinct usable second-factor methods."""
    return sum((p.usable_totp, p.webauthn_second_factor, p.lookup_usable, code_mfa_enabled and p.code_usable))


def kratos_aal(p: IdentityProfile, code_mfa_enabled: bool) -> str:
    """Kratos's own `available_aal` rule: it counts any non-empty recovery-code list, used up or not."""
    if p.usable_totp or p.webauthn_second_factor or p.lookup_nonempty or (code_mfa_enabled and p.code_usable):
        return "aal2"
    if p.plain_first_factor or p.webauthn_passwordless or p.code_usable:
        return "aal1"
    return "aal0"


def percent(part: int, whole: int) -> Decimal | None:
    """`part * 100 / whole` rounded half-up to two decimals, from the integers; None when whole is 0."""
    if whole == 0:
        return None
    return (Decimal(part * 100) / Decimal(whole)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def meets_target(enrolled: int, total: int, target: Decimal | None) -> bool | None:
    """Strictly above target (the seed says "> 95 %"), on exact values."""
    if target is None or total == 0:
        return None
    return Decimal(enrolled * 100) > target * total


def enrollment(profiles: Iterable[IdentityProfile], *, target: Decimal | None,
               code_mfa_enabled: bool, aal_cache: bool = True) -> Enrollment:
    """`aal_cache` is False when the database has no `identities.available_aal` column (older Kratos):
    then there is no cache to compare and both cache counts are null."""
    total = enrolled = capable = seed = inactive = inactive_mfa = mismatch = null = 0
    for p in profiles:
        active = p.state == "active"
        if active:
            total += p.count
            enrolled += p.count * has_mfa(p)
            capable += p.count * (second_factors(p, code_mfa_enabled) > 0)
        else:
            inactive += p.count
            inactive_mfa += p.count * has_mfa(p)
        seed += p.count * p.seed_mfa_row
        rule = kratos_aal(p, code_mfa_enabled)
        if p.cached_aal is None:
            null += p.count
            mismatch += p.count * (rule == "aal2")
        elif p.cached_aal.lower() != rule:
            mismatch += p.count
    return Enrollment(
        total=total, enrolled=enrolled, percent=percent(enrolled, total), aal2_capable=capable,
        seed_enrolled=seed, inactive_total=inactive, inactive_with_mfa=inactive_mfa,
        target_percent=target, meets_target=meets_target(enrolled, total, target),
        available_aal_mismatch=mismatch if aal_cache else None, available_aal_null=null if aal_cache else None,
    )


def strength_tier(p: IdentityProfile, code_mfa_enabled: bool) -> str:
    """The strongest factor an identity has, phishing-resistant first."""
    if p.webauthn_second_factor:
        return "phishing_resistant"
    if p.usable_totp:
        return "app_code"
    if code_mfa_enabled and p.code_usable:
        return "email_sms_code"
    if p.lookup_usable:
        return "recovery_codes_only"
    return "none"


def methods(profiles: Iterable[IdentityProfile], *, code_mfa_enabled: bool) -> Methods:
    """Method split over active identities."""
    counts = dict.fromkeys(("totp", "webauthn", "both", "lookup", "exhausted", "code", "passkey",
                            "passwordless_only"), 0)
    remaining = dict.fromkeys(BUCKETS_REMAINING, 0)
    factors = dict.fromkeys(BUCKETS_FACTORS, 0)
    tiers = dict.fromkeys(STRENGTH_TIERS, 0)
    for p in profiles:
        if p.state != "active":
            continue
        n = p.count
        counts["totp"] += n * p.usable_totp
        counts["webauthn"] += n * p.webauthn_second_factor
        counts["both"] += n * (p.usable_totp and p.webauthn_second_factor)
        counts["lookup"] += n * p.lookup_usable
        counts["exhausted"] += n * p.lookup_exhausted
        counts["code"] += n * p.code_usable
        counts["passkey"] += n * p.passkey
        counts["passwordless_only"] += n * (p.webauthn_passwordless and not p.webauthn_second_factor)
        if p.lookup_bucket is not None:
            remaining[p.lookup_bucket] += n
        factors[_factor_bucket(p, code_mfa_enabled)] += n
        tiers[strength_tier(p, code_mfa_enabled)] += n
    return Methods(
        totp_users=counts["totp"], webauthn_users=counts["webauthn"], both=counts["both"],
        lookup_secret_usable=counts["lookup"], lookup_secret_exhausted=counts["exhausted"],
        lookup_codes_remaining=remaining, code_users=counts["code"], passkey_users=counts["passkey"],
        webauthn_passwordless_only=counts["passwordless_only"], factors_per_identity=factors,
        strength_tiers=tiers,
    )


def _factor_bucket(p: IdentityProfile, code_mfa_enabled: bool) -> str:
    number = second_factors(p, code_mfa_enabled)
    return "3+" if number >= 3 else str(number)


def sum_enrollment(parts: list[Enrollment]) -> Enrollment:
    """All domains together: counts add up, the percentage is recomputed, there is no shared target."""
    totals = {f.name: sum(getattr(part, f.name) or 0 for part in parts) for f in fields(Enrollment)
              if f.name not in ("percent", "target_percent", "meets_target")}
    return Enrollment(**totals, percent=percent(totals["enrolled"], totals["total"]))


def sum_methods(parts: list[Methods]) -> Methods:
    values: dict[str, object] = {}
    for f in fields(Methods):
        first = getattr(Methods(), f.name)
        if isinstance(first, dict):
            values[f.name] = {key: sum(getattr(p, f.name)[key] or 0 for p in parts) for key in first}
        else:
            values[f.name] = sum(getattr(p, f.name) or 0 for p in parts)
    return Methods(**values)  # type: ignore[arg-type]
