"""Counting views and reading counts back."""

from datetime import timedelta

import sqlalchemy as sa

from ..clock import Clock, Period
from ..context import running_app
from ..database import read_transaction, write_transaction
from ..models import Video
from . import overview, stats_cache, view_batch, viewers, watch
from .counts import CounterRow, Counts, Outcome, WatchSums
from .errors import VideoNotFound
from .group_commit import GroupCommit, deadlocked, each_alone_on_failure
from .screening import current_screen
from .stamps import Stamps
from .view_batch import View
from .viewers import Visitor

__all__ = ["Counts", "Outcome", "daily_views", "get_stats", "track_view"]

_WRITER = "viewtally.view_writer"  # in app.extensions: this process's GroupCommit of views


def track_view(video_id: str, clock: Clock, visitor: Visitor) -> Outcome:
    """Count one view unless it is filtered or a repeat within the window; say which.

    The view is written with those of concurrent requests in one
    transaction (see group_commit.py), and answered once that has
    committed. A repeat is decided by the database: the viewer's row for the
    video and day is inserted, or refreshed only when the window has passed,
    so simultaneous identical views in any number of workers count once. A
    view that is not counted changes only the day's filtered count.

    :raises VideoNotFound: nothing is stored.
    """
    outcome = _writer().submit(view_of(video_id, clock, visitor))
    if outcome.counted:
        stats_cache.forget(video_id)
    return outcome


def view_of(video_id: str, clock: Clock, visitor: Visitor) -> View:
    """Return the view as its write needs it: screened, and its viewer hashed for each day its window reaches."""
    now = clock.now()
    stamps = Stamps.at(clock, now)
    reason = current_screen().reason(visitor)
    if reason is not None:
        return View(video_id, now, stamps, reason)
    watched = None if visitor.view is None else watch.view_hash(visitor.view)
    day = stamps.period.day
    window = running_app().config["DEDUP_WINDOW_SECONDS"]
    others = viewers.other_days(clock, now, day, window, stamps.late_views)
    elsewhere = tuple((other, hashed) for other in others
                      if (hashed := viewers.viewer_hash(visitor, other, create=False)) is not None)
    viewers.forget_keys_except({day, *others})
    return View(video_id, now, stamps, viewer=viewers.viewer_hash(visitor, day), elsewhere=elsewhere,
                lock=viewers.lock_id(visitor, video_id) if others else None,
                cutoff=now - timedelta(seconds=window) if window else None, watched=watched, origin=visitor.origin)


def _writer() -> GroupCommit:
    """Return this app's group commit of views, made on first use (after any patching of threads)."""
    extensions = running_app().extensions
    writer = extensions.get(_WRITER)
    if writer is None:
        writer = extensions.setdefault(_WRITER, GroupCommit(_write_views))
    return writer


def _write_views(views: list[View]) -> list[Outcome | Exception]:
    """Write a batch of views in one transaction; should that fail on one view, write each alone."""
    return each_alone_on_failure(_write_in_one_transaction, views, _one_view_may_blame, "views")


def _write_in_one_transaction(views: list[View]) -> list[Outcome]:
    with write_transaction() as connection:
        return view_batch.write(connection, views)


def _one_view_may_blame(error: sa.exc.DBAPIError) -> bool:
    """Tell whether a failed batch may succeed view by view: a constraint broken, or a PostgreSQL deadlock."""
    return isinstance(error, sa.exc.IntegrityError) or deadlocked(error)


def _load_counters(video_id: str) -> CounterRow | None:
    with read_transaction() as connection:
        return view_batch.counter_rows(connection, [video_id]).get(video_id)


def _load_stats(video_id: str, period: Period) -> tuple[CounterRow, WatchSums] | None:
    with read_transaction() as connection:
        row = view_batch.counter_rows(connection, [video_id]).get(video_id)
        return None if row is None else (row, watch.sums(connection, video_id, period))


def get_stats(video_id: str, clock: Clock) -> Counts:
    """Return a video's counts and today's and this month's watch time, from the cache when still current.

    A cached entry read before midnight has yesterday's watch sums: they are read again.

    :raises VideoNotFound:
    """
    stamps = Stamps.at(clock)
    entry = stats_cache.fetch(video_id, lambda: _load_stats(video_id, stamps.period))
    if entry is not None and not isinstance(entry, tuple):  # cached by an earlier release: counters alone
        entry = _load_stats(video_id, stamps.period)
    if entry is None:
        raise VideoNotFound(video_id)
    row, watched = entry
    if watched[0] != stamps.period.day.toordinal():
        with read_transaction() as connection:
            watched = watch.sums(connection, video_id, stamps.period)
    return row.counts(stamps, watched)


def daily_views(video_id: str, days: int, clock: Clock) -> list[overview.DayCount]:
    """Return views and distinct viewers per day for the last `days` days, oldest first, zeros included.

    :raises VideoNotFound:
    """
    with read_transaction() as connection:
        if connection.scalar(sa.select(Video.id).where(Video.id == video_id)) is None:
            raise VideoNotFound(video_id)
    return overview.views_per_day(days, clock, video_id)
