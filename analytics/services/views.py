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
        """Return the counts as of `period`: a counter of another period is 0.

        `Stamps` is the same rule in SQL.
        """
        late_day = self.period_day == period.next_day
        late_month = late_day and self.period_month == period.next_month
        return Counts(
            video_id=self.video_id,
            views_today=self.views_today if self.period_day == period.day or late_day else 0,
            views_month=self.views_month if self.period_month == period.month or late_month else 0,
            views_total=self.views_total,
        )


class Stamps:
    """SQL conditions on a video's period stamps, as of `period`.

    A counter belongs to this period when stamped with it, or "late": a
    view from just before midnight can commit after one from just after
    it, which stamped the counters with the next day (and, on the 1st, the
    next month). Any other stamp is stale: earlier (no reset ran since) or
    later (a clock that ran ahead and was set right); such a counter reads
    as 0 and the next view restarts it.
    """

    def __init__(self, period: Period):
        self.period = period
        self.late_day = Video.period_day == period.next_day
        self.late_month = sa.and_(self.late_day, Video.period_month == period.next_month)
        self.day = sa.or_(Video.period_day == period.day, self.late_day)
        self.month = sa.or_(Video.period_month == period.month, self.late_month)

    def current_views(self):
        """SQL for (views today, views this month)."""
        return (sa.case((self.day, Video.views_today), else_=0),
                sa.case((self.month, Video.views_month), else_=0))

    def after_a_view(self) -> dict:
        """SET values for one more view: +1 in this period, untouched if late, else restart at 1."""
        p = self.period
        return {
            "views_today": sa.case((Video.period_day == p.day, Video.views_today + 1), (self.late_day, Video.views_today),
                                   else_=1),
            "views_month": sa.case((Video.period_month == p.month, Video.views_month + 1),
                                   (self.late_month, Video.views_month), else_=1),
            "period_day": sa.case((self.late_day, Video.period_day), else_=p.day),
            "period_month": sa.case((self.late_month, Video.period_month), else_=p.month),
        }


def track_view(video_id: str, clock: Clock) -> Counts:
    """Count one view: counters, log row and daily row in one transaction.

    :raises VideoNotFound: nothing is stored.
    """
    now = clock.now()
    period = clock.period(now)
    bump_counters = (
        sa.update(Video)
        .where(Video.id == video_id)
        .values(views_total=Video.views_total + 1, **Stamps(period).after_a_view())
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
