"""Moving SQLite's write-ahead log into the database file beside the requests, not inside one.

Left to itself, SQLite checkpoints in the commit that grows the WAL past
1,000 pages: that commit copies the pages into the database file and syncs
it, and under gevent every other request of the worker waits meanwhile.
Here a native thread (a real one even where gevent patched threading) runs
a passive checkpoint every INTERVAL_SECONDS on a connection of its own.
The sqlite3 module lets go of the GIL while SQLite works, so the copy runs
on another CPU while the requests go on, and no commit reaches 1,000 pages.
A passive checkpoint waits for no one and blocks no one. SQLite's own
auto-checkpoint stays as the safety net of processes without this thread
(the CLI, servers other than gunicorn).
"""

import logging
import sqlite3
import sys
import threading
import time

from flask import Flask

from .extensions import db

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 0.25
_EXTENSION = "viewtally.checkpoints"


class Checkpoints:
    """The checkpoint thread of one SQLite file; `runs` and `pages` say what it has done."""

    def __init__(self, path: str, interval: float = INTERVAL_SECONDS):
        self.path = path
        self.interval = interval
        self.runs = self.pages = 0
        self.thread_id: int | None = None
        self._stop = False

    def start(self) -> None:
        _native("_thread", "start_new_thread")(self._loop, ())

    def stop(self) -> None:
        """Ask the thread to end after its current checkpoint."""
        self._stop = True

    def _loop(self) -> None:
        self.thread_id = threading.get_ident()
        sleep = _native("time", "sleep")
        try:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            log.warning("checkpoints: cannot open %s (%s); SQLite's own checkpoints remain", self.path, error)
            return
        try:
            while not self._stop:
                sleep(self.interval)
                try:
                    _busy, _pages, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as error:  # a file being replaced or removed; the next turn tries again
                    log.warning("checkpoint failed: %s", error)
                    continue
                self.runs += 1
                self.pages += max(copied, 0)
        finally:
            connection.close()


def start(app: Flask) -> Checkpoints | None:
    """Start the checkpoint thread of the app's SQLite file in this process (once); nothing on other engines."""
    if app.extensions.get(_EXTENSION) is not None:
        return app.extensions[_EXTENSION]
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    checkpoints = app.extensions[_EXTENSION] = Checkpoints(url.database)
    checkpoints.start()
    log.info("checkpoints of %s run beside the requests, every %.2f s", url.database, checkpoints.interval)
    return checkpoints


def _green() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("threading")


def _native(module: str, name: str):
    """Return the standard library's own function, not the green one gevent may have put in its place."""
    if _green():
        return sys.modules["gevent.monkey"].get_original(module, name)
    return getattr(__import__(module), name)
