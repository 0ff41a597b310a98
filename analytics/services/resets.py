"""Zeroing the period counters: by hand (everything) or by schedule (only what is stale)."""

import sqlalchemy as sa

from ..clock import Clock
from ..database import write_transaction
from ..models import Video
from . import stats_cache
from .stamps import Stamps


def reset_daily(clock: Clock, *, stale_only: bool = False) -> int:
    """Zero today's counters and return how many videos were reset.

    With `stale_only`, only stale counters (see `stamps`) are zeroed, so a
    view already counted today survives a late or repeated run. A late
    stamp stays, so that a late view still finds it.
    """
    stamps = Stamps.at(clock)
    return _reset(
        sa.update(Video).values(views_today=0, uniques_today=0, period_day=stamps.stamped()["period_day"]),
        sa.not_(stamps.day) if stale_only else None,
    )


def reset_monthly(clock: Clock, *, stale_only: bool = False) -> int:
    """Zero this month's counters, today's with them, and return how many videos were reset.

    Today is part of this month, so a month started afresh starts today
    afresh too (views today never exceed views this month). With
    `stale_only`, only stale month counters are zeroed: a stale month
    means a stale day, which reads as 0 already.
    """
    stamps = Stamps.at(clock)
    if stale_only:
        return _reset(sa.update(Video).values(views_month=0, period_month=stamps.stamped()["period_month"]),
                      sa.not_(stamps.month))
    return _reset(sa.update(Video).values(views_month=0, views_today=0, uniques_today=0, **stamps.stamped()), None)


def _reset(statement, condition) -> int:
    if condition is not None:
        statement = statement.where(condition)
    with write_transaction() as connection:
        count = connection.execute(statement).rowcount
    if condition is None:
        # A stale-only reset changes no number a reader at this moment sees:
        # stale counters read as 0 already, so cached entries stay true.
        stats_cache.forget_all()
    return count
