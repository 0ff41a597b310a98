"""Counting views and reading counts back."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..clock import Clock
from ..database import insert, read_transaction, write_transaction
from ..models import SUMMARY_COLUMNS, DailySummary, DailyView, DayViewer, RecentView, Video, VideoViewLog
from . import overview, stats_cache, viewers
from .errors import VideoNotFound
from .screening import current_screen
from .stamps import Stamps
from .viewers import Visitor


@dataclass(frozen=True)
class Counts:
    """A video's views today, this month and in all, and its distinct viewers today."""

    video_id: str
    views_today: int
    views_month: int
    views_total: int
    uniques_today: int = 0


@dataclass(frozen=True)
class Outcome:
    """What became of a view: counted, or why not, with the video's counts after it."""

    counts: Counts
    reason: str | None = None

    @property
    def counted(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class CounterRow:
    """A video's counters as stored, with the periods they belong to."""

    video_id: str
    views_today: int
    views_month: int
    views_total: int
    uniques_today: int
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
            uniques_today=self.uniques_today if day else 0,
        )


def track_view(video_id: str, clock: Clock, visitor: Visitor) -> Outcome:
    """Count one view unless it is filtered or a repeat within the window; say which.

    A counted view changes the counters, the log and the daily rows in one
    transaction. A repeat is decided by the database: the viewer's row for
    the video and day is inserted, or refreshed only when the window has
    passed, so simultaneous identical views in any number of workers count
    once. A view that is not counted changes only the day's filtered count.

    :raises VideoNotFound: nothing is stored.
    """
    now = clock.now()
    stamps = Stamps.at(clock, now)
    day = stamps.period.day
    reason = current_screen().reason(visitor)
    if reason is not None:
        with write_transaction() as connection:
            counts = _current_counts(connection, video_id, stamps)
            _add_to_summary(connection, day, reason)
        return Outcome(counts, reason)

    window = current_app.config["DEDUP_WINDOW_SECONDS"]
    viewer = viewers.viewer_hash(visitor, day)
    others = viewers.other_days(clock, now, day, window, stamps.late_views)
    elsewhere = [(other, hashed) for other in others
                 if (hashed := viewers.viewer_hash(visitor, other, create=False)) is not None]
    viewers.forget_keys_except({day, *others})
    with write_transaction() as connection:
        if others and connection.dialect.name == "postgresql":
            # Rows of two days can race, no unique key between them: one such viewer at a time
            # (even when the other day has no key yet: another worker may be making it).
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:id)"), {"id": viewers.lock_id(visitor, video_id)})
        views_of_viewer = None
        if not _seen_since(connection, video_id, elsewhere, now - timedelta(seconds=window)):
            views_of_viewer = connection.execute(_note_viewer(connection, day, video_id, viewer, now, window)).scalar()
        if views_of_viewer is None:
            counts = _current_counts(connection, video_id, stamps)
            _add_to_summary(connection, day, "duplicate")
        else:
            counts = _count(connection, video_id, now, stamps, viewer, first_today=views_of_viewer == 1)
    if views_of_viewer is None:
        return Outcome(counts, "duplicate")
    stats_cache.forget(video_id)
    return Outcome(counts)


def _current_counts(connection, video_id: str, stamps: Stamps) -> Counts:
    """Read a video's counts in the open transaction.

    :raises VideoNotFound:
    """
    row = _counter_row(connection, video_id)
    if row is None:
        raise VideoNotFound(video_id)
    return row.counts(stamps)


def _seen_since(connection, video_id: str, elsewhere: list[tuple[date, bytes]], since: datetime) -> bool:
    """Tell whether the viewer's view on another day, of these (day, hash) pairs, was counted after `since`."""
    if not elsewhere:
        return False
    return connection.scalar(sa.select(sa.literal(1)).where(
        RecentView.video_id == video_id, RecentView.counted_at > since,
        sa.or_(*(sa.and_(RecentView.day == day, RecentView.viewer == hashed) for day, hashed in elsewhere)),
    ).limit(1)) is not None


def _note_viewer(connection, day: date, video_id: str, viewer: bytes, now: datetime, window: int):
    """An upsert returning the viewer's views of the video that day, or no row for a repeat."""
    statement = insert(connection, RecentView).values(day=day, video_id=video_id, viewer=viewer, counted_at=now,
                                                      views=1)
    return statement.on_conflict_do_update(
        index_elements=[RecentView.day, RecentView.video_id, RecentView.viewer],
        set_={"counted_at": now, "views": RecentView.views + 1},
        where=RecentView.counted_at <= now - timedelta(seconds=window) if window else None,
    ).returning(RecentView.views)


def _count(connection, video_id: str, now: datetime, stamps: Stamps, viewer: bytes, first_today: bool) -> Counts:
    """Count the view: counters, log row, daily row; a first view of the day adds a unique viewer."""
    day = stamps.period.day
    new = int(first_today)
    row = connection.execute(
        sa.update(Video)
        .where(Video.id == video_id)
        .values(views_total=Video.views_total + 1, **stamps.after_a_view(new))
        .returning(Video.views_today, Video.views_month, Video.views_total, Video.uniques_today)
    ).one_or_none()
    if row is None:
        raise VideoNotFound(video_id)
    connection.execute(sa.insert(VideoViewLog).values(video_id=video_id, viewed_at=now))
    add_to_day = insert(connection, DailyView).values(video_id=video_id, day=day, views=1, unique_viewers=new)
    connection.execute(add_to_day.on_conflict_do_update(
        index_elements=[DailyView.video_id, DailyView.day],
        set_={"views": DailyView.views + 1, "unique_viewers": DailyView.unique_viewers + new},
    ))
    if first_today:
        first_on_site = connection.execute(insert(connection, DayViewer).values(day=day, viewer=viewer)
                                           .on_conflict_do_nothing().returning(DayViewer.day)).first()
        if first_on_site is not None:
            _add_to_summary(connection, day, "unique_viewers")
    return Counts(video_id, *row)


def _add_to_summary(connection, day: date, column: str) -> None:
    """Add one to a column of the day's summary row."""
    zeros = {name: 0 for name in SUMMARY_COLUMNS}
    upsert = insert(connection, DailySummary).values(day=day, **{**zeros, column: 1})
    connection.execute(upsert.on_conflict_do_update(
        index_elements=[DailySummary.day], set_={column: getattr(DailySummary, column) + 1}))


def _counter_row(connection, video_id: str) -> CounterRow | None:
    row = connection.execute(
        sa.select(
            Video.id, Video.views_today, Video.views_month, Video.views_total, Video.uniques_today,
            Video.period_day, Video.period_month,
        ).where(Video.id == video_id)
    ).one_or_none()
    return CounterRow(*row) if row else None


def _load_counters(video_id: str) -> CounterRow | None:
    with read_transaction() as connection:
        return _counter_row(connection, video_id)


def get_stats(video_id: str, clock: Clock) -> Counts:
    """Return a video's counts, from the cache when it is still current.

    :raises VideoNotFound:
    """
    row = stats_cache.fetch(video_id, lambda: _load_counters(video_id))
    if row is None:
        raise VideoNotFound(video_id)
    return row.counts(Stamps.at(clock))


def daily_views(video_id: str, days: int, clock: Clock) -> list[overview.DayCount]:
    """Return views and distinct viewers per day for the last `days` days, oldest first, zeros included.

    :raises VideoNotFound:
    """
    with read_transaction() as connection:
        if connection.scalar(sa.select(Video.id).where(Video.id == video_id)) is None:
            raise VideoNotFound(video_id)
    return overview.views_per_day(days, clock, video_id)
