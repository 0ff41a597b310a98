"""The tables: videos with their counters, the view log, daily totals, viewers of the day, watch time,
where videos are watched, job runs and their lease."""

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

    def bind_processor(self, dialect):
        """On SQLite, write the stored text in one step: the same text as the two steps, in half the time.

        Every view binds a moment or two on the hot path.
        """
        if dialect.name != "sqlite" or self.impl_instance.dialect_impl(dialect)._storage_format != _SQLITE_FORMAT:
            return super().bind_processor(dialect)

        def process(value):
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("refusing a naive datetime; pass an aware one")
            if value.tzinfo is not timezone.utc:
                value = value.astimezone(timezone.utc)
            return value.isoformat(" ", "microseconds")[:26]

        return process


# SQLite's DATETIME text (SQLAlchemy's default), which isoformat(" ", "microseconds") writes too, bar the offset.
_SQLITE_FORMAT = "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"


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
    # Distinct viewers among today's views; follows views_today's period stamp and resets.
    uniques_today: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    views_month: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    views_total: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    period_day: Mapped[date] = mapped_column(sa.Date)
    period_month: Mapped[date] = mapped_column(sa.Date)


# The video list's orders, each walked from an index (ties by id): a deep page
# skips index entries rather than sorting the table. The period stamp leads
# the two period counters' indexes, so today's and this month's sums read
# only current counters and a stale stamp is found by a probe (services/videos.py).
_videos = Video.__table__
sa.Index("ix_videos_views_total", _videos.c.views_total.desc(), _videos.c.id)
sa.Index("ix_videos_created_at", _videos.c.created_at.desc(), _videos.c.id)
sa.Index("ix_videos_views_today", _videos.c.period_day, _videos.c.views_today.desc(), _videos.c.id)
sa.Index("ix_videos_views_month", _videos.c.period_month, _videos.c.views_month.desc(), _videos.c.id)


# Sums of the video counters per pair of period stamps, kept by triggers on
# SQLite (see migrations.py): a pair's row holds what its videos hold, so the
# stamps rule and every reset read the same through a few rows as through
# every video. PostgreSQL sums the videos' indexes instead.
SQLITE_ONLY = sa.MetaData()
counter_totals = sa.Table(
    "counter_totals", SQLITE_ONLY,
    sa.Column("period_day", sa.Date, primary_key=True),
    sa.Column("period_month", sa.Date, primary_key=True),
    *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0")
      for name in ("views_today", "views_month", "views_total")),
)


class VideoViewLog(db.Model):
    """One row per counted view."""

    __tablename__ = "video_view_logs"

    id: Mapped[int] = mapped_column(LogId, primary_key=True, autoincrement=True)
    video_id: Mapped[str] = mapped_column(
        sa.ForeignKey("videos.id", ondelete="CASCADE"), index=True
    )
    viewed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class DailyView(db.Model):
    """Views and distinct viewers of one video on one local day, kept for charts and history."""

    __tablename__ = "daily_views"

    video_id: Mapped[str] = mapped_column(
        sa.ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    views: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    unique_viewers: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")


# The dashboard's periods add up each video's views over a range of days: led by the day, this
# index reads only those days, and it holds the views, so the sums never read the table.
_daily = DailyView.__table__
DAILY_VIEWS_BY_DAY = sa.Index("ix_daily_views_day", _daily.c.day, _daily.c.video_id, _daily.c.views)


class SpanSum(db.Model):
    """A run of past days whose views per video are stored in span_views: complete once this row is.

    ``views`` is the run's daily_summary views when it was added up: a
    reader compares it with today's, so history changed since (an import)
    is never read from a stale sum. It is NULL while ``builder``, the token
    of one add-up, is still writing the rows.
    """

    __tablename__ = "span_sums"

    first: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    last: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    views: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True)
    builder: Mapped[str] = mapped_column(sa.String(16))


