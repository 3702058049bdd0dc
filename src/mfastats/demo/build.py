"""Build the demo: realistic CIAM and IAM Kratos databases in SQLite, then a report over them.

Why generated and not shipped: the demo must show *this week's* data (the step-up series covers the 30
dates ending today and the alerts look at the last 3 days), so every timestamp is computed relative to
the as-of moment.  Why a fixed seed: two runs on the same day give the same numbers, which lets tests
and screenshots compare reports.

The data imitates what a real Kratos deployment accumulates, including the rows that make naive MFA
counts wrong (`shared/cases/README.md`): WebAuthn rows without keys (C1), passwordless-only keys (C2),
passkey-only customers (C3), exhausted recovery codes (C4), `code` rows with no address (C5), a stale or
missing `available_aal` cache (C6), inactive identities that still hold a TOTP (C7), legacy and duplicated
AMR entries (C8, C10), an unknown credential type and, since SQLite can hold it, invalid JSON in one
credential config and one session AMR.

Only the public API of `mfastats.demo.kratos_schema` is used, so the files have Kratos's real column
types.  Generating and writing both databases takes about 1.5 s (mostly the writer's inserts), the
report over them under a second, so `mfastats demo` stays interactive.
"""

from __future__ import annotations

import base64
import random
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path

import platformdirs
from sqlalchemy import create_engine

from mfastats.demo.audit_history import SUCCESS_EVENT, write_demo_audit, write_demo_history
from mfastats.demo.kratos_schema import Credential, Identity, Session, write_kratos
from mfastats.dsn import parse_dsn
from mfastats.model import Report
from mfastats.report import build_report
from mfastats.settings import AuditSettings, DomainSettings, Settings
from mfastats.store.history import Store, parse_store_dsn

DEFAULT_SEED = 20261203
CIAM_FILE = "ciam_kratos.sqlite"
IAM_FILE = "iam_kratos.sqlite"
AUDIT_FILE = "olympus.sqlite"
STORE_FILE = "history.sqlite"

#: How far back sessions go: longer than the 30-day step-up window, as a Kratos that keeps sessions
#: for a while (or cleans up lazily) would have.
SESSION_HISTORY_DAYS = 45
#: Credentials are enrolled over the past year, so the 90-day enrollment series has data every week.
ENROLLMENT_HISTORY_DAYS = 365
#: Identities signed up over the past three years.
SIGNUP_HISTORY_DAYS = 3 * 365


@dataclass(frozen=True)
class BuiltDemo:
    """What `mfastats demo` needs to print the report: where the files are and how to read them."""

    folder: Path
    settings: Settings
    as_of: datetime
    ciam_path: Path
    iam_path: Path
    audit_path: Path
    store_path: Path

    def compute(self) -> Report:
        """The demo's report, with its audit log and snapshot history."""
        return build_report(self.settings, self.as_of, Store.open(parse_store_dsn(str(self.store_path)), create=False))


@dataclass(frozen=True)
class _Profile:
    """The shape of one domain's population and traffic; CIAM and IAM differ only in these numbers."""

    name: str
    size: int
    schema_id: str
    email_domain: str
    inactive_rate: float
    #: First factors of active users (the rest have a password): OIDC only, OIDC + password,
    #: passkey only, passwordless WebAuthn only.
    oidc_only: float
    oidc_and_password: float
    passkey_only: float
    passwordless_only: float
    #: Share with a usable second factor, and how it splits (the rest of it is TOTP only).
    mfa_rate: float
    webauthn_only_share: float
    both_share: float
    #: Of MFA users: recovery codes; of everyone: an e-mail/SMS `code` credential.
    lookup_rate: float
    code_rate: float
    #: Traffic: sessions per weekday and per weekend day, and how MFA users step up.
    weekday_sessions: int
    weekend_sessions: int
    stepup_at_login: float
    stepup_later: float
    stepup_both: float
    session_hours: int


