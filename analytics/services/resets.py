"""Zeroing the period counters: by hand (everything) or by schedule (only what is stale).

A reset walks the videos in order of id, a range of ids per write
transaction at the pace of `pacing.Pace` (about 25 ms of write lock,
then a rest), so views keep being counted while 100,000 videos are reset.
A view counted after its video's range was reset stays; the scheduled
reset zeroes only counters stamped with an earlier period, so it never
zeroes a view of the new period whenever that view lands.
"""

import sqlalchemy as sa

from ..clock import Clock
from ..database import read_transaction, write_transaction
from ..models import DailySummary, Video
from . import stats_cache
from .pacing import Pace
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
        return _in_ranges(sa.update(Video).values(today), sa.not_(stamps.day))
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
        return _in_ranges(sa.update(Video).values(month), sa.not_(stamps.month))
    return _reset_all(sa.update(Video).values(**month, views_today=0, uniques_today=0,
                                              period_day=stamps.stamped()["period_day"]), stamps)


def _reset_all(statement, stamps: Stamps) -> int:
    """Zero every video's counters and today's distinct viewers across the site.

    Stale counters read as 0 already, so only this kind of reset changes
    what readers see: the stats cache is forgotten after every batch.
    """
    with write_transaction() as connection:
        # Who was seen today stays seen (a viewer back after the window adds a view, not a viewer).
        connection.execute(sa.update(DailySummary).where(DailySummary.day == stamps.period.day)
                           .values(unique_viewers=0))
    stats_cache.forget_all()
    return _in_ranges(statement, sa.true(), after_each=stats_cache.forget_all)


def _in_ranges(statement, condition, after_each=None) -> int:
    """Run an UPDATE of videos on consecutive ranges of ids, each in its own paced transaction; sum the rows.

    A range's last id is read before its transaction, outside the write
    lock; a video added meanwhile inside the range is simply included.
    """
    pace, done, after = Pace(), 0, None
    while True:
        ids = sa.select(Video.id).order_by(Video.id).limit(pace.size)
        if after is not None:
            ids = ids.where(Video.id > after)
        with read_transaction() as connection:
            last = connection.scalar(sa.select(sa.func.max(ids.subquery().c.id)))
        if last is None:
            return done
        in_range = Video.id <= last if after is None else sa.and_(Video.id > after, Video.id <= last)
        with pace.batch() as connection:
            done += connection.execute(statement.where(in_range, condition)).rowcount
        if after_each:
            after_each()
        after = last
