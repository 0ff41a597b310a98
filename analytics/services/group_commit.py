"""Group commit: the writes of concurrent requests share one transaction, and each waits for its commit.

A commit is the dearest part of a write (on SQLite every modified page goes
to the WAL once per commit), so a request does not commit alone: it queues
its work and waits. The first waiter with no batch in progress leads: it
takes everything queued, writes it in one transaction, commits, hands each
request its own answer, and wakes the queue, whose next waiter leads the
next batch. Nobody is answered before the transaction holding their write
has committed; a batch that fails fails every request in it (the caller may
then retry its items one by one). The locks are made when first used, so a
server that patches threading for green threads (gevent) gets green ones.
"""

import copy
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Entry(Generic[T, R]):
    __slots__ = ("item", "result", "error", "shared", "done")

    def __init__(self, item: T):
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.shared = False  # the error is the whole batch's, raised by every waiter of it
        self.done = False


class GroupCommit(Generic[T, R]):
    """Run `write(items) -> results` (one result, or an exception to raise, per item) for batches of items."""

    def __init__(self, write: Callable[[Sequence[T]], Sequence[R | BaseException]], max_batch: int = 256):
        self._write = write
        self._max_batch = max_batch
        self._turn = threading.Condition(threading.Lock())
        self._queue: list[_Entry] = []
        self._leading = False
        self._pause = _green_pause()

    def submit(self, item: T) -> R:
        """Queue `item`, wait until its batch has committed, and return its result (or raise its error)."""
        entry = _Entry(item)
        with self._turn:
            self._queue.append(entry)
        while True:
            with self._turn:
                while not entry.done and self._leading:
                    self._turn.wait()
                if entry.done:
                    return _outcome(entry)
                self._leading = True
            self._lead()  # this entry's batch, or an earlier one when more than a batch is queued

    def _lead(self) -> None:
        """Write the oldest queued batch, then hand over the lead."""
        batch: list[_Entry] = []
        try:
            if self._pause is not None:
                self._pause()
            with self._turn:
                batch, self._queue = self._queue[:self._max_batch], self._queue[self._max_batch:]
            results = self._write([entry.item for entry in batch])
            for entry, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    entry.error = result
                else:
                    entry.result = result
        except Exception as error:  # the batch's requests all see why it failed
            for entry in batch:
                entry.error, entry.shared = error, True
        finally:
            with self._turn:
                for entry in batch:
                    if entry.result is None and entry.error is None:
                        entry.error = RuntimeError("the write of this batch was interrupted")
                    entry.done = True
                self._leading = False
                self._turn.notify_all()


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