CIAM = _Profile(
    name="ciam", size=5000, schema_id="customer", email_domain="example.com",
    inactive_rate=0.03, oidc_only=0.10, oidc_and_password=0.05, passkey_only=0.012, passwordless_only=0.008,
    mfa_rate=0.29, webauthn_only_share=0.25, both_share=0.10, lookup_rate=0.45, code_rate=0.12,
    weekday_sessions=85, weekend_sessions=110, stepup_at_login=0.45, stepup_later=0.20, stepup_both=0.05,
    session_hours=24 * 14,
)
IAM = _Profile(
    name="iam", size=200, schema_id="admin", email_domain="olympus.example",
    inactive_rate=0.0, oidc_only=0.0, oidc_and_password=0.30, passkey_only=0.0, passwordless_only=0.0,
    mfa_rate=1.0, webauthn_only_share=0.55, both_share=0.25, lookup_rate=0.60, code_rate=0.0,
    weekday_sessions=75, weekend_sessions=12, stepup_at_login=0.80, stepup_later=0.05, stepup_both=0.15,
    session_hours=12,
)
#: IAM is sized exactly, not drawn: leavers (inactive, some still holding keys) and the few active
#: employees without a second factor (new hires mid-onboarding, a break-glass account).
IAM_LEAVERS = 6
IAM_WITHOUT_MFA = 4


@dataclass
class _User:
    """What the session generator needs to know about an identity."""

    id: str
    active: bool
    first: tuple[str, ...]   # AMR methods of first factors: password, oidc, passkey, webauthn
    second: tuple[str, ...]  # AMR methods of usable second factors: totp, webauthn, lookup_secret
    weight: float


