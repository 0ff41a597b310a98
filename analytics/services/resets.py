"""Zeroing the period counters: by hand (everything) or by schedule (only what is stale)."""

import sqlalchemy as sa

from ..clock import Clock
from ..database import write_transaction
from ..models import DailySummary, Video
from . import stats_cache
from .stamps import Stamps


def reset_daily(clock: Clock, *, stale_only: bool = False) -> int:
    """Zero today's views and unique viewers and return how many videos were reset.

    With `stale_only`, only stale counters (see `stamps`) are zeroed, so a
    view already counted today survives a late or repeated run. A late
    stamp stays, so that a late view still finds it.
    """
    stamps = Stamps.at(clock)
    today = {"views_today": 0, "uniques_today": 0, "period_day": stamps.stamped()["period_day"]}
    if stale_only:
        return _reset_stale(sa.update(Video).values(today).where(sa.not_(stamps.day)))
    return _reset_all(sa.update(Video).values(today), stamps)


def reset_monthly(clock: Clock, *, stale_only: bool = False) -> int:
    """Zero this month's counters, today's with them, and return how many videos were reset.

    Today is part of this month, so a month started afresh starts today
    afresh too (views today never exceed views this month). With
    `stale_only`, only stale month counters are zeroed: a stale month
    means a stale day, which reads as 0 already.
    """
    stamps = Stamps.at(clock)
    month = {"views_month": 0, "period_month": stamps.stamped()["period_month"]}
    if stale_only:
        return _reset_stale(sa.update(Video).values(month).where(sa.not_(stamps.month)))
    return _reset_all(sa.update(Video).values(**month, views_today=0, uniques_today=0,
                                              period_day=stamps.stamped()["period_day"]), stamps)


def _reset_stale(statement) -> int:
    """Zero stale counters: no number a reader sees now changes (stale reads as 0), so the cache stays."""
    with write_transaction() as connection:
        return connection.execute(statement).rowcount


def _reset_all(statement, stamps: Stamps) -> int:
    """Zero every video's counters and today's distinct viewers across the site, then the cache."""
    with write_transaction() as connection:
        count = connection.execute(statement).rowcount
        # Who was seen today stays seen (a viewer back after the window adds a view, not a viewer).
        connection.execute(sa.update(DailySummary).where(DailySummary.day == stamps.period.day)
                           .values(unique_viewers=0))
    stats_cache.forget_all()
    return count
