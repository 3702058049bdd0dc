"""AAL2 step-ups derived from session AMR (SPEC 2.3, 3.4).

An AMR entry with `aal = aal2` and a parseable `completed_at` is one step; within a session, entries
with the same (method, aal, instant) count once. A step is *at login* when the latest `aal1` entry at
or before it is at most 300 s earlier, *later* otherwise, and *unknown* without a dated `aal1` entry.
Kratos deletes expired sessions on cleanup, so this history is only as long as session retention.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from itertools import groupby

from mfastats.clock import DayWindow, parse_rfc3339
from mfastats.model import StepupDay, Stepups
from mfastats.rows import AmrEntry, SessionSummary

AT_LOGIN_SECONDS = 300
DERIVED_NOTE = (
    "derived from session AMR: only as long as Kratos keeps sessions (expired sessions are deleted "
    "on cleanup)"
)


@dataclass(frozen=True)
class StepupQuality:
    stepup_without_completed_at: int
    undated_aal2_entries: int
    steps_after_as_of: int


@dataclass(frozen=True)
class Step:
    at: datetime
    kind: str  # "at_login" | "later" | "unknown"


def session_steps(entries: list[AmrEntry]) -> tuple[list[Step], int]:
    """Steps of one session, and how many aal2 entries had no usable `completed_at`."""
    seen: set[tuple[str | None, datetime]] = set()
    logins: list[datetime] = []
    instants: list[datetime] = []
    undated = 0
    for entry in entries:
        aal = (entry.aal or "").lower()
        moment = parse_rfc3339(entry.completed_at) if entry.completed_at else None
        if aal == "aal1" and moment is not None:
            logins.append(moment)
        elif aal == "aal2":
            if moment is None:
                undated += 1
            elif (entry.method, moment) not in seen:
                seen.add((entry.method, moment))
                instants.append(moment)
    steps = []
    for moment in instants:
        before = [login for login in logins if login <= moment]
        if not before:
            kind = "unknown"
        elif moment - max(before) <= timedelta(seconds=AT_LOGIN_SECONDS):
            kind = "at_login"
        else:
            kind = "later"
        steps.append(Step(moment, kind))
    return steps, undated


def _sessions(entries: Iterable[AmrEntry]) -> Iterator[list[AmrEntry]]:
    for _, group in groupby(entries, key=lambda entry: entry.session_id):
        yield list(group)


def derived_stepups(entries: Iterable[AmrEntry], summary: SessionSummary, windows: list[DayWindow],
                    as_of: datetime, zone: tzinfo) -> tuple[Stepups, StepupQuality]:
    """Steps per report day for `windows` (ascending, ending on the as-of date); streams `entries`."""
    per_day = {window.day: 0 for window in windows}
    kinds = {"at_login": 0, "later": 0, "unknown": 0}
    dated_aal2_sessions = undated = after = 0
    for session in _sessions(entries):
        steps, missing = session_steps(session)
        undated += missing
        if steps and (session[0].session_aal or "").lower() == "aal2":
            dated_aal2_sessions += 1
        for step in steps:
            if step.at > as_of:
                after += 1
                continue
            day = step.at.astimezone(zone).date()
            if day in per_day:
                per_day[day] += 1
                kinds[step.kind] += 1
    stepups = Stepups(
        source="derived",
        days=tuple(StepupDay(day, count) for day, count in per_day.items()),
        aal2_sessions=summary.aal2_sessions,
        note=DERIVED_NOTE,
        **kinds,
    )
    quality = StepupQuality(max(summary.aal2_sessions - dated_aal2_sessions, 0), undated, after)
    return stepups, quality