@dataclass
class _Domain:
    """Rows of one Kratos database being generated, with the helpers that make them look real."""

    rng: random.Random
    as_of: datetime  # naive UTC
    profile: _Profile
    identities: list[Identity] = field(default_factory=list)
    credentials: list[Credential] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    users: list[_User] = field(default_factory=list)

    # -- small random values -------------------------------------------------------------------
    def uuid(self) -> str:
        """A UUID drawn from the seeded generator, so ids repeat from run to run."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def token(self, alphabet: str, length: int) -> str:
        """Random text of `length` characters from `alphabet` (for short, readable values)."""
        return "".join(self.rng.choices(alphabet, k=length))

    def b64(self, size: int) -> str:
        """`size` random bytes, unpadded base64url, as Kratos encodes keys and handles.  Much faster than
        `token` for the thousands of long fake secrets, which keeps the demo quick."""
        return base64.urlsafe_b64encode(self.rng.randbytes(size)).rstrip(b"=").decode()

    def b32(self, size: int) -> str:
        return base64.b32encode(self.rng.randbytes(size)).rstrip(b"=").decode()

    def between(self, start: datetime, end: datetime) -> datetime:
        """A whole-microsecond instant in [start, end]."""
        span = max((end - start).total_seconds(), 0.0)
        return (start + timedelta(seconds=self.rng.uniform(0, span))).replace(microsecond=0)

    def days_ago(self, low: float, high: float) -> datetime:
        return self.as_of - timedelta(days=self.rng.uniform(low, high))

    def rfc3339(self, moment: datetime, style: str) -> str:
        """An AMR `completed_at` as Kratos versions write it: Go RFC3339Nano (`Z`, trimmed nanoseconds),
        whole seconds, or an explicit `+00:00` offset (rows written through other tooling)."""
        base = moment.strftime("%Y-%m-%dT%H:%M:%S")
        if style == "nano":
            fraction = f"{moment.microsecond:06d}{self.rng.randrange(1000):03d}".rstrip("0")
            return f"{base}.{fraction}Z" if fraction else f"{base}Z"
        if style == "offset":
            return f"{base}+00:00"
        return f"{base}Z"

    def amr_style(self) -> str:
        return self.rng.choices(("nano", "plain", "offset"), weights=(60, 30, 10))[0]

    # -- credential configs (fake secrets, real shapes) ------------------------------------------
    def password_config(self) -> dict[str, object]:
        salt, digest = self.b64(16), self.b64(32)
        return {"hashed_password": f"$argon2id$v=19$m=65536,t=3,p=4${salt}${digest}"}

    def oidc_config(self, provider: str, subject: str) -> dict[str, object]:
        return {"providers": [{"subject": subject, "provider": provider, "initial_id_token": "",
                               "initial_access_token": "", "initial_refresh_token": ""}]}

    def totp_config(self, email: str) -> dict[str, object]:
        issuer = "Olympus" if self.profile.name == "ciam" else "Olympus%20Admin"
        return {"totp_url": f"otpauth://totp/{issuer}:{email}?algorithm=SHA1&digits=6&issuer={issuer}"
                            f"&period=30&secret={self.b32(20)}"}

    def webauthn_key(self, *, passwordless: bool | None, added: datetime) -> dict[str, object]:
        """One key; `passwordless=None` leaves the field out, as v0 rows do (a second-factor key)."""
        key: dict[str, object] = {
            "id": self.b64(32), "public_key": self.b64(65), "attestation_type": "none",
            "authenticator": {"aaguid": self.b64(16), "sign_count": self.rng.randrange(400),
                              "clone_warning": False},
            "display_name": self.rng.choice(("YubiKey 5", "Touch ID", "Windows Hello", "Security key",
                                             "iPhone", "Titan key")),
            "added_at": added.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if passwordless is not None:
            key["is_passwordless"] = passwordless
        return key

    def webauthn_config(self, keys: Sequence[dict[str, object]]) -> dict[str, object]:
        return {"credentials": list(keys), "user_handle": self.b64(16)}

    def lookup_config(self, used: int, since: datetime, total: int = 12) -> dict[str, object]:
        """Kratos's 12 recovery codes; used ones carry `used_at`, unused ones `null` or no field."""
        codes: list[dict[str, object]] = []
        for index in range(total):
            code: dict[str, object] = {"code": self.token("abcdefghjkmnpqrstuvwxyz23456789", 8)}
            if index < used:
                code["used_at"] = self.between(since, self.as_of).strftime("%Y-%m-%dT%H:%M:%SZ")
            elif self.rng.random() < 0.5:
                code["used_at"] = None
            codes.append(code)
        return {"recovery_codes": codes}

    # -- identities --------------------------------------------------------------------------------
    def add_identity(self, *, active: bool = True, first: Sequence[str] = ("password",),
                     second: Sequence[str] = (), lookup_used: int | None = None, code: bool = False,
                     mixed_webauthn: bool = False, available_aal: str | None | bool = True,
                     weight: float = 1.0) -> _User:
        """Write an identity with its credentials and return what sessions need to know of it.

        `first`: password, oidc, passkey, webauthn (passwordless keys only).  `second`: totp, webauthn.
        `available_aal=True` writes the value Kratos's own rule gives; anything else is written as is.
        """
        ident_id = self.uuid()
        email = f"{ident_id[:8]}@{self.profile.email_domain}"
        created = self.days_ago(2, SIGNUP_HISTORY_DAYS)
        add = self.credentials.append

        def enrolled_at() -> datetime:
            """Second factors come later than sign-up, mostly within the past year."""
            return max(created + timedelta(hours=self.rng.uniform(0.1, 48)),
                       self.days_ago(0.01, ENROLLMENT_HISTORY_DAYS))

        if "password" in first:
            add(Credential(ident_id, "password", self.password_config(), version=0, created_at=created,
                           id=self.uuid(), identifiers=(email,)))
        if "oidc" in first:
            provider = self.rng.choice(("google", "apple", "microsoft")) if self.profile.name == "ciam" else "okta"
            subject = self.token(string.digits, 21)
            add(Credential(ident_id, "oidc", self.oidc_config(provider, subject), version=0, created_at=created,
                           id=self.uuid(), identifiers=(f"{provider}:{subject}",)))
        if "passkey" in first:
            add(Credential(ident_id, "passkey",
                           self.webauthn_config([self.webauthn_key(passwordless=True, added=created)]),
                           created_at=created, id=self.uuid()))
        webauthn_keys: list[dict[str, object]] = []
        webauthn_at = created
        if "webauthn" in first:
            webauthn_keys.append(self.webauthn_key(passwordless=True, added=created))
        if "webauthn" in second:
            webauthn_at = enrolled_at() if not webauthn_keys else created
            webauthn_keys.append(self.webauthn_key(passwordless=False, added=webauthn_at))
            if self.rng.random() < 0.25:  # a backup key
                webauthn_keys.append(self.webauthn_key(passwordless=False, added=webauthn_at))
            if mixed_webauthn:
                webauthn_keys.append(self.webauthn_key(passwordless=True, added=webauthn_at))
        if webauthn_keys:
            add(Credential(ident_id, "webauthn", self.webauthn_config(webauthn_keys), created_at=webauthn_at,
                           updated_at=self.between(webauthn_at, self.as_of), id=self.uuid()))
        if "totp" in second:
            add(Credential(ident_id, "totp", self.totp_config(email), version=0, created_at=enrolled_at(),
                           id=self.uuid()))
        if lookup_used is not None:
            at = enrolled_at()
            add(Credential(ident_id, "lookup_secret", self.lookup_config(lookup_used, at), version=0,
                           created_at=at, updated_at=self.between(at, self.as_of), id=self.uuid()))
        if code:
            channel = self.rng.choices(("email", "sms"), weights=(85, 15))[0]
            address = email if channel == "email" else f"+1555{self.rng.randrange(10**7):07d}"
            add(Credential(ident_id, "code", {"addresses": [{"channel": channel, "address": address}]},
                           version=1, created_at=created, id=self.uuid(), identifiers=(address,)))

        if available_aal is True:
            # Kratos's rule: any usable TOTP/WebAuthn key or any (even used-up) recovery code list.
            available_aal = "aal2" if second or lookup_used is not None else "aal1"
        self.identities.append(Identity(
            id=ident_id, state="active" if active else "inactive", schema_id=self.profile.schema_id,
            available_aal=available_aal if isinstance(available_aal, str) else None,
            created_at=created, updated_at=self.between(created, self.as_of)))
        usable_codes = ("lookup_secret",) if lookup_used is not None and lookup_used < 12 else ()
        user = _User(ident_id, active, tuple(first), (*second, *usable_codes), weight)
        self.users.append(user)
        return user

    def population(self, count: int, *, active: bool) -> None:
        """`count` ordinary identities drawn from the profile's rates."""
        p, rng = self.profile, self.rng
        for _ in range(count):
            roll = rng.random()
            if roll < p.passkey_only:
                self.add_identity(active=active, first=("passkey",), weight=1.2)
                continue
            if roll < p.passkey_only + p.passwordless_only:
                self.add_identity(active=active, first=("webauthn",), weight=1.2)
                continue
            roll = rng.random()
            first = (("oidc",) if roll < p.oidc_only else ("password", "oidc")
                     if roll < p.oidc_only + p.oidc_and_password else ("password",))
            second: tuple[str, ...] = ()
            lookup_used: int | None = None
            if rng.random() < p.mfa_rate:
                split = rng.random()
                second = (("webauthn",) if split < p.webauthn_only_share else ("totp", "webauthn")
                          if split < p.webauthn_only_share + p.both_share else ("totp",))
                if rng.random() < p.lookup_rate:
                    lookup_used = rng.choices((0, rng.randint(1, 8), rng.randint(9, 11), 12),
                                              weights=(70, 18, 7, 5))[0]
            code = rng.random() < p.code_rate
            # MFA users log in more often: they are the engaged customers.
            self.add_identity(active=active, first=first, second=second, lookup_used=lookup_used, code=code,
                              weight=rng.uniform(0.3, 1.7) * (1.6 if second else 1.0))

    # -- sessions ----------------------------------------------------------------------------------
    def session(self, user: _User, entries: list[tuple[str, str, datetime]]) -> None:
        """One session whose AMR lists `entries` (method, aal, instant) in order."""
        style = self.amr_style()
        amr = [{"method": method, "aal": level, "completed_at": self.rfc3339(at, style)}
               for method, level, at in entries]
        issued = entries[0][2].replace(microsecond=0)
        expires = issued + timedelta(hours=self.profile.session_hours)
        active: bool | str = expires > self.as_of and self.rng.random() > 0.2
        if not active and self.rng.random() < 0.01:
            active = "false"  # Kratos's SQLite rows sometimes hold the text
        level = "aal2" if any(e[1] == "aal2" for e in entries) else "aal1"
        self.sessions.append(Session(user.id, aal=level, amr=amr, active=active,
                                     authenticated_at=entries[-1][2].replace(microsecond=0), issued_at=issued,
                                     expires_at=expires, id=self.uuid(), token=f"ory_st_{self.b64(24)}"))

    def login(self, user: _User, step_at: datetime, kind: str) -> None:
        """A session with a step-up at `step_at`: right after the first factor (`login`), a later
        re-authentication (`later`), or both (`both`: the later one at `step_at`)."""
        rng = self.rng
        first = rng.choice(user.first)
        second = rng.choices(user.second, weights=[0.04 if m == "lookup_secret" else 1 for m in user.second])[0]
        if kind == "login":
            start = step_at - timedelta(seconds=rng.uniform(4, 120))
            entries = [(first, "aal1", start), (second, "aal2", step_at)]
        elif kind == "later":
            start = step_at - timedelta(minutes=rng.uniform(6, 8 * 60))
            entries = [(first, "aal1", start), (second, "aal2", step_at)]
        else:
            start = step_at - timedelta(minutes=rng.uniform(10, 6 * 60))
            entries = [(first, "aal1", start), (second, "aal2", start + timedelta(seconds=rng.uniform(4, 90))),
                       (second, "aal2", step_at)]
        self.session(user, entries)

    def traffic(self) -> None:
        """Sessions for each of the last `SESSION_HISTORY_DAYS` dates, up to the as-of moment.

        Today always gets sessions, the first one a step-up, so that the series ending on the as-of date
        is never empty only because the demo ran just after midnight.
        """
        p, rng = self.profile, self.rng
        active = [u for u in self.users if u.active]
        # Cumulative weights once: `choices(weights=...)` would re-add 5,000 weights per session.
        cumulative = list(accumulate(u.weight for u in active))
        enrolled = [u for u in active if u.second]
        today = self.as_of.date()
        for offset in range(SESSION_HISTORY_DAYS - 1, -1, -1):
            day = today - timedelta(days=offset)
            start = datetime.combine(day, time(0))
            end = min(start + timedelta(days=1), self.as_of)
            weekend = day.weekday() >= 5
            expected = (p.weekend_sessions if weekend else p.weekday_sessions) * rng.uniform(0.85, 1.15)
            if offset == 0:
                expected = max(3.0, expected * (end - start).total_seconds() / 86400)
            for index in range(round(expected)):
                user = rng.choice(enrolled) if offset == 0 and index == 0 else rng.choices(active, cum_weights=cumulative)[0]
                at = self.between(start, end)
                roll = rng.random()
                if user.second and (offset == 0 and index == 0 or roll < p.stepup_at_login):
                    self.login(user, at, "login")
                elif user.second and roll < p.stepup_at_login + p.stepup_later:
                    self.login(user, at, "later")
                elif user.second and roll < p.stepup_at_login + p.stepup_later + p.stepup_both:
                    self.login(user, at, "both")
                else:
                    self.session(user, [(rng.choice(user.first), "aal1", at)])

    def refresh_some_available_aal(self, null: int, stale: int) -> None:
        """The `available_aal` cache: NULL for rows Kratos never refreshed, stale for rows refreshed
        before the last factor change (C6).  Picks ordinary identities, so counts stay realistic."""
        picks = self.rng.sample(range(len(self.identities)), null + stale)
        for position, index in enumerate(picks):
            row = self.identities[index]
            value = None if position < null else ("aal1" if row.available_aal == "aal2" else "aal2")
            self.identities[index] = Identity(
                id=row.id, state=row.state, schema_id=row.schema_id, available_aal=value,
                created_at=row.created_at, updated_at=row.updated_at, nid=row.nid, traits=row.traits)


