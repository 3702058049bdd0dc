"""Every setting, declared once, layered: defaults < config file (TOML) < command-line flags.

The config file names domains, their Kratos DSN (or the environment variable holding it), the
enrollment target, whether e-mail/SMS `code` counts as a second factor, an optional network (`nid`)
and an optional audit source. Errors name the key, the bad value and the fix.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from mfastats.clock import load_timezone
from mfastats.dsn import Dsn, parse_dsn
from mfastats.errors import UserError

DOMAIN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SQL_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# SPEC 3.1: profiles from the seed page, and default targets by domain name.
TARGET_PROFILES = {"high-security": Decimal(80), "consumer": Decimal(30)}
DEFAULT_TARGETS = {"iam": Decimal(95), "ciam": Decimal(30)}

DEFAULT_TIMEZONE = "UTC"
DEFAULT_ENROLLMENT_DAYS = 90
STEPUP_DAYS = 30

# The seed's event names (SPEC 2.2); configurable per audit source.
DEFAULT_EVENTS = {
    "totp_enrolled": "mfa.totp_enrolled",
    "webauthn_enrolled": "mfa.webauthn_enrolled",
    "stepup_completed": "auth.aal2_stepup_completed",
    "challenge_failed": "mfa.challenge_failed",
}


@dataclass(frozen=True)
class AuditSettings:
    """Where a domain's security audit events live (SPEC 2.2)."""

    dsn: Dsn
    table: str | None = None  # None: find NAME_security_audit_log, else security_audit
    domain_column: str | None = None
    domain_value: str | None = None
    events: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_EVENTS))
    success_event: str | None = None
    # Column names when they differ from the documented ones (event_type, identity_id, created_at,
    # source_ip, metadata).
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DomainSettings:
    name: str
    kratos_dsn: Dsn
    target_percent: Decimal | None
    code_mfa_enabled: bool = False
    nid: str | None = None
    # Legacy single-database mode: which side of the seed's schema_id split this domain is.
    schema_split: str | None = None
    audit: AuditSettings | None = None


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds of SPEC 4, configurable under `[alerts]`."""

    enrollment_drop_points: Decimal = Decimal("2.00")
    enrollment_drop_lookback_days: int = 7
    spike_mad_factor: Decimal = Decimal(5)
    spike_min_failures: int = 10
    spike_baseline_windows: int = 14
    stepup_zero_days: int = 3
    silent_hours: int = 24
    failure_threshold: int = 3
    failure_window_days: int = 7


@dataclass(frozen=True)
class Settings:
    domains: tuple[DomainSettings, ...]
    timezone: str = DEFAULT_TIMEZONE
    enrollment_days: int = DEFAULT_ENROLLMENT_DAYS
    alerts: AlertSettings = field(default_factory=AlertSettings)
    store: str | None = None  # history store DSN; None = the default SQLite file
    webhook_url: str | None = None
    webhook_include_identities: bool = False
    webhook_timeout_seconds: float = 5.0


@dataclass
class Flags:
    """What the command line said; `None`/empty means "not given"."""

    config: Path | None = None
    kratos: list[str] = field(default_factory=list)
    audit: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    code_mfa: list[str] = field(default_factory=list)
    timezone: str | None = None
    legacy_schema_split: bool = False
    store: str | None = None
    webhook: str | None = None


def parse_target(value: Any, *, what: str) -> Decimal:
    """A target is a percentage 0-100 or a profile name (`high-security`, `consumer`)."""
    if isinstance(value, str) and value.strip().lower() in TARGET_PROFILES:
        return TARGET_PROFILES[value.strip().lower()]
    try:
        number = Decimal(str(value).strip().rstrip("%"))
    except InvalidOperation:
        number = None
    if isinstance(value, bool) or number is None or not number.is_finite() or not 0 <= number <= 100:
        raise UserError(
            f"{what}: target {value!r} is not a percentage from 0 to 100 or a profile "
            f"({', '.join(TARGET_PROFILES)})"
        )
    return number


def default_target(domain: str) -> Decimal | None:
    return DEFAULT_TARGETS.get(domain.lower())


def _split_pair(text: str, flag: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not value.strip():
        raise UserError(f"{flag} {text!r}: expected NAME=VALUE, for example {flag} ciam=postgresql://...")
    _check_name(name, flag)
    return name, value.strip()


def _check_name(name: str, what: str) -> None:
    if not DOMAIN_NAME.match(name):
        raise UserError(
            f"{what}: domain name {name!r} must match [a-z][a-z0-9_]{{0,31}} (lower-case, e.g. ciam, iam)"
        )


def load_settings(flags: Flags, environ: dict[str, str] | None = None) -> Settings:
    """Build the settings from the config file and the flags (flags win)."""
    env = os.environ if environ is None else environ
    raw = _read_config(flags.config) if flags.config else {}
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise UserError(f"config: unknown key(s) {sorted(unknown)}; known: {sorted(_TOP_KEYS)}")

    domains: dict[str, DomainSettings] = {}
    for key, kind in (("domains", dict), ("alerts", dict), ("timezone", str), ("store", str), ("webhook_url", str)):
        if key in raw and not isinstance(raw[key], kind):
            raise UserError(f"config: {key} must be a {'table' if kind is dict else 'string'}, not {raw[key]!r}")
    for name, table in (raw.get("domains") or {}).items():
        _check_name(name, f"config [domains.{name}]")
        domains[name] = _domain_from_config(name, table, env)

    given: set[str] = set()
    for text in flags.kratos:
        name, dsn_text = _split_pair(text, "--kratos")
        if name in given:
            raise UserError(f"--kratos {name} is given twice; each domain has one Kratos database")
        given.add(name)
        dsn = parse_dsn(dsn_text, what=f"--kratos {name}")
        if name in domains:
            domains[name] = replace(domains[name], kratos_dsn=dsn)
        else:
            domains[name] = DomainSettings(name, dsn, default_target(name))
    for flag, values in (("--audit", flags.audit), ("--target", flags.targets)):
        names = [_split_pair(text, flag)[0] for text in values]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise UserError(f"{flag} {twice[0]} is given twice; give it once")
    for text in flags.audit:
        name, dsn_text = _split_pair(text, "--audit")
        if name not in domains:
            raise UserError(f"--audit {name}: no Kratos database for domain {name!r}; add --kratos {name}=...")
        audit = AuditSettings(parse_dsn(dsn_text, what=f"--audit {name}"))
        domains[name] = replace(domains[name], audit=audit)
    for text in flags.targets:
        name, value = _split_pair(text, "--target")
        if name not in domains:
            raise UserError(f"--target {name}: unknown domain; configure it with --kratos {name}=...")
        domains[name] = replace(domains[name], target_percent=parse_target(value, what=f"--target {name}"))
    for name in flags.code_mfa:
        if name not in domains:
            raise UserError(f"--code-mfa {name}: unknown domain; configure it with --kratos {name}=...")
        domains[name] = replace(domains[name], code_mfa_enabled=True)

    if flags.legacy_schema_split:
        domains = _legacy_split(domains)
    if not domains:
        raise UserError("no domain configured: give --kratos NAME=DSN (e.g. --kratos ciam=postgresql://...) "
                        "or --config FILE, or try `mfastats demo`")

    timezone = flags.timezone if flags.timezone is not None else raw.get("timezone", DEFAULT_TIMEZONE)
    if not timezone.strip():
        raise UserError("--timezone: empty; use an IANA name such as 'UTC' or 'Europe/Berlin'")
    load_timezone(timezone)
    days = raw.get("enrollment_days", DEFAULT_ENROLLMENT_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660:
        raise UserError(f"config: enrollment_days {days!r} must be a whole number of days from 1 to 3660")
    webhook = flags.webhook or raw.get("webhook_url")
    if webhook and not str(webhook).lower().startswith(("http://", "https://")):
        raise UserError(f"webhook URL {webhook!r} must start with http:// or https://")
    return Settings(tuple(domains.values()), timezone=timezone, enrollment_days=days,
                    alerts=_alerts_from_config(raw.get("alerts") or {}), store=flags.store or raw.get("store"),
                    webhook_url=str(webhook) if webhook else None,
                    webhook_include_identities=bool(raw.get("webhook_include_identities", False)),
                    webhook_timeout_seconds=_positive(raw.get("webhook_timeout_seconds", 5.0), "webhook_timeout_seconds"))


def _positive(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 60:
        raise UserError(f"config: {key} = {value!r} must be a number of seconds above 0 and at most 60")
    return float(value)


def _alerts_from_config(table: Any) -> AlertSettings:
    if not isinstance(table, dict):
        raise UserError("config [alerts] must be a table")
    defaults = AlertSettings()
    values: dict[str, Any] = {}
    for key, value in table.items():
        if not hasattr(defaults, key):
            raise UserError(f"config [alerts].{key}: unknown; known: {sorted(vars(defaults))}")
        current = getattr(defaults, key)
        try:
            number = Decimal(str(value)) if isinstance(current, Decimal) else int(value)
        except (InvalidOperation, ValueError, TypeError, OverflowError):
            number = None
        if isinstance(value, bool) or number is None or not 0 <= number <= 10_000:
            raise UserError(f"config [alerts].{key} = {value!r}: expected a number from 0 to 10000")
        values[key] = number
    return replace(defaults, **values)


def _legacy_split(domains: dict[str, DomainSettings]) -> dict[str, DomainSettings]:
    """The seed's approximation: one database, `schema_id = 'admin'` is IAM and the rest CIAM."""
    if len(domains) != 1:
        raise UserError("--legacy-schema-split reads ONE Kratos database; give exactly one --kratos NAME=DSN")
    (only,) = domains.values()
    return {
        side: DomainSettings(side, only.kratos_dsn, only.target_percent if only.name == side
                             else default_target(side), only.code_mfa_enabled, only.nid, side)
        for side in ("ciam", "iam")
    }


