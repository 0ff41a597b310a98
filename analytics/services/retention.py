"""Deleting what has outlived LOG_RETENTION_DAYS, a batch at a time, and the pace of batched jobs.

Each batch is its own write transaction, which on SQLite holds the one
write lock: a view waiting to be counted waits for the batch. So a
`Pace` sizes batches from the time the last one held the lock, aiming at
TARGET_SECONDS (and at TARGET_PAGES of WAL, see `_checkpoint`), and
rests as long as it held the lock, and at least 25 ms, before the next:
SQLite's busy handler polls a waiting writer of another process only
every 25 to 100 ms, so a gap of a millisecond would let nobody in. The resets (services/resets.py)
keep the same pace. Counters and daily rows are never touched.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import Connection

from ..clock import Clock
from ..database import read_transaction, write_transaction
from ..models import VideoViewLog, ViewBucket
from . import viewers

log = logging.getLogger(__name__)

FIRST_BATCH = 1_000
MIN_BATCH = 100
MAX_BATCH = 100_000
TARGET_SECONDS = 0.025
# Half SQLite's auto-checkpoint size: a batch's commit never pays for a checkpoint (see _checkpoint).
TARGET_PAGES = 500
# A writer of another process waiting in SQLite's busy handler polls 25 ms apart in its
# first 100 ms: a shorter rest can slip by between two polls, again and again.
MIN_PAUSE_SECONDS = 0.025


class Pace:
    """Write transactions one batch long: sized toward TARGET_SECONDS of lock, with a rest between."""

    def __init__(self, first: int = FIRST_BATCH):
        self.size = first
        self.batches = 0
        self._rest_until = 0.0

    @contextmanager
    def batch(self) -> Iterator[Connection]:
        """Rest as long as the last batch held the lock, then yield a connection in a new write transaction."""
        rest = self._rest_until - time.monotonic()
        if rest > 0:
            time.sleep(rest)
        with write_transaction() as connection:
            locked = time.perf_counter()  # BEGIN IMMEDIATE has returned: the lock is ours
            yield connection
        held = time.perf_counter() - locked  # the commit included
        pages = _checkpoint() if connection.dialect.name == "sqlite" else 0
        self.batches += 1
        self._rest_until = time.monotonic() + max(held, MIN_PAUSE_SECONDS)
        log.debug("batch %d of %d rows held the write lock %.1f ms, wrote %d pages",
                  self.batches, self.size, held * 1000, pages)
        self.size = _next_size(self.size, held, pages)


def _checkpoint() -> int:
    """Copy the WAL into the database file now, beside the writers rather than in front of them; return its pages.

    Otherwise the commit that grows the WAL past SQLite's auto-checkpoint
    size (1,000 pages) copies it back while this process's writers wait
    their turn: such a commit took up to 0.75 s. A passive checkpoint waits
    for nobody and nobody waits for it; the next writer starts the WAL afresh.
    """
    with read_transaction() as connection:
        _busy, pages, _copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
    return max(pages, 0)


def _next_size(size: int, held: float, pages: int = 0) -> int:
    """Scale a batch toward TARGET_SECONDS of lock and TARGET_PAGES of WAL: at most twice the last, within the bounds."""
    wanted = size * TARGET_SECONDS / held if held > 0 else size * 2
    if pages > 0:
        wanted = min(wanted, size * TARGET_PAGES / pages)
    return int(min(max(wanted, MIN_BATCH), size * 2, MAX_BATCH))


def purge(clock: Clock, days: int | None = None) -> int:
    """Delete what has outlived its time; return how many rows went.

    View-log rows and five-minute view buckets older than `days` (default
    LOG_RETENTION_DAYS; 0 keeps them), and viewer hashes whose day and
    dedup window are over.
    """
    config = current_app.config
    days = config["LOG_RETENTION_DAYS"] if days is None else days
    return (purge_view_logs(clock, days) + purge_view_buckets(clock, days)
            + viewers.purge_expired(clock, config["DEDUP_WINDOW_SECONDS"]))


def purge_view_logs(clock: Clock, days: int) -> int:
    """Delete the view-log rows older than `days` days (0 keeps them all); return how many went."""
    cutoff = _cutoff(clock, days)
    return 0 if cutoff is None else _delete_older(VideoViewLog.id, VideoViewLog.viewed_at, cutoff)


def purge_view_buckets(clock: Clock, days: int) -> int:
    """Delete the view buckets that start more than `days` days ago (0 keeps them all); return how many went."""
    cutoff = _cutoff(clock, days)
    return 0 if cutoff is None else _delete_older(ViewBucket.start, ViewBucket.start, cutoff)


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


def _delete_older(key: sa.Column, moment: sa.Column, cutoff: datetime) -> int:
    """Delete the rows whose `moment` is before `cutoff`, oldest first, a paced batch at a time."""
    pace, deleted = Pace(), 0
    while True:
        size = pace.size
        # Oldest first through the index on `moment`: a batch never scans the rows it keeps.
        batch = sa.select(key).where(moment < cutoff).order_by(moment).limit(size)
        with pace.batch() as connection:
            count = connection.execute(sa.delete(key.table).where(key.in_(batch))).rowcount
        deleted += count
        if count < size:
            log.debug("deleted %d rows of %s in %d batches", deleted, key.table.name, pace.batches)
            return deleted