def _awkward_rows(domain: _Domain, *, sqlite_only: bool) -> None:
    """The cases of `shared/cases/README.md`, a few rows each, mixed into the ordinary data."""
    rng, as_of = domain.rng, domain.as_of
    add = domain.credentials.append
    # C1: a WebAuthn row whose last key was removed; one still cached as aal2.
    for index in range(3):
        user = domain.add_identity(available_aal="aal2" if index == 0 else "aal1")
        add(Credential(user.id, "webauthn", domain.webauthn_config([]), created_at=domain.days_ago(30, 300),
                       id=domain.uuid()))
    # C2: a passwordless key beside a second-factor key, and v0 rows whose key has no is_passwordless.
    for _ in range(3):
        domain.add_identity(second=("webauthn",), mixed_webauthn=True)
    for _ in range(3):
        user = domain.add_identity(available_aal="aal2")
        user.second = ("webauthn",)
        at = domain.days_ago(200, 360)
        add(Credential(user.id, "webauthn", domain.webauthn_config([domain.webauthn_key(passwordless=None, added=at)]),
                       version=0, created_at=at, id=domain.uuid()))
    # C5: `code` rows: legacy v0 with only an address type, and v1 rows with no usable address.
    for _ in range(2):
        user = domain.add_identity()
        add(Credential(user.id, "code", {"address_type": "email", "used_at": {"Time": "0001-01-01T00:00:00Z",
                                                                              "Valid": False}},
                       version=0, created_at=domain.days_ago(300, 700), id=domain.uuid()))
    for config in ({"addresses": []}, {"addresses": []}, {"addresses": [{"channel": "email", "address": ""}]}):
        user = domain.add_identity()
        add(Credential(user.id, "code", config, version=1, created_at=domain.days_ago(10, 300), id=domain.uuid()))
    # C7: inactive identities that still hold a TOTP.
    for _ in range(2):
        domain.add_identity(active=False, second=("totp",))
    # A credential type this mfastats does not know (a fork's custom strategy).
    user = domain.add_identity(second=("totp",))
    add(Credential(user.id, "u2f_legacy", {"key_handle": domain.b64(32)}, created_at=domain.days_ago(400, 600),
                   id=domain.uuid()))

    users = [u for u in domain.users if u.active and u.second]
    old = as_of - timedelta(days=SESSION_HISTORY_DAYS - 5)
    # C8: sessions from before Kratos recorded `aal`/`completed_at` in the AMR.
    for _ in range(3):
        user = rng.choice(users)
        at = domain.between(old, old + timedelta(days=3))
        domain.sessions.append(Session(user.id, aal="aal2", amr=[{"method": "password"}, {"method": "totp"}],
                                       active=False, authenticated_at=at, issued_at=at, id=domain.uuid()))
    legacy = rng.choice(domain.users)
    at = domain.between(old, old + timedelta(days=3))
    domain.sessions.append(Session(legacy.id, aal="aal1", amr=[{"method": "v0.6_legacy_session"}], active=False,
                                   authenticated_at=at, issued_at=at, id=domain.uuid()))
    for _ in range(2):
        at = domain.between(old, old + timedelta(days=3))
        domain.sessions.append(Session(rng.choice(domain.users).id, aal="aal1",
                                       amr='[{"method":"password","aal":"aal1"}]', active=False,
                                       authenticated_at=at, issued_at=at, id=domain.uuid()))
    # C10: a re-authentication written twice into the same session.
    for _ in range(3):
        user = rng.choice(users)
        start = domain.between(as_of - timedelta(days=20), as_of - timedelta(days=1))
        login = start + timedelta(seconds=rng.uniform(5, 60))
        later = start + timedelta(minutes=rng.uniform(20, 90))
        method = user.second[0]
        domain.session(user, [("password", "aal1", start), (method, "aal2", login), (method, "aal2", later),
                              (method, "aal2", later)])

    if sqlite_only:
        # Invalid JSON, which only SQLite's TEXT columns can hold: a truncated TOTP config and AMR.
        user = domain.add_identity()
        add(Credential(user.id, "totp", '{"totp_url": "otpauth://totp/Olympus:', version=0,
                       created_at=domain.days_ago(5, 60), id=domain.uuid()))
        at = domain.between(as_of - timedelta(days=10), as_of - timedelta(days=2))
        domain.sessions.append(Session(rng.choice(users).id, aal="aal1", amr='[{"method":', active=False,
                                       authenticated_at=at, issued_at=at, id=domain.uuid()))


