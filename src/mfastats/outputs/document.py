"""The report model as the plain JSON-ready document of SPEC 6.1 (also served by the web API)."""

from __future__ import annotations

import json
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from mfastats.clock import format_time
from mfastats.model import Report


def plain(value: Any) -> Any:
    """Dataclasses to dicts, Decimal to float, times to `...Z`, dates to `YYYY-MM-DD`."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return format_time(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def report_document(report: Report) -> dict[str, Any]:
    return {
        "as_of": format_time(report.as_of),
        "timezone": report.timezone,
        "domains": [plain(domain) for domain in report.domains],
        "all_domains": plain(report.all_domains),
    }


def render_json(report: Report) -> str:
    return json.dumps(report_document(report), indent=2) + "\n"
