"""Turn one input record into a seed-named event, or say why it was ignored or malformed.

Mapping rules (documented in the README):
- `LoginFailed` with requested AAL `aal2` → `mfa.challenge_failed`; at `aal1` it is a first-factor
  failure and is ignored.
- `LoginSucceeded` with requested AAL `aal2` and a second-factor method → `auth.aal2_stepup_completed`.
  The password step of the same login (first-factor method) is not a step-up, so one login counts once.
- `SettingsSucceeded` for `totp` / `webauthn` means added *or removed*: it becomes
  `mfa.totp_enrolled` / `mfa.webauthn_enrolled` only if the identity has a usable factor of that
  method in the Kratos database at ingest time (decided by the caller, see `Enrollment`).
- Kratos log lines "Encountered self-service login error." with `login_flow.requested_aal = aal2` →
  `mfa.challenge_failed` (`audience=audit` up to v25.4, `audience=application` from v26.2).
- Login UI lines `{"type": "audit", "event": "mfa_challenge_failed" | "mfa_challenge_succeeded" |
  "mfa_challenge_displayed", ...}` → `mfa.challenge_failed` / `mfa.challenge_succeeded` /
  `mfa.challenge_displayed` without identity (they feed rates, not per-identity lists).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mfastats.clock import parse_rfc3339

CHALLENGE_FAILED = "mfa.challenge_failed"
CHALLENGE_SUCCEEDED = "mfa.challenge_succeeded"
CHALLENGE_DISPLAYED = "mfa.challenge_displayed"
STEPUP_COMPLETED = "auth.aal2_stepup_completed"
ENROLLED = {"totp": "mfa.totp_enrolled", "webauthn": "mfa.webauthn_enrolled"}
_METHOD = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SECOND_FACTOR_METHODS = {"totp", "webauthn", "lookup_secret", "lookup", "code"}
LOGIN_ERROR_MESSAGE = "Encountered self-service login error."
UI_EVENTS = {"mfa_challenge_failed": CHALLENGE_FAILED, "mfa_challenge_succeeded": CHALLENGE_SUCCEEDED,
             "mfa_challenge_displayed": CHALLENGE_DISPLAYED}


@dataclass(frozen=True)
class Event:
    """A normalised event, ready to store. `dedupe_key` makes storing idempotent."""

    event_type: str
    created_at: datetime
    identity_id: str | None
    source_ip: str | None
    method: str | None
    dedupe_key: str
    # For SettingsSucceeded: the method whose current state decides added vs removed.
    needs_enrollment_check: bool = False


@dataclass(frozen=True)
class Ignored:
    reason: str


@dataclass(frozen=True)
class Malformed:
    reason: str


Outcome = Event | Ignored | Malformed


def _key(kind: str, *parts: object) -> str:
    return hashlib.sha256(json.dumps([kind, *parts], sort_keys=True, default=str).encode()).hexdigest()


def _uuid_or_none(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    parts = text.split("-")
    if [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(c in "0123456789abcdef" for p in parts for c in p):
        return text
    return None


def _time(value: Any) -> datetime | None:
    """An event time (RFC 3339 text or epoch seconds), or None when unreadable or outside 1970-9000."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            moment = datetime.fromtimestamp(value, UTC)
        elif isinstance(value, str):
            moment = parse_rfc3339(value)
        else:
            return None
    except (OverflowError, ValueError, OSError):
        return None
    return moment if moment is not None and 1970 <= moment.year <= 9000 else None