def _ciam(rng: random.Random, as_of: datetime) -> _Domain:
    """Customers: mostly passwords, some social login, a few passkeys; under a third with a real 2FA."""
    domain = _Domain(rng, as_of, CIAM)
    inactive = round(CIAM.size * CIAM.inactive_rate)
    domain.population(CIAM.size - inactive - 18, active=True)  # 18 awkward rows below
    domain.population(inactive, active=False)
    domain.refresh_some_available_aal(null=8, stale=5)
    _awkward_rows(domain, sqlite_only=True)
    domain.traffic()
    return domain


def _iam(rng: random.Random, as_of: datetime) -> _Domain:
    """Employees: MFA is mandatory, so nearly everyone has a key (mostly WebAuthn) and steps up at login."""
    domain = _Domain(rng, as_of, IAM)
    domain.population(IAM.size - IAM_LEAVERS - IAM_WITHOUT_MFA - 2, active=True)
    for _ in range(IAM_WITHOUT_MFA):
        domain.add_identity(first=("password", "oidc"), weight=0.3)
    for index in range(IAM_LEAVERS):
        domain.add_identity(active=False, first=("password", "oidc"),
                            second=("webauthn",) if index % 2 else ("totp", "webauthn"))
    domain.refresh_some_available_aal(null=2, stale=1)
    # Awkward rows employees accumulate too: a WebAuthn row left empty after moving to TOTP (C1) and a
    # legacy session (C8); no invalid JSON here.
    for _ in range(2):
        user = domain.add_identity(second=("totp",), first=("password", "oidc"))
        domain.credentials.append(Credential(user.id, "webauthn", domain.webauthn_config([]),
                                             created_at=domain.days_ago(100, 300), id=domain.uuid()))
    users = [u for u in domain.users if u.active and u.second]
    at = domain.between(as_of - timedelta(days=40), as_of - timedelta(days=38))
    domain.sessions.append(Session(rng.choice(users).id, aal="aal2", amr=[{"method": "password"}, {"method": "webauthn"}],
                                   active=False, authenticated_at=at, issued_at=at, id=domain.uuid()))
    domain.traffic()
    return domain


