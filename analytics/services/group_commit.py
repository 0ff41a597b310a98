"""Group commit: the writes of concurrent requests share one transaction, and each waits for its commit.

A commit is the dearest part of a write (on SQLite every modified page goes
to the WAL once per commit), so a request does not commit alone: it joins
the open batch and waits for that batch to be written. The first request
of a batch leads it: it waits its turn to write (one batch at a time),
meanwhile its batch gathers the requests that arrive; then it closes the
batch, writes it in one transaction, commits, hands each request its own
answer, and wakes them all at once. Nobody is answered before the
transaction holding their write has committed; a batch that fails fails
every request in it (the caller may then retry its items one by one). The
locks and events are made with the writer, after any patching of threads
for green ones (gevent).
"""

import copy
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import sqlalchemy as sa

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class _Entry(Generic[T, R]):
    __slots__ = ("item", "result", "error", "shared")

    def __init__(self, item: T):
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.shared = False  # the error is the whole batch's, raised by every waiter of it


class _Batch:
    __slots__ = ("entries", "written")

    def __init__(self):
        self.entries: list[_Entry] = []
        self.written = threading.Event()  # set once every entry has its result or error


class GroupCommit(Generic[T, R]):
    """Run `write(items) -> results` (one result, or an exception to raise, per item) for batches of items."""

    def __init__(self, write: Callable[[Sequence[T]], Sequence[R | BaseException]], max_batch: int = 256):
        self._write = write
        self._max_batch = max_batch
        self._lock = threading.Lock()  # guards the open batch
        self._writing = threading.Lock()  # held by the leader writing a batch
        self._open: _Batch | None = None  # the batch new items join, until its leader closes it
        self._pause = _green_pause()

    def submit(self, item: T) -> R:
        """Join the open batch, wait until it has committed, and return the item's result (or raise its error)."""
        entry = _Entry(item)
        with self._lock:
            batch = self._open
            leads = batch is None
            if leads:
                batch = self._open = _Batch()
            batch.entries.append(entry)
            if len(batch.entries) >= self._max_batch:
                self._open = None  # full: the next item starts a batch of its own
        if leads:
            self._lead(batch)
        else:
            batch.written.wait()
        return _outcome(entry)

    def _lead(self, batch: _Batch) -> None:
        """Wait for the turn to write, close the batch, write it, and wake its waiters."""
        try:
            with self._writing:
                if self._pause is not None:
                    self._pause()
                self._close(batch)
                self._write_batch(batch)
        finally:
            self._close(batch)  # when interrupted before (gevent.Timeout at the pause): nobody may join it now
            for entry in batch.entries:
                if entry.result is None and entry.error is None:
                    entry.error = RuntimeError("the write of this batch was interrupted")
            batch.written.set()

    def _close(self, batch: _Batch) -> None:
        with self._lock:
            if self._open is batch:
                self._open = None

    def _write_batch(self, batch: _Batch) -> None:
        """Give each entry its result, or the batch's error should the write fail."""
        try:
            results = self._write([entry.item for entry in batch.entries])
            for entry, result in zip(batch.entries, results, strict=True):
                if isinstance(result, BaseException):
                    entry.error = result
                else:
                    entry.result = result
        except Exception as error:  # the batch's requests all see why it failed
            for entry in batch.entries:
                entry.error, entry.shared = error, True


def each_alone_on_failure(write: Callable[[list[T]], list], items: list[T],
                          one_may_blame: Callable[[sa.exc.DBAPIError], bool], what: str) -> list:
    """Write `items` in one go with `write`; should that fail in a way one item may cause, write each alone.

    The batch's results, or each item's (its exception where it failed),
    in the items' order.
    """
    try:
        return write(items)
    except sa.exc.DBAPIError as error:
        if len(items) == 1 or not one_may_blame(error):
            raise
        log.warning("a batch of %d %s failed (%s); writing each alone", len(items), what, error.__class__.__name__)
    results: list = []
    for item in items:
        try:
            results += write([item])
        except sa.exc.SQLAlchemyError as error:  # the commit included
            results.append(error)
    return results


def deadlocked(error: sa.exc.DBAPIError) -> bool:
    """Tell whether PostgreSQL ended the transaction for a deadlock or a serialization failure."""
    return getattr(error.orig, "sqlstate", None) in ("40P01", "40001")  # psycopg 3's name for the SQLSTATE code


def _green_pause() -> Callable[[], None] | None:
    """Return how a leader lets peers join its batch: under green threads, one turn of the event loop.

    OS threads need no pause: they run on while the leader waits on the
    database. Green threads run one at a time, and without the pause each
    would lead a batch of its own.
    """
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        from gevent import sleep

        return lambda: sleep(0)
    return None


def _outcome(entry: _Entry):
    """Return the entry's result, or raise its error; a batch's error as a copy of each waiter's own.

    Raising one exception object in many threads would tangle their
    tracebacks in it; each copy names the shared one as its cause.
    """
    if entry.error is None:
        return entry.result
    if not entry.shared:
        raise entry.error
    try:
        own = copy.copy(entry.error)
    except Exception:  # an exception that cannot be copied is raised as it is
        raise entry.error from None
    raise own from entry.error
