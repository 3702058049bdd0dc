"""Webhook notifications: one JSON message per alert state change, Slack-compatible (`text`).

Delivery has a per-request timeout and a few retries with a total deadline, and runs after the report
is printed, so a slow or dead receiver never blocks or fails the check itself. No identity id is sent
unless configured (`webhook_include_identities = true`).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from mfastats.clock import format_time
from mfastats.model import Report
from mfastats.outputs.document import plain

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int
    undelivered: frozenset[tuple[str, str]] = frozenset()  # (domain, alert) to announce again next run


def state_changes(report: Report, previous: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    """Alerts whose state differs from the stored one (a first run reports every firing alert)."""
    changes = []
    for domain in report.domains:
        for alert in domain.alerts:
            before = previous.get((domain.name, alert.name))
            if before == alert.state or (before is None and alert.state != "firing"):
                continue
            changes.append({"domain": domain.name, "alert": alert, "previous_state": before,
                            "identities": [i.identity_id for i in domain.challenge_failures.identities]})
    return changes


def message(change: dict[str, Any], report: Report, include_identities: bool) -> dict[str, Any]:
    alert = change["alert"]
    icon = {"firing": ":rotating_light:", "ok": ":white_check_mark:"}.get(alert.state, ":grey_question:")
    body: dict[str, Any] = {
        "text": f"{icon} mfastats {change['domain']}: {alert.name} is {alert.state} ({alert.severity}). {alert.message}",
        "domain": change["domain"], "alert": alert.name, "severity": alert.severity, "state": alert.state,
        "previous_state": change["previous_state"], "value": plain(alert.value),
        "threshold": plain(alert.threshold), "as_of": format_time(report.as_of),
    }
    if include_identities and alert.name == "challenge_failure_spike":
        body["identities"] = change["identities"]
    return body


def post(url: str, body: dict[str, Any], *, timeout: float = 5.0, attempts: int = 3,
         deadline_seconds: float = 15.0) -> bool:
    """POST JSON with retries on errors and 5xx; give up at the deadline. Never raises."""
    data = json.dumps(body).encode()
    started = time.monotonic()
    for attempt in range(1, attempts + 1):
        remaining = deadline_seconds - (time.monotonic() - started)
        if remaining <= 0:
            break
        request = urllib.request.Request(url, data=data, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "mfastats"})
        try:
            with urllib.request.urlopen(request, timeout=min(timeout, remaining)) as response:
                if 200 <= (getattr(response, "status", None) or 0) < 300:
                    return True
        except urllib.error.HTTPError as exc:
            if exc.code < 500:
                log.warning("webhook refused the message: HTTP %s", exc.code)
                return False
            log.info("webhook attempt %d: HTTP %s", attempt, exc.code)
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            log.info("webhook attempt %d failed: %s", attempt, exc)
        time.sleep(min(0.5 * attempt, max(deadline_seconds - (time.monotonic() - started), 0)))
    log.warning("webhook delivery failed after %d attempts", attempts)
    return False


def notify(url: str, report: Report, previous: dict[tuple[str, str], str], *,
           include_identities: bool = False, timeout: float = 5.0) -> Delivery:
    sent, undelivered = 0, set()
    for change in state_changes(report, previous):
        if post(url, message(change, report, include_identities), timeout=timeout, deadline_seconds=3 * timeout):
            sent += 1
        else:
            undelivered.add((change["domain"], change["alert"].name))
    return Delivery(sent, len(undelivered), frozenset(undelivered))