def _write(path: Path, domain: _Domain) -> None:
    """Write one database from scratch; old files (and SQLite side files) are removed first."""
    for stale in (path, path.with_name(path.name + "-journal"), path.with_name(path.name + "-wal"),
                  path.with_name(path.name + "-shm")):
        stale.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    try:
        write_kratos(engine, domain.identities, domain.credentials, domain.sessions)
    finally:
        engine.dispose()


def _as_of(today: datetime | date | None) -> datetime:
    """The demo's "now", aware UTC to the second (a naive value means UTC, a date its midnight)."""
    if today is None:
        moment = datetime.now(UTC)
    elif isinstance(today, datetime):
        moment = today if today.tzinfo else today.replace(tzinfo=UTC)
    else:
        moment = datetime.combine(today, time(0), tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def build_demo(data_dir: Path | None = None, *, today: datetime | None = None, seed: int = DEFAULT_SEED) -> BuiltDemo:
    """Rebuild the CIAM and IAM demo databases in `data_dir` and say how to report on them.

    `data_dir` defaults to the user's data folder (`platformdirs`) so the demo never writes into the
    current directory.  `today` fixes the as-of moment (tests); `seed` the random data.
    """
    folder = Path(data_dir) if data_dir is not None else Path(platformdirs.user_data_dir("mfastats")) / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    as_of = _as_of(today)
    naive = as_of.replace(tzinfo=None)
    # One random stream per part: how many draws one domain makes depends on the weekday of as_of, and
    # must not change the other domain's identities.
    ciam_path, iam_path = folder / CIAM_FILE, folder / IAM_FILE
    ciam, iam = _ciam(random.Random(seed), naive), _iam(random.Random(seed + 1), naive)
    rng = random.Random(seed + 2)
    _write(ciam_path, ciam)
    _write(iam_path, iam)
    audit_path, store_path = folder / AUDIT_FILE, folder / STORE_FILE
    write_demo_audit(audit_path, rng, as_of, [i.id for i in ciam.identities if i.state == "active"],
                     [i.id for i in iam.identities if i.state == "active"])
    audit_dsn = parse_dsn(f"sqlite:///{audit_path}", what="demo audit")
    settings = Settings(domains=(
        DomainSettings("ciam", parse_dsn(f"sqlite:///{ciam_path}", what="demo ciam"), Decimal(30),
                       audit=AuditSettings(audit_dsn, success_event=SUCCESS_EVENT)),
        DomainSettings("iam", parse_dsn(f"sqlite:///{iam_path}", what="demo iam"), Decimal(95),
                       audit=AuditSettings(audit_dsn, success_event=SUCCESS_EVENT)),
    ), store=str(store_path))
    store_path.unlink(missing_ok=True)
    store = Store.open(parse_store_dsn(str(store_path)), create=True)
    write_demo_history(store, build_report(settings, as_of), rng)
    store.engine.dispose()
    return BuiltDemo(folder=folder, settings=settings, as_of=as_of, ciam_path=ciam_path, iam_path=iam_path,
                     audit_path=audit_path, store_path=store_path)


__all__ = ["CIAM_FILE", "DEFAULT_SEED", "IAM_FILE", "BuiltDemo", "build_demo"]
