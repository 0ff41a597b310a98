"""WAL checkpoints run beside the writers: commits reach the database file without a commit copying them."""

import logging
import shutil
import sqlite3
import time

from analytics import wal
from analytics.extensions import db
from conftest import add_video


def _in_database_file(path, tmp_path, video_id) -> bool:
    """Tell whether the database file itself, without its WAL, holds the video."""
    copy = tmp_path / "file-alone.db"
    shutil.copy(path, copy)
    connection = sqlite3.connect(copy)
    try:
        return connection.execute("SELECT count(*) FROM videos WHERE id = ?", (video_id,)).fetchone()[0] == 1
    finally:
        connection.close()
        for leftover in tmp_path.glob("file-alone.db*"):
            leftover.unlink()


def test_commits_reach_the_database_file_without_a_commit_checkpointing(app, instance, tmp_path):
    with app.app_context(), db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == wal.FALLBACK_PAGES
    add_video(app, "first", "First")
    time.sleep(wal.INTERVAL_SECONDS * 2)
    add_video(app, "second", "Second")  # its commit starts a checkpoint that copies the first too
    deadline = time.monotonic() + 10
    while not _in_database_file(instance / "analytics.db", tmp_path, "first"):
        assert time.monotonic() < deadline, "the WAL was never copied into the database file"
        time.sleep(0.05)


def test_a_failed_checkpoint_is_told_after_the_next_commit(tmp_path, caplog):
    broken = tmp_path / "not-a-database.db"
    broken.write_bytes(b"this is not an SQLite file" * 200)
    wal.after_commit(str(broken))
    deadline = time.monotonic() + 10
    while wal._files[str(broken)].running:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with caplog.at_level(logging.WARNING, logger="analytics.wal"):
        wal.after_commit(str(broken))
    assert "WAL checkpoint of the database failed" in caplog.text
