"""Time and JSON helpers shared by the simulator's modules.

Every simulated moment is a whole second (the precision the payloads carry), so a rule computed from
the simulator's own timelines and the same rule recomputed from the stores see identical times.
"""

from __future__ import annotations

import datetime as dt

import orjson

from tthc.calendar import TZ, next_office_time

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_us(moment: dt.datetime) -> int:
    """Whole seconds, as UTC microseconds (the stores' change-time unit)."""
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000


def from_us(us: int) -> dt.datetime:
    return (EPOCH + dt.timedelta(microseconds=us)).astimezone(TZ)


def iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(TZ).isoformat(timespec="seconds")


def whole(moment: dt.datetime) -> dt.datetime:
    return moment.replace(microsecond=0)


def office_at(moment: dt.datetime) -> dt.datetime:
    return whole(next_office_time(moment))


def dumps(obj: dict) -> str:
    return orjson.dumps(obj).decode()


def logit(p: float) -> float:
    import math

    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    import math

    return 1 / (1 + math.exp(-x))
