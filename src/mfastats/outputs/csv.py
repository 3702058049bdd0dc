"""CSV in long format: `domain,section,name,date,value`, one number per line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

_HEADER = ("domain", "section", "name", "date", "value")
_SCALAR_SECTIONS = ("enrollment", "methods", "data_quality")


def _flatten(section: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in section.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, f"{name}.")
        elif not isinstance(value, list):
            yield name, value


def rows(document: dict[str, Any]) -> Iterator[tuple[Any, ...]]:
    for domain in document["domains"]:
        name = domain["name"]
        yield name, "status", "status", "", domain["status"]
        for section in _SCALAR_SECTIONS:
            for key, value in _flatten(domain[section]):
                yield name, section, key, "", value
        stepups = domain["stepups"]
        for key in ("aal2_sessions", "at_login", "later", "unknown"):
            yield name, "stepups", key, "", stepups[key]
        for day in stepups["days"]:
            yield name, "stepups", "count", day["date"], day["count"]
        for day in domain["enrollments_over_time"]["days"]:
            yield name, "enrollments_over_time", "totp", day["date"], day["totp"]
            yield name, "enrollments_over_time", "webauthn", day["date"], day["webauthn"]
        failures = domain["challenge_failures"]
        yield name, "challenge_failures", "available", "", failures["available"]
        yield name, "challenge_failures", "identities", "", len(failures["identities"])
        for alert in domain["alerts"]:
            yield name, "alerts", alert["name"], "", alert["state"]
    for section in ("enrollment", "methods"):
        for key, value in _flatten(document["all_domains"][section]):
            yield "all_domains", section, key, "", value


def render_csv(document: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_HEADER)
    for row in rows(document):
        writer.writerow(["" if value is None else _csv_value(value) for value in row])
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