def _clean_ip(value: Any) -> str | None:
    """A literal IPv4/IPv6 address (a `:port` suffix on IPv4 is dropped), else None: the IP is optional,
    and an `inet` column must never reject a whole batch."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.count(":") == 1 and "." in text:
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        return None


def _clean_method(value: Any) -> str | None:
    text = value.strip().lower() if isinstance(value, str) else ""
    return text if _METHOD.match(text) else None


def from_ory_event(record: dict[str, Any], *, timestamp: datetime | None = None) -> Outcome:
    """An Ory event-stream record `{"name", "timestamp", "eventAttributes": {string: string}}`."""
    name = record.get("name")
    attributes = record.get("eventAttributes") or {}
    if not isinstance(name, str) or not isinstance(attributes, dict):
        return Malformed("event without a string name or with non-object eventAttributes")
    moment = timestamp if timestamp is not None and 1970 <= timestamp.year <= 9000 else _time(record.get("timestamp"))
    if moment is None:
        return Malformed(f"{name}: missing or unreadable timestamp")
    attrs = {str(k): v for k, v in attributes.items() if isinstance(v, str)}
    identity = _uuid_or_none(attrs.get("IdentityID"))
    method = _clean_method(attrs.get("SelfServiceMethodUsed"))
    aal = (attrs.get("LoginRequestedAAL") or "").lower()
    ip = _clean_ip(attrs.get("ClientIP"))
    key = _key("ory", name, moment.isoformat(), sorted(attrs.items()), record.get("id"))
    if name == "LoginFailed":
        if aal != "aal2":
            return Ignored("first-factor login failure (requested AAL is not aal2)")
        return Event(CHALLENGE_FAILED, moment, identity, ip, method, key)
    if name == "LoginSucceeded":
        if aal != "aal2":
            return Ignored("login at aal1 is not a step-up")
        if method is not None and method not in SECOND_FACTOR_METHODS:
            return Ignored("first-factor step of an aal2 login (the second-factor step counts)")
        return Event(STEPUP_COMPLETED, moment, identity, ip, method, key)
    if name == "SettingsSucceeded":
        if method not in ENROLLED:
            return Ignored(f"settings change of {method or 'unknown method'} is not an MFA enrollment")
        if identity is None:
            return Malformed("SettingsSucceeded without IdentityID: cannot tell added from removed")
        return Event(ENROLLED[method], moment, identity, ip, method, key, needs_enrollment_check=True)
    return Ignored(f"{name} is not an MFA event")


def from_otlp(record: dict[str, Any]) -> Iterator[Outcome]:
    """OTLP/JSON export: span events under resourceSpans[].scopeSpans[].spans[].events[]."""
    resource_spans = record.get("resourceSpans")
    if not isinstance(resource_spans, list):
        yield Malformed("resourceSpans is not a list")
        return
    for resource in resource_spans:
        for scope in (resource or {}).get("scopeSpans") or []:
            for span in (scope or {}).get("spans") or []:
                for event in (span or {}).get("events") or []:
                    if not isinstance(event, dict):
                        yield Malformed("span event is not an object")
                        continue
                    attributes = {}
                    for item in event.get("attributes") or []:
                        if isinstance(item, dict) and isinstance(item.get("value"), dict):
                            value = item["value"].get("stringValue")
                            if isinstance(value, str):
                                attributes[str(item.get("key"))] = value
                    nanos = event.get("timeUnixNano")
                    try:
                        moment = datetime.fromtimestamp(int(nanos) / 1e9, UTC) if nanos is not None else None
                    except (TypeError, ValueError, OverflowError):
                        moment = None
                    if moment is None:
                        yield Malformed("span event without a readable timeUnixNano")
                        continue
                    yield from_ory_event({"name": event.get("name"), "eventAttributes": attributes,
                                          "id": span.get("spanId")}, timestamp=moment)


def from_kratos_log(record: dict[str, Any]) -> Outcome:
    if record.get("msg") != LOGIN_ERROR_MESSAGE:
        return Ignored("Kratos log line that is not a login error")
    if record.get("audience") not in ("audit", "application"):
        return Ignored("Kratos log line outside the audit/application audience")
    flow = record.get("login_flow") if isinstance(record.get("login_flow"), dict) else {}
    if str(flow.get("requested_aal", "")).lower() != "aal2":
        return Ignored("first-factor login error (requested_aal is not aal2)")
    moment = _time(record.get("time"))
    if moment is None:
        return Malformed("Kratos log line without a readable time")
    request = record.get("http_request") if isinstance(record.get("http_request"), dict) else {}
    identity = _uuid_or_none(record.get("identity_id") or flow.get("identity_id"))
    ip = _clean_ip(request.get("remote"))
    key = _key("kratos-log", moment.isoformat(), flow.get("id"), identity, record.get("error"))
    return Event(CHALLENGE_FAILED, moment, identity, ip, None, key)


def from_login_ui(record: dict[str, Any]) -> Outcome:
    event = UI_EVENTS.get(str(record.get("event")))
    if event is None:
        return Ignored(f"login UI event {record.get('event')!r} is not an MFA challenge event")
    moment = _time(record.get("ts"))
    if moment is None:
        return Malformed("login UI line without a readable ts")
    method = _clean_method(record.get("method"))
    key = _key("ui", event, moment.isoformat(), method, record.get("domain"), record.get("id"))
    return Event(event, moment, None, None, method, key)


def normalise_line(line: str) -> list[Outcome]:
    """One JSON line in any accepted form → outcomes (OTLP lines can hold many events)."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return [Malformed("not valid JSON")]
    return normalise_record(record)


def normalise_record(record: Any, *, batch: bool = True) -> list[Outcome]:
    """Outcomes of one record; a JSON list is a batch of records (one level deep). Never raises."""
    if isinstance(record, list) and batch:
        return [outcome for item in record for outcome in normalise_record(item, batch=False)]
    try:
        return _normalise_object(record)
    except Exception as exc:  # one odd record must never stop the others
        return [Malformed(f"unreadable record ({type(exc).__name__})")]


def _normalise_object(record: Any) -> list[Outcome]:
    if not isinstance(record, dict):
        return [Malformed("not a JSON object")]
    if "resourceSpans" in record:
        return list(from_otlp(record))
    if "eventAttributes" in record or ("name" in record and "timestamp" in record):
        return [from_ory_event(record)]
    if record.get("type") == "audit" and "event" in record:
        return [from_login_ui(record)]
    if "msg" in record:
        return [from_kratos_log(record)]
    return [Malformed("unrecognised record: not an Ory event, OTLP export, Kratos log or login UI line")]