class SpanView(db.Model):
    """One video's views from local day `first` to `last`, so a long period's table need not add up its days."""

    __tablename__ = "span_views"

    # Led by the video: deleting one finds its rows by the key, not by reading the table.
    video_id: Mapped[str] = mapped_column(sa.ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    first: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    last: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    views: Mapped[int] = mapped_column(sa.BigInteger)


# A span's videos in the period table's order: its first page, or any, is a walk of this index.
_span = SpanView.__table__
SPAN_VIEWS_RANKED = sa.Index("ix_span_views_rank", _span.c.first, _span.c.last, _span.c.views.desc(),
                             _span.c.video_id)


class DailySummary(db.Model):
    """Per local day, across all videos: counted views, distinct viewers, views left uncounted by reason, watch time.

    ``views`` is a running total of the day's counted views (the sum of its
    daily_views rows), so a chart across all videos reads one row per day.
    """

    __tablename__ = "daily_summary"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    views: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    unique_viewers: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    duplicate: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    bot: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    prefetch: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    excluded: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    origin: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    # Watch time reported by the day's counted views, in milliseconds (see DailyWatch). No Python
    # default: the views' upsert (services/view_batch.py) leaves it to the database.
    watch_ms: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")


class ViewBucket(db.Model):
    """Counted views across all videos in one stretch of BUCKET_SECONDS, from its UTC start.

    Comparisons such as "yesterday by this time" add up these rows rather
    than counting the view log, whose size grows with the data.
    """

    __tablename__ = "view_buckets"

    start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    views: Mapped[int] = mapped_column(sa.BigInteger, default=0)


BUCKET_SECONDS = 300

# Why a view is not counted; each reason is a column of DailySummary.
FILTER_REASONS = ("duplicate", "bot", "prefetch", "excluded", "origin")
SUMMARY_COLUMNS = ("unique_viewers", *FILTER_REASONS)


# A viewer is a keyed hash (see services/viewers.py): 16 bytes that name nobody.
ViewerHash = sa.LargeBinary(16)


class ViewerKey(db.Model):
    """The secret of one local day's viewer hashes, deleted once no window needs it."""

    __tablename__ = "viewer_keys"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    secret: Mapped[bytes] = mapped_column(sa.LargeBinary(32))


class RecentView(db.Model):
    """A viewer's last counted view of a video on a local day: the duplicate check and unique count.

    The primary key makes the database decide a race between identical
    views; ``views`` tells a viewer's first view of the day from a return.
    Rows are purged once their day is over and the window has passed.
    """

    __tablename__ = "recent_views"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    video_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    viewer: Mapped[bytes] = mapped_column(ViewerHash, primary_key=True)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    views: Mapped[int] = mapped_column(sa.Integer, default=1)


class DayViewer(db.Model):
    """A viewer seen on a local day, of any video: the site's distinct viewers. Purged after the day."""

    __tablename__ = "day_viewers"

    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    viewer: Mapped[bytes] = mapped_column(ViewerHash, primary_key=True)


class JobRun(db.Model):
    """The last run of each scheduled job, shown by /healthz; and, for /metrics, its last success and failures.

    A failed run replaces the last one, so the time of the last success and
    the count of failures (ever, never reset) are kept beside it.
    """

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime())
    trigger: Mapped[str] = mapped_column(sa.String(16))
    outcome: Mapped[str] = mapped_column(sa.String(8))
    count: Mapped[int | None] = mapped_column(sa.Integer)
    error: Mapped[str | None] = mapped_column(sa.Text)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")


class SchedulerLease(db.Model):
    """Who runs the scheduled jobs, until when: the one process whose lease has not lapsed."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(sa.String(200))  # host:pid:random of the process
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AdminSession(db.Model):
    """One admin login that has not ended: logging out deletes it, so a copied cookie opens nothing.

    Only a hash of the login's nonce is kept; the nonce itself lives in the
    signed session cookie alone.
    """

    __tablename__ = "admin_sessions"

    nonce_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


# Retention: how many of a day's reported views reached each twentieth (5 %) of the video.
RETENTION_BUCKETS = 20


class WatchedView(db.Model):
    """A counted view whose player may report watch time: what it has reported so far, kept 24 hours.

    ``view`` is a hash of the random id the player made for the view (one
    page load of one element), so reports of one view replace each other.
    Its reports count on the local day the view was counted.
    """

    __tablename__ = "watched_views"

    video_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    view: Mapped[bytes] = mapped_column(sa.LargeBinary(16), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reported: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    watch_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    position_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # the furthest point reached
    reached: Mapped[int] = mapped_column(sa.Integer, default=0)  # retention buckets reached, 0 to 20
    completed: Mapped[bool] = mapped_column(sa.Boolean, default=False)


class DailyWatch(db.Model):
    """What the views of one video counted on one local day reported playing.

    ``reports`` is how many of them reported at all (a pixel never does),
    the base of the average view duration and the completion rate;
    ``reached_<n>`` how many reached n twentieths of the video's duration.
    """

    __tablename__ = "daily_watch"

    video_id: Mapped[str] = mapped_column(sa.ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    reports: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    watch_ms: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    completions: Mapped[int] = mapped_column(sa.BigInteger, default=0)


for _n in range(RETENTION_BUCKETS):
    DailyWatch.__table__.append_column(sa.Column(f"reached_{_n}", sa.BigInteger, nullable=False, server_default="0"))
RETENTION_COLUMNS = tuple(DailyWatch.__table__.c[f"reached_{n}"] for n in range(RETENTION_BUCKETS))


# Origins per video and day: while the day runs, the first ORIGIN_CANDIDATES sites get rows of their
# own and views from further ones add to the OTHER_ORIGINS row; once it is over, the hourly purge
# folds all but the ORIGINS_KEPT with the most views into that row (services/origins.py).
ORIGIN_CANDIDATES = 1000
ORIGINS_KEPT = 50
OTHER_ORIGINS = "other"


class DailyOrigin(db.Model):
    """Counted views of one video on one local day from one embedding site (scheme and host, nothing more)."""

    __tablename__ = "daily_origins"

    video_id: Mapped[str] = mapped_column(sa.ForeignKey("videos.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, primary_key=True)
    origin: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    views: Mapped[int] = mapped_column(sa.BigInteger, default=0)
