"""Counting views and reading counts back."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache

import sqlalchemy as sa
from flask import current_app

from ..clock import Clock
from ..database import dialect_insert, read_transaction, write_transaction
from ..models import SUMMARY_COLUMNS, DailySummary, DailyView, DayViewer, RecentView, Video, VideoViewLog
from . import overview, stats_cache, viewers
from .errors import VideoNotFound
from .screening import current_screen
from .stamps import Stamps, after_a_view_bound
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
            connection.execute(_VIEWER_LOCK, {"id": viewers.lock_id(visitor, video_id)})
        views_of_viewer = None
        cutoff = now - timedelta(seconds=window)
        if not _seen_since(connection, video_id, elsewhere, cutoff):
            views_of_viewer = connection.execute(
                _note_viewer(connection.dialect.name, windowed=bool(window)),
                {"on_day": day, "video": video_id, "viewer_hash": viewer, "now": now, "cutoff": cutoff},
            ).scalar()
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
    params = {"video": video_id, "since": since}
    for n, (day, hashed) in enumerate(elsewhere):
        params[f"day_{n}"], params[f"viewer_{n}"] = day, hashed
    return connection.scalar(_seen_elsewhere(len(elsewhere)), params) is not None


# Statements of the hot path are built once (per dialect where the INSERT is dialect-specific) and
# run with bound values: building one anew per view cost more than the SQL it runs.
_VIEWER_LOCK = sa.text("SELECT pg_advisory_xact_lock(:id)")


@cache
def _seen_elsewhere(days: int):
    """A row of the viewer's counted after :since on any of `days` other days (:day_n, :viewer_n)."""
    return sa.select(sa.literal(1)).where(
        RecentView.video_id == sa.bindparam("video"), RecentView.counted_at > sa.bindparam("since"),
        sa.or_(*(sa.and_(RecentView.day == sa.bindparam(f"day_{n}"), RecentView.viewer == sa.bindparam(f"viewer_{n}"))
                 for n in range(days))),
    ).limit(1)


@cache
def _note_viewer(dialect_name: str, windowed: bool):
    """An upsert returning the viewer's views of the video that day, or no row for a repeat.

    A repeat is a row counted after :cutoff (with a window; without one, no view is a repeat).
    """
    now = sa.bindparam("now", type_=RecentView.counted_at.type)
    statement = dialect_insert(dialect_name, RecentView).values(
        day=sa.bindparam("on_day", type_=RecentView.day.type), video_id=sa.bindparam("video"),
        viewer=sa.bindparam("viewer_hash", type_=RecentView.viewer.type), counted_at=now, views=1)
    return statement.on_conflict_do_update(
        index_elements=[RecentView.day, RecentView.video_id, RecentView.viewer],
        set_={"counted_at": now, "views": RecentView.views + 1},
        where=RecentView.counted_at <= sa.bindparam("cutoff", type_=RecentView.counted_at.type) if windowed else None,
    ).returning(RecentView.views)


_ADD_TO_COUNTERS = (
    sa.update(Video)
    .where(Video.id == sa.bindparam("video"))
    .values(views_total=Video.views_total + 1, **after_a_view_bound())
    .returning(Video.views_today, Video.views_month, Video.views_total, Video.uniques_today)
)
_ADD_TO_LOG = sa.insert(VideoViewLog).values(video_id=sa.bindparam("video"),
                                             viewed_at=sa.bindparam("now", type_=VideoViewLog.viewed_at.type))


@cache
def _add_to_day(dialect_name: str):
    """An upsert adding a view, and :new_viewer (0 or 1) distinct viewers, to the video's day."""
    new = sa.bindparam("new_viewer", type_=sa.BigInteger)
    return dialect_insert(dialect_name, DailyView).values(
        video_id=sa.bindparam("video"), day=sa.bindparam("on_day", type_=DailyView.day.type), views=1,
        unique_viewers=new,
    ).on_conflict_do_update(
        index_elements=[DailyView.video_id, DailyView.day],
        set_={"views": DailyView.views + 1, "unique_viewers": DailyView.unique_viewers + new},
    )


@cache
def _first_on_site(dialect_name: str):
    """An insert of the viewer's day row, returning a row only when it is new."""
    return dialect_insert(dialect_name, DayViewer).values(
        day=sa.bindparam("on_day", type_=DayViewer.day.type),
        viewer=sa.bindparam("viewer_hash", type_=DayViewer.viewer.type),
    ).on_conflict_do_nothing().returning(DayViewer.day)


@cache
def _summary_upsert(dialect_name: str, column: str):
    """An upsert adding one to a column of the summary row of :on_day."""
    zeros = {name: 0 for name in SUMMARY_COLUMNS}
    upsert = dialect_insert(dialect_name, DailySummary).values(
        day=sa.bindparam("on_day", type_=DailySummary.day.type), **{**zeros, column: 1})
    return upsert.on_conflict_do_update(
        index_elements=[DailySummary.day], set_={column: getattr(DailySummary, column) + 1})


_COUNTER_ROW = sa.select(
    Video.id, Video.views_today, Video.views_month, Video.views_total, Video.uniques_today,
    Video.period_day, Video.period_month,
).where(Video.id == sa.bindparam("video"))


def _count(connection, video_id: str, now: datetime, stamps: Stamps, viewer: bytes, first_today: bool) -> Counts:
    """Count the view: counters, log row, daily row; a first view of the day adds a unique viewer."""
    day = stamps.period.day
    dialect_name = connection.dialect.name
    new = int(first_today)
    row = connection.execute(_ADD_TO_COUNTERS, {"video": video_id, "new_viewer": new, **stamps.params()}).one_or_none()
    if row is None:
        raise VideoNotFound(video_id)
    connection.execute(_ADD_TO_LOG, {"video": video_id, "now": now})
    connection.execute(_add_to_day(dialect_name), {"video": video_id, "on_day": day, "new_viewer": new})
    if first_today:
        first_on_site = connection.execute(_first_on_site(dialect_name), {"on_day": day, "viewer_hash": viewer}).first()
        if first_on_site is not None:
            _add_to_summary(connection, day, "unique_viewers")
    return Counts(video_id, *row)


def _add_to_summary(connection, day: date, column: str) -> None:
    """Add one to a column of the day's summary row."""
    connection.execute(_summary_upsert(connection.dialect.name, column), {"on_day": day})


def _counter_row(connection, video_id: str) -> CounterRow | None:
    row = connection.execute(_COUNTER_ROW, {"video": video_id}).one_or_none()
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
