"""Counting views and reading counts back."""

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from ..clock import Clock
from ..database import insert, read_transaction, write_transaction
from ..models import DailyView, Video, VideoViewLog
from . import overview, stats_cache
from .errors import VideoNotFound
from .stamps import Stamps


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

    def counts(self, stamps: Stamps) -> Counts:
        """Return the counts by the stamps rule: a stale period counter is 0."""
        day, month = stamps.current(self.period_day, self.period_month)
        return Counts(
            video_id=self.video_id,
            views_today=self.views_today if day else 0,
            views_month=self.views_month if month else 0,
            views_total=self.views_total,
        )


def track_view(video_id: str, clock: Clock) -> Counts:
    """Count one view: counters, log row and daily row in one transaction.

    :raises VideoNotFound: nothing is stored.
    """
    now = clock.now()
    stamps = Stamps.at(clock, now)
    period = stamps.period
    bump_counters = (
        sa.update(Video)
        .where(Video.id == video_id)
        .values(views_total=Video.views_total + 1, **stamps.after_a_view())
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
    return row.counts(Stamps.at(clock))


def daily_views(video_id: str, days: int, clock: Clock) -> list[tuple[date, int]]:
    """Return (local day, views) for the last `days` days, oldest first, zeros included.

    :raises VideoNotFound:
    """
    with read_transaction() as connection:
        if connection.scalar(sa.select(Video.id).where(Video.id == video_id)) is None:
            raise VideoNotFound(video_id)
    return overview.views_per_day(days, clock, video_id)
