"""Counting views and reading counts back."""

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from ..clock import Clock, Period
from ..database import insert, read_transaction, write_transaction
from ..models import DailyView, Video, VideoViewLog
from . import stats_cache
from .errors import VideoNotFound


@dataclass(frozen=True)
class Counts:
    """A video's views today, this month and in all."""

    video_id: str
    views_today: int
    views_month: int
    views_total: int


@dataclass(frozen=True)
class CounterRow:
    """A video's counters as stored, with the periods they belong to."""

    video_id: str
    views_today: int
    views_month: int
    views_total: int
    period_day: date
    period_month: date

    def counts(self, period: Period) -> Counts:
        """Return the counts as of `period`: a counter of an earlier period is 0.

        `current_views` is the same rule in SQL.
        """
        return Counts(
            video_id=self.video_id,
            views_today=self.views_today if self.period_day >= period.day else 0,
            views_month=self.views_month if self.period_month >= period.month else 0,
            views_total=self.views_total,
        )


def current_views(period: Period):
    """SQL for (views today, views this month) as of `period`: an earlier period's counter is 0."""
    return (
        sa.case((Video.period_day >= period.day, Video.views_today), else_=0),
        sa.case((Video.period_month >= period.month, Video.views_month), else_=0),
    )


def _bump(counter, stamp, current):
    """SQL for a period counter after one more view in `current`.

    Same period: +1. Older stamp (no reset ran since): start again at 1. A
    newer stamp means a view from just before midnight committed after one
    from just after it; it belongs to its own day (in daily_views), not to
    the newer counter, which stays as it is.
    """
    return sa.case((stamp == current, counter + 1), (stamp > current, counter), else_=1)


def _latest(stamp, current):
    return sa.case((stamp > current, stamp), else_=current)


def track_view(video_id: str, clock: Clock) -> Counts:
    """Count one view: counters, log row and daily row in one transaction.

    :raises VideoNotFound: nothing is stored.
    """
    now = clock.now()
    period = clock.period(now)
    bump_counters = (
        sa.update(Video)
        .where(Video.id == video_id)
        .values(
            views_today=_bump(Video.views_today, Video.period_day, period.day),
            views_month=_bump(Video.views_month, Video.period_month, period.month),
            views_total=Video.views_total + 1,
            period_day=_latest(Video.period_day, period.day),
            period_month=_latest(Video.period_month, period.month),
        )
        .returning(Video.views_today, Video.views_month, Video.views_total)
    )
    with write_transaction() as connection:
        row = connection.execute(bump_counters).one_or_none()
        if row is None:
            raise VideoNotFound(video_id)
        connection.execute(sa.insert(VideoViewLog).values(video_id=video_id, viewed_at=now))
        add_to_day = insert(connection, DailyView).values(video_id=video_id, day=period.day, views=1)
        connection.execute(
            add_to_day.on_conflict_do_update(
                index_elements=[DailyView.video_id, DailyView.day],
                set_={"views": DailyView.views + 1},
            )
        )
    stats_cache.forget(video_id)
    return Counts(video_id, *row)


def _load_counters(video_id: str) -> CounterRow | None:
    with read_transaction() as connection:
        row = connection.execute(
            sa.select(
                Video.id, Video.views_today, Video.views_month, Video.views_total,
                Video.period_day, Video.period_month,
            ).where(Video.id == video_id)
        ).one_or_none()
    return CounterRow(*row) if row else None


def get_stats(video_id: str, clock: Clock) -> Counts:
    """Return a video's counts, from the cache when it is still current.

    :raises VideoNotFound:
    """
    row = stats_cache.fetch(video_id, lambda: _load_counters(video_id))
    if row is None:
        raise VideoNotFound(video_id)
    return row.counts(clock.period())


def daily_views(video_id: str, days: int, clock: Clock) -> list[tuple[date, int]]:
    """Return (local day, views) for the last `days` days, oldest first, zeros included.

    :raises VideoNotFound:
    """
    today = clock.today()
    first = today - timedelta(days=days - 1)
    with read_transaction() as connection:
        if connection.scalar(sa.select(Video.id).where(Video.id == video_id)) is None:
            raise VideoNotFound(video_id)
        stored = dict(
            connection.execute(
                sa.select(DailyView.day, DailyView.views).where(
                    DailyView.video_id == video_id, DailyView.day.between(first, today)
                )
            ).all()
        )
    return [(day, stored.get(day, 0)) for day in (first + timedelta(n) for n in range(days))]
