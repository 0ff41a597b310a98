"""Deleting what has outlived LOG_RETENTION_DAYS, a paced batch at a time (see pacing.py).

Counters and daily rows are never touched.
"""

from datetime import datetime, timedelta

from flask import current_app

from ..clock import Clock
from ..models import VideoViewLog, ViewBucket
from . import origins, viewers, watch
from .pacing import delete_paced


def purge(clock: Clock, days: int | None = None) -> int:
    """Delete what has outlived its time; return how many rows went.

    View-log rows and five-minute view buckets older than `days` (default
    LOG_RETENTION_DAYS; 0 keeps them), viewer hashes whose day and dedup
    window are over, views past the hours they may report watch time, and
    the rows of past days' sites beyond the top ones (folded into "other").
    """
    config = current_app.config
    days = config["LOG_RETENTION_DAYS"] if days is None else days
    return (purge_view_logs(clock, days) + purge_view_buckets(clock, days)
            + viewers.purge_expired(clock, config["DEDUP_WINDOW_SECONDS"]) + watch.purge_expired(clock)
            + origins.fold_past_days(clock))


def purge_view_logs(clock: Clock, days: int) -> int:
    """Delete the view-log rows older than `days` days (0 keeps them all); return how many went."""
    cutoff = _cutoff(clock, days)
    return 0 if cutoff is None else delete_paced((VideoViewLog.id,), VideoViewLog.viewed_at < cutoff, order_by=VideoViewLog.viewed_at)


def purge_view_buckets(clock: Clock, days: int) -> int:
    """Delete the view buckets that start more than `days` days ago (0 keeps them all); return how many went."""
    cutoff = _cutoff(clock, days)
    return 0 if cutoff is None else delete_paced((ViewBucket.start,), ViewBucket.start < cutoff, order_by=ViewBucket.start)


def _cutoff(clock: Clock, days: int) -> datetime | None:
    """Return the moment before which rows go, or None when nothing goes."""
    if days < 0:
        raise ValueError(f"days must be 0 or more, not {days}")
    if days == 0:
        return None
    try:
        return clock.now() - timedelta(days=days)
    except OverflowError:  # before the year 1: nothing is that old
        return None
