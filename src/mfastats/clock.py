"""Time handling: the `--as-of` forms, report-day boundaries and RFC 3339 parsing.

Kratos stores naive UTC timestamps and writes AMR `completed_at` as RFC 3339 strings
(Go's `time.RFC3339Nano`: up to nine fractional digits, `Z` or an offset). Days are counted in the
report time zone, so day boundaries are computed here with `zoneinfo` and handed to SQL as naive UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mfastats.errors import UserError

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True)
class DayWindow:
    """One report day: `[start, end)` as naive UTC, the form Kratos timestamps are stored in."""

    day: date
    start: datetime
    end: datetime


def load_timezone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(
            f"unknown time zone {name!r}; use an IANA name such as 'UTC' or 'Europe/Berlin' (--timezone)"
        ) from exc


def parse_as_of(value: str | None, now: datetime | None = None) -> datetime:
    """`--as-of`: a timestamp with offset, a naive timestamp (UTC) or a date (00:00 UTC); default now."""
    if value is None:
        return (now or datetime.now(UTC)).astimezone(UTC)
    text = value.strip()
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), time(0), tzinfo=UTC)
        else:
            parsed = parse_rfc3339(text) or datetime.fromisoformat(text)
        if parsed is not None and parsed.tzinfo is not None:
            parsed.astimezone(UTC)  # an offset can push year 1 or 9999 out of range
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise UserError(
            f"--as-of {value!r} is not a date or timestamp; use 2024-05-01, 2024-05-01T12:00:00 "
            "or 2024-05-01T12:00:00+02:00"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    if not 1970 <= parsed.year <= 9000:
        raise UserError(f"--as-of {value!r}: the year must be between 1970 and 9000")
    return parsed


def parse_rfc3339(text: str) -> datetime | None:
    """Parse an RFC 3339 / Go RFC3339Nano string to an aware UTC datetime, or None if it is not one.

    Fractions beyond microseconds are truncated (Python keeps six digits); a missing offset means UTC,
    as Kratos writes naive UTC everywhere else.
    """
    match = _RFC3339.match(text.strip()) if isinstance(text, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    except ValueError:
        return None
    if offset and offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        try:
            return (moment - sign * delta).replace(tzinfo=UTC)
        except OverflowError:
            return None
    return moment.replace(tzinfo=UTC)


def as_naive_utc(moment: datetime) -> datetime:
    """Naive UTC, the form Kratos stores; a naive `moment` is already UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def report_days(as_of: datetime, zone: tzinfo, count: int) -> list[DayWindow]:
    """The `count` local dates ending on the as-of date, ascending, each with UTC boundaries.

    Boundaries come from local midnights, so a 23- or 25-hour DST day keeps its true length.
    """
    last = as_of.astimezone(zone).date()
    windows = []
    for offset in range(count - 1, -1, -1):
        day = last - timedelta(days=offset)
        start = datetime.combine(day, time(0), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        windows.append(DayWindow(day, as_naive_utc(start), as_naive_utc(end)))
    return windows


def format_time(moment: datetime | None) -> str | None:
    """`YYYY-MM-DDTHH:MM:SSZ`, the one time format of the JSON report."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
