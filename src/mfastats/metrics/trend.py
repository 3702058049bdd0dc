"""Enrollment trend from stored snapshots (SPEC 5: trends use the last snapshot of a day)."""

from __future__ import annotations

from datetime import date, tzinfo

from mfastats.rows import Snapshot


def last_per_day(history: list[Snapshot], zone: tzinfo) -> dict[date, Snapshot]:
    """The last snapshot of each local day (history is oldest first)."""
    days: dict[date, Snapshot] = {}
    for snapshot in history:
        days[snapshot.as_of.astimezone(zone).date()] = snapshot
    return days
