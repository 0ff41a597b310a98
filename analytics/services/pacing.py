"""The pace of batched jobs (resets, purges): short write transactions with a rest between.

`delete_paced` is the purges' loop; the resets walk their own ranges of ids.

Each batch is its own write transaction, which on SQLite holds the one
write lock: a view waiting to be counted waits for the batch. So a
`Pace` sizes batches from the time the last one held the lock, aiming at
TARGET_SECONDS (and at TARGET_PAGES of WAL, see `_checkpoint`), and
rests as long as it held the lock, and at least 25 ms, before the next:
SQLite's busy handler polls a waiting writer of another process only
every 25 to 100 ms, so a gap of a millisecond would let nobody in.
"""

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..database import read_transaction, write_transaction

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


def delete_paced(key: tuple, *where, order_by=None) -> int:
    """Delete the rows matching `where`, a paced batch at a time, by their primary `key` columns; return how many.

    `order_by` (an indexed column) makes each batch take the oldest rows
    through that index, so no batch scans the rows it keeps.
    """
    pace, deleted = Pace(), 0
    table = key[0].table
    target = key[0] if len(key) == 1 else sa.tuple_(*key)
    while True:
        size = pace.size
        batch = sa.select(*key).where(*where).limit(size)
        if order_by is not None:
            batch = batch.order_by(order_by)
        with pace.batch() as connection:
            count = connection.execute(sa.delete(table).where(target.in_(batch))).rowcount
        deleted += count
        if count < size:
            log.debug("deleted %d rows of %s in %d batches", deleted, table.name, pace.batches)
            return deleted
