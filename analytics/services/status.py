"""How much the service holds, for the admin's status panel."""

import os
from dataclasses import dataclass

import sqlalchemy as sa

from ..database import read_transaction
from ..models import DailyView, DayViewer, RecentView, Video, VideoViewLog


@dataclass(frozen=True)
class Storage:
    """Row counts and the database's size in bytes (None when it cannot be told)."""

    videos: int
    view_logs: int
    daily_rows: int
    viewer_hashes: int
    database_bytes: int | None


def storage() -> Storage:
    """Count the rows of each table and measure the database."""
    with read_transaction() as connection:
        videos, logs, daily, recent, day_viewers = (
            _count(connection, table) for table in (Video, VideoViewLog, DailyView, RecentView, DayViewer))
        size = _database_bytes(connection)
    return Storage(videos=videos, view_logs=logs, daily_rows=daily, viewer_hashes=recent + day_viewers,
                   database_bytes=size)


def video_count() -> int:
    """Count the videos."""
    with read_transaction() as connection:
        return _count(connection, Video)


def _count(connection, table) -> int:
    return connection.scalar(sa.select(sa.func.count()).select_from(table))


def _database_bytes(connection) -> int | None:
    if connection.dialect.name == "postgresql":
        return connection.scalar(sa.text("SELECT pg_database_size(current_database())"))
    path = connection.engine.url.database
    if not path or path == ":memory:":
        return None
    return sum(os.path.getsize(path + suffix) for suffix in ("", "-wal") if os.path.exists(path + suffix))