def _read_config(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise UserError(f"--config: file {str(path)!r} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"--config {str(path)!r} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise UserError(f"--config {str(path)!r} cannot be read: {exc.strerror or exc}") from None


_TOP_KEYS = {"timezone", "enrollment_days", "domains", "alerts", "store", "webhook_url", "webhook_include_identities",
             "webhook_timeout_seconds"}
_DOMAIN_KEYS = {"kratos_dsn", "kratos_dsn_env", "target", "code_mfa_enabled", "nid", "audit"}
_AUDIT_KEYS = {"dsn", "dsn_env", "table", "domain_column", "domain_value", "events", "success_event", "columns"}
AUDIT_COLUMNS = ("event_type", "identity_id", "created_at", "source_ip", "metadata")


def _dsn_from(table: dict[str, Any], key: str, env_key: str, env: dict[str, str], where: str) -> Dsn:
    if key in table and env_key in table:
        raise UserError(f"config {where}: give {key} or {env_key}, not both")
    if key in table:
        return parse_dsn(str(table[key]), what=f"config {where}.{key}")
    if env_key in table:
        variable = str(table[env_key])
        if not env.get(variable):
            raise UserError(f"config {where}.{env_key}: environment variable {variable} is not set or empty")
        return parse_dsn(env[variable], what=f"config {where}.{env_key} (${variable})")
    raise UserError(f"config {where}: give {key} = \"postgresql://...\" or {env_key} = \"VARIABLE\"")


def _domain_from_config(name: str, table: Any, env: dict[str, str]) -> DomainSettings:
    where = f"[domains.{name}]"
    if not isinstance(table, dict):
        raise UserError(f"config {where} must be a table")
    unknown = set(table) - _DOMAIN_KEYS
    if unknown:
        raise UserError(f"config {where}: unknown key(s) {sorted(unknown)}; known: {sorted(_DOMAIN_KEYS)}")
    target = (parse_target(table["target"], what=f"config {where}.target")
              if "target" in table else default_target(name))
    code_mfa = table.get("code_mfa_enabled", False)
    if not isinstance(code_mfa, bool):
        raise UserError(f"config {where}.code_mfa_enabled must be true or false, not {code_mfa!r}")
    audit = None
    if "audit" in table:
        audit = _audit_from_config(table["audit"], env, f"[domains.{name}.audit]")
    nid = table.get("nid")
    if nid is not None and not (isinstance(nid, str) and _UUID.match(nid)):
        raise UserError(f"config {where}.nid = {nid!r} must be a network UUID (networks.id in the Kratos database)")
    return DomainSettings(name, _dsn_from(table, "kratos_dsn", "kratos_dsn_env", env, where), target,
                          code_mfa, str(nid).lower() if nid else None, None, audit)


def _audit_from_config(table: Any, env: dict[str, str], where: str) -> AuditSettings:
    if not isinstance(table, dict):
        raise UserError(f"config {where} must be a table")
    unknown = set(table) - _AUDIT_KEYS
    if unknown:
        raise UserError(f"config {where}: unknown key(s) {sorted(unknown)}; known: {sorted(_AUDIT_KEYS)}")
    events = dict(DEFAULT_EVENTS)
    for key, value in (table.get("events") or {}).items():
        if key not in DEFAULT_EVENTS:
            raise UserError(f"config {where}.events.{key}: unknown event; known: {sorted(DEFAULT_EVENTS)}")
        events[key] = str(value)
    for key in ("columns", "events"):
        if key in table and not isinstance(table[key], dict):
            raise UserError(f"config {where}.{key} must be a table, e.g. {key} = {{...}}")
    for key in ("table", "domain_column", "domain_value", "success_event"):
        if key in table and not isinstance(table[key], str):
            raise UserError(f"config {where}.{key} must be a string, not {table[key]!r}")
    for key, value in (table.get("events") or {}).items():
        if not isinstance(value, str) or not value:
            raise UserError(f"config {where}.events.{key} must be an event name (a string), not {value!r}")
    columns = {str(key): str(value) for key, value in (table.get("columns") or {}).items()}
    for what, name in [("table", table.get("table")), ("domain_column", table.get("domain_column")),
                       *((f"columns.{k}", v) for k, v in columns.items())]:
        if name is not None and not (isinstance(name, str) and SQL_IDENTIFIER.match(name)):
            raise UserError(f"config {where}.{what} = {name!r} is not a plain SQL identifier (letters, digits, _)")
    unknown_columns = set(columns) - set(AUDIT_COLUMNS)
    if unknown_columns:
        raise UserError(f"config {where}.columns: unknown key(s) {sorted(unknown_columns)}; known: {list(AUDIT_COLUMNS)}")
    return AuditSettings(
        _dsn_from(table, "dsn", "dsn_env", env, where),
        columns=columns,
        table=table.get("table"),
        domain_column=table.get("domain_column"),
        domain_value=table.get("domain_value"),
        events=events,
        success_event=table.get("success_event"),
    )
