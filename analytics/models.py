"""The tables: videos with their counters, the view log, daily totals, job runs."""

from datetime import date, datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from .extensions import db

# SQLite only auto-numbers INTEGER PRIMARY KEY; elsewhere the log id is 64-bit.
LogId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Store moments as naive UTC everywhere and hand them back aware."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("refusing a naive datetime; pass an aware one")
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        return value.replace(tzinfo=timezone.utc) if value is not None else None


class Video(db.Model):
    """A video and its counters.

    ``period_day`` and ``period_month`` name the local day and month (its
    first day) that ``views_today`` and ``views_month`` belong to; a counter
    stamped with another period reads as 0 (see services/stamps.py), so a
    missed reset never carries yesterday's views into today.
    """

    __tablename__ = "videos"

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    views_today: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    views_month: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    views_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    period_day: Mapped[date] = mapped_column(sa.Date)
    period_month: Mapped[date] = mapped_column(sa.Date)


class VideoViewLog(db.Model):
    """One row per counted view."""

    __tablename__ = "video_view_logs"

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    video_id: Mapped[str] = mapped_column(
        sa.ForeignKey("videos.id", ondelete="CASCADE"), index=True
    )
    viewed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class DailyView(db.Model):
    """Views of one video on one local day, kept for charts and history."""

    __tablename__ = "daily_views"

    video_id: Mapped[str] = mapped_column(
        sa.ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    views: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class JobRun(db.Model):
    """The last run of each scheduled job, shown by /healthz."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trigger: Mapped[str] = mapped_column(sa.String(16))
    outcome: Mapped[str] = mapped_column(sa.String(8))
    count: Mapped[int | None] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.Text)
