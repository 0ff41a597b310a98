"""SQLite's WAL checkpoints, run on a native thread beside the writers rather than inside a commit.

Left to itself, SQLite copies the WAL back into the database file, and
syncs it, inside the commit that grows the WAL past 1,000 pages. That
commit holds the write lock, and under the gevent worker the whole event
loop: about 10 ms every few hundred tracked views, which made the slowest
1 % of them twice as slow as the rest. So after a commit, when no
checkpoint is running and the last one started INTERVAL_SECONDS ago, a
passive checkpoint starts on a connection of its own in a native thread.
SQLite lets go of the GIL while it copies and syncs, so the event loop and
the writers carry on; a passive checkpoint waits for nobody.

The WAL starts afresh when a writer finds all of it copied (and no reader
still in it), which under steady writes seldom happens between two
commits: it then grows to FALLBACK_PAGES, where SQLite's own checkpoint in
a commit copies the few pages left, and the next writer starts it afresh.
The same fallback serves should the thread fall behind.
"""

import logging
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.05
# A checkpoint said to run for this long is taken to be lost (its thread gone), and another starts.
STALE_SECONDS = 60.0
# The app's connections checkpoint in their commit only past this many WAL pages (SQLite's default:
# 1,000): 16 MB of WAL with 4 KB pages.
FALLBACK_PAGES = 4_000


class _File:
    """One database file's checkpoint: whether one runs, when the last began, and its error if it failed."""

    __slots__ = ("path", "running", "started", "error")

    def __init__(self, path: str):
        self.path = path
        self.running = False
        self.started = 0.0
        self.error: BaseException | None = None


_files: dict[str, _File] = {}
# A worker forked while the parent's checkpoint ran must not inherit it as running.
os.register_at_fork(after_in_child=_files.clear)


def after_commit(path: str) -> None:
    """Start a checkpoint of the file at `path` in the background, unless one runs or began moments ago."""
    file = _files.get(path) or _files.setdefault(path, _File(path))
    if file.error is not None:  # reported here: the checkpoint thread touches nothing but SQLite
        error, file.error = file.error, None
        log.warning("a WAL checkpoint of the database failed: %s", error)
    now = time.monotonic()
    if now - file.started < INTERVAL_SECONDS or (file.running and now - file.started < STALE_SECONDS):
        return
    file.running, file.started = True, now
    try:
        _in_native_thread()(lambda: _checkpoint(file))
    except Exception as error:  # no thread to be had: the commit stands, and SQLite's own fallback remains
        file.running = False
        log.warning("could not start a WAL checkpoint: %s", error)


def _checkpoint(file: _File) -> None:
    """Copy what the WAL holds into the database file, on a connection of this thread's own."""
    try:
        # mode=rw: a file deleted meanwhile stays deleted rather than made anew, empty.
        connection = sqlite3.connect(f"file:{quote(file.path)}?mode=rw", uri=True, isolation_level=None,
                                     check_same_thread=False)
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            connection.close()
    except Exception as error:
        file.error = error
    finally:
        file.running = False


def _in_native_thread() -> Callable[[Callable[[], None]], object]:
    """Return how to run a function on an operating-system thread: gevent's thread pool once threads are green."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("threading"):
        import gevent

        return gevent.get_hub().threadpool.spawn
    return lambda run: threading.Thread(target=run, name="viewtally-wal-checkpoint", daemon=True).start()
