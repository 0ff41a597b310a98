"""Deleting view-log rows older than LOG_RETENTION_DAYS, a batch at a time.

Each batch is its own write transaction, which on SQLite holds the one
write lock: a view waiting to be counted waits for the batch. So batches
are sized from the time the last one held the lock, aiming at
TARGET_SECONDS, and the purge then rests as long as it held the lock:
SQLite's busy handler polls a waiting writer only every 25 to 100 ms, so
a gap of a millisecond would let nobody in. Counters and daily rows are
never touched.
"""

import logging
import time
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..clock import Clock
from ..database import write_transaction
from ..models import VideoViewLog
from . import viewers

log = logging.getLogger(__name__)

FIRST_BATCH = 2_000
MIN_BATCH = 100
MAX_BATCH = 100_000
TARGET_SECONDS = 0.025
MIN_PAUSE_SECONDS = 0.002


def purge(clock: Clock, days: int | None = None) -> int:
    """Delete what has outlived its time; return how many rows went.

    View-log rows older than `days` (default LOG_RETENTION_DAYS; 0 keeps
    them), and viewer hashes whose day and dedup window are over.
    """
    config = current_app.config
    days = config["LOG_RETENTION_DAYS"] if days is None else days
    return purge_view_logs(clock, days) + viewers.purge_expired(clock, config["DEDUP_WINDOW_SECONDS"])


def purge_view_logs(clock: Clock, days: int) -> int:
    """Delete the view-log rows older than `days` days (0 keeps them all); return how many went."""
    if days < 0:
        raise ValueError(f"days must be 0 or more, not {days}")
    if days == 0:
        return 0
    try:
        cutoff = clock.now() - timedelta(days=days)
    except OverflowError:  # before the year 1: nothing is that old
        return 0
    deleted, size = 0, FIRST_BATCH
    while True:
        # Oldest first through the viewed_at index: a batch never scans the rows it keeps.
        batch = (sa.select(VideoViewLog.id).where(VideoViewLog.viewed_at < cutoff)
                 .order_by(VideoViewLog.viewed_at).limit(size))
        with write_transaction() as connection:
            locked = time.perf_counter()  # BEGIN IMMEDIATE has returned: the lock is ours
            count = connection.execute(sa.delete(VideoViewLog).where(VideoViewLog.id.in_(batch))).rowcount
        held = time.perf_counter() - locked
        deleted += count
        log.debug("deleted %d view log rows in %.1f ms", count, held * 1000)
        if count < size:
            return deleted
        time.sleep(max(held, MIN_PAUSE_SECONDS))
        size = _next_size(size, held)


def _next_size(size: int, held: float) -> int:
    """Scale a batch toward TARGET_SECONDS of lock: at most twice the last, within the bounds."""
    wanted = size * TARGET_SECONDS / held if held > 0 else size * 2
    return int(min(max(wanted, MIN_BATCH), size * 2, MAX_BATCH))
