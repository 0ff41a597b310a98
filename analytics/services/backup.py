"""A consistent copy of the SQLite database, taken while the server keeps counting."""

import logging
import os
import sqlite3
import time
from pathlib import Path

from ..extensions import db
from .errors import InvalidInput

log = logging.getLogger(__name__)

# 256 pages (1 MiB at SQLite's default page size) per step, then a pause, so a
# large copy leaves disk and CPU to the server between steps.
STEP_PAGES = 256
STEP_SLEEP_SECONDS = 0.01


def backup_sqlite(path: str | os.PathLike, instance_path: str, force: bool = False, pages: int = STEP_PAGES,
                  sleep: float = STEP_SLEEP_SECONDS) -> dict:
    """Copy the app's SQLite database to `path` with SQLite's online backup API; return bytes, pages, seconds.

    The source connection opens a read transaction before the first step and
    holds it to the last. In WAL mode that pins one snapshot: writers go on
    committing to the WAL unblocked, and the backup never restarts, whereas
    steps without it restart whenever another connection commits, which
    under steady load means never finishing.

    :raises InvalidInput: the database is not a SQLite file, `path` exists
        (and `force` is off), its folder does not exist, or it is one of the
        live database's files or inside the instance folder.
    """
    url = db.engine.url
    if url.get_backend_name() != "sqlite":
        raise InvalidInput(
            f"The database is {url.get_backend_name()}, not SQLite: back it up with pg_dump, "
            "e.g. pg_dump --format=custom --file=viewtally.dump \"$DATABASE_URL\"")
    if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
        raise InvalidInput(f"The database {url.database or ':memory:'!r} is not a plain SQLite file")
    target = Path(path).absolute()
    if not target.parent.is_dir():
        raise InvalidInput(f"The folder {str(target.parent)!r} does not exist")
    if target.exists() and not force:
        raise InvalidInput(f"{str(target)!r} exists already; pass --force to overwrite it")
    live = Path(url.database).resolve()
    if target.resolve() in {live, *(live.with_name(live.name + suffix) for suffix in ("-wal", "-shm", "-journal"))}:
        raise InvalidInput(f"{str(target)!r} is the live database or one of its files")
    if target.resolve().is_relative_to(Path(instance_path).resolve()):
        raise InvalidInput(f"{str(target)!r} is inside the instance folder, beside the live data and secrets")

    # Written beside the target and renamed at the end: a failed copy never leaves a half file at `path`.
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    started = time.monotonic()
    raw = db.engine.raw_connection()  # tuned by database.py: WAL, busy timeout, driver autocommit
    try:
        source = raw.driver_connection
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the read that fixes the snapshot
        destination = sqlite3.connect(partial, isolation_level=None)
        try:
            # backup()'s own `sleep` only applies after a busy step; the pause between steps is ours.
            source.backup(destination, pages=pages, progress=lambda *_: time.sleep(sleep))
            copied = destination.execute("PRAGMA page_count").fetchone()[0]
            # One self-contained file: the copy would otherwise keep the source's WAL mode.
            destination.execute("PRAGMA journal_mode = DELETE")
            # A restored copy must not bring back admin logins that ended after it was taken.
            destination.execute("DELETE FROM admin_sessions")
        finally:
            destination.close()
        source.execute("COMMIT")
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        raw.close()
    seconds = time.monotonic() - started
    size = target.stat().st_size
    log.info("backed up the database to %s: %d bytes, %d pages, %.2f s", target, size, copied, seconds)
    return {"bytes": size, "pages": copied, "seconds": seconds}
