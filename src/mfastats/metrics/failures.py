"""Challenge failures (SPEC 3.5): per-identity hints, daily counts and the spike statistic."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from statistics import median

from mfastats.model import FailingIdentity, FailureDay

MANY_IDENTITIES_SAME_HOUR = 5
MANY_IPS = 3


def hints(groups: list, *, success_configured: bool) -> list[FailingIdentity]:
    """Plain-words hint per identity: lost authenticator vs. possible attack.

    `groups` are `audit.reader.FailureGroup`-shaped rows. Many IPs for one identity, or many identities
    whose last failure falls in the same hour, suggests an attack; one identity failing from one or
    two IPs with no success since suggests a lost or out-of-sync authenticator.
    """
    per_hour = Counter(group.last_at.replace(minute=0, second=0, microsecond=0) for group in groups)
    result = []
    for group in groups:
        same_hour = per_hour[group.last_at.replace(minute=0, second=0, microsecond=0)]
        if group.distinct_ips is not None and group.distinct_ips >= MANY_IPS:
            hint = f"possible attack: failures from {group.distinct_ips} IP addresses"
        elif same_hour >= MANY_IDENTITIES_SAME_HOUR:
            hint = f"possible attack: {same_hour} identities failing in the same hour"
        elif group.successes_after:
            hint = "recovered: a success followed the failures (mistyped code or clock drift)"
        else:
            ips = "an unknown number of IPs" if group.distinct_ips is None else (
                "one IP" if group.distinct_ips <= 1 else "two IPs")
            since = " and no success since" if success_configured else ""
            hint = f"lost authenticator? repeated failures from {ips}{since}"
        result.append(FailingIdentity(group.identity_id, group.failures, group.first_at, group.last_at,
                                      group.distinct_ips, group.successes_after, hint))
    return result


def failure_days(days: list, failures: list[int], successes: list[int] | None) -> tuple[FailureDay, ...]:
    out = []
    for index, day in enumerate(days):
        success = None if successes is None else successes[index]
        ratio = None
        if success is not None and failures[index] + success > 0:
            ratio = (Decimal(failures[index]) / Decimal(failures[index] + success)).quantize(Decimal("0.0001"))
        out.append(FailureDay(day, failures[index], success, ratio))
    return tuple(out)


def spike_threshold(baseline: list[int], mad_factor: Decimal) -> Decimal:
    """median + factor × MAD (raw median absolute deviation, no 1.4826 scaling) of the baseline windows."""
    middle = Decimal(str(median(baseline)))
    mad = Decimal(str(median(abs(Decimal(value) - middle) for value in baseline)))
    return middle + mad_factor * mad
