"""Fill a fresh SQLite database with many videos and a long view log, for measuring at scale.

    .venv/bin/python bench/fill.py /tmp/scale.db                          (100,000 videos, 10,000,000 views)
    .venv/bin/python bench/fill.py /tmp/small.db --videos 10000 --views 1000000

The schema is the app's own: create_app() makes the tables on the file, then
the rows go in through the raw sqlite3 driver (executemany, large
transactions, WAL, synchronous=OFF for the fill only; the log's two indexes
are dropped during the fill and built again at the end, which is several
times faster than keeping them up to date row by row).

Views are spread over the last --days local days (default 400) up to now:
they grow over the period, peak at weekends, and favour popular videos (a
Zipf-like share). As in services/demo_data.py, the rows agree as if every
view had been tracked: each video's views_total, views_month and views_today
count its log rows in all, since the first of this month and since the
start of today; daily_views has one row per video and day with views; each
day's daily_summary has its counted views (the sum of its daily_views), the
site's distinct viewers and a plausible share of filtered requests; and
view_buckets counts the log rows of each five-minute stretch. The app's own
triggers fill the search index and counter_totals as the videos go in.
Like the demo data, no recent_views or day_viewers rows are written, so
today's viewers can all count once more.
"""

import argparse
import random
import os
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402

LOG_INDEXES = ("ix_video_view_logs_video_id", "ix_video_view_logs_viewed_at")
TRANSACTION_ROWS = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def video_id(number: int) -> str:
    return f"video-{number:06d}"


def create_schema(database: Path) -> str:
    """Create the app's tables on `database`; return the configured time zone."""
    # Generated secrets go to a throw-away instance folder, not the checkout's.
    os.environ.setdefault("VIEWTALLY_INSTANCE_PATH", tempfile.mkdtemp(prefix="viewtally-fill-"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": "fill",
                      "ADMIN_TOKEN": "fill-admin-token", "SCHEDULER_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "CACHE_TYPE": "SimpleCache"})
    with app.app_context():
        from analytics.database import create_tables
        from analytics.extensions import db
        create_tables()  # already done by the factory on most set-ups; harmless twice
        db.engine.dispose()
        return app.config["TIMEZONE"]


class Stamper:
    """Format UTC epoch seconds the way SQLAlchemy stores a DateTime on SQLite, fast."""

    def __init__(self):
        self._days: dict[int, str] = {}

    def __call__(self, seconds: float) -> str:
        micros = int(seconds * 1_000_000)
        whole, micro = divmod(micros, 1_000_000)
        day, second = divmod(whole, 86400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = (EPOCH + timedelta(days=day)).strftime("%Y-%m-%d ")
        hour, rest = divmod(second, 3600)
        minute, second = divmod(rest, 60)
        return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{micro:06d}"


def views_per_day(days: list, total: int, today_share: float, chance: random.Random) -> list[int]:
    """Split `total` views over `days` (oldest first): growing, weekend peaks, today in part."""
    weights = []
    for offset, day in enumerate(days):
        growth = 0.35 + 0.65 * (offset + 1) / len(days)
        weekend = 1.4 if day.weekday() >= 5 else 1.0
        weights.append(growth * weekend * chance.uniform(0.8, 1.2))
    weights[-1] *= today_share
    scale = total / sum(weights)
    counts = [int(weight * scale) for weight in weights]
    for index in chance.sample(range(len(days)), total - sum(counts)) if total > sum(counts) else ():
        counts[index] += 1
    return counts


def add_buckets(buckets: Counter, base: float, span: float, moments: list[float]) -> None:
    """Count each moment (a fraction of the span from base, in epoch seconds) in its bucket's start."""
    from analytics.models import BUCKET_SECONDS

    buckets.update(int(base + m * span) // BUCKET_SECONDS * BUCKET_SECONDS for m in moments)


def fill(database: Path, videos: int, views: int, days: int, seed: int) -> dict:
    """Fill `database` (which must not exist yet); return the row counts."""
    from analytics.clock import Clock

    chance = random.Random(seed)
    clock = Clock(create_schema(database))
    now = clock.now()
    period = clock.period(now)
    first = period.day - timedelta(days=days - 1)
    day_list = [first + timedelta(days=offset) for offset in range(days)]
    today_start = clock.start_of(period.day)
    counts = views_per_day(day_list, views, min(1.0, (now - today_start) / timedelta(days=1)), chance)

    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("PRAGMA cache_size = -1000000")  # 1 GB: keeps daily_views' primary key in memory
    connection.execute("PRAGMA temp_store = MEMORY")
    index_sql = [sql for (sql,) in connection.execute(
        f"SELECT sql FROM sqlite_master WHERE type = 'index' AND name IN ({', '.join('?' * len(LOG_INDEXES))})",
        LOG_INDEXES)]
    for name in LOG_INDEXES:
        connection.execute(f"DROP INDEX IF EXISTS {name}")

    # A few videos get most views: weight 1 / (rank + 10), shuffled so popularity is not the id order.
    ranks = list(range(videos))
    chance.shuffle(ranks)
    cumulative, running = [], 0.0
    for rank in ranks:
        running += 1.0 / (rank + 10)
        cumulative.append(running)
    ids = [video_id(number) for number in range(videos)]
    total = [0] * videos
    month = [0] * videos
    today = [0] * videos
    uniques_today = [0] * videos
    stamp = Stamper()
    log_rows = daily_rows = pending = 0
    connection.execute("BEGIN")
    for day, count in zip(day_list, counts):
        start = clock.start_of(day)
        end = min(now, clock.start_of(day + timedelta(days=1)))
        base, span = (start - EPOCH).total_seconds(), (end - start).total_seconds()
        picks = chance.choices(range(videos), cum_weights=cumulative, k=count)
        moments = sorted(chance.random() for _ in range(count))
        connection.executemany("INSERT INTO video_view_logs (video_id, viewed_at) VALUES (?, ?)",
                               zip(map(ids.__getitem__, picks), (stamp(base + m * span) for m in moments)))
        per_video = Counter(picks)
        buckets = Counter()
        add_buckets(buckets, base, span, moments)
        connection.executemany("INSERT INTO view_buckets (start, views) VALUES (?, ?)",
                               ((stamp(start), n) for start, n in sorted(buckets.items())))
        day_text = day.isoformat()
        rows, day_uniques, day_views = [], 0, 0
        is_month, is_today = day >= period.month, day == period.day
        for number, n in per_video.items():
            unique = min(n, max(1, round(n * chance.uniform(0.7, 0.9))))
            rows.append((ids[number], day_text, n, unique))
            total[number] += n
            day_uniques += unique
            day_views += n
            if is_month:
                month[number] += n
            if is_today:
                today[number] += n
                uniques_today[number] = unique
        connection.executemany(
            "INSERT INTO daily_views (video_id, day, views, unique_viewers) VALUES (?, ?, ?, ?)", rows)
        if day_views:
            connection.execute(
                "INSERT INTO daily_summary (day, views, unique_viewers, duplicate, bot, prefetch, excluded)"
                " VALUES (?, ?, ?, ?, ?, ?, 0)",
                (day_text, day_views, round(day_uniques * 0.85), round(day_views * chance.uniform(0.08, 0.15)),
                 round(day_views * chance.uniform(0.2, 0.4)), round(day_views * 0.01)))
        log_rows += count
        daily_rows += len(rows)
        pending += count + len(rows)
        if pending >= TRANSACTION_ROWS:
            connection.execute("COMMIT")
            connection.execute("BEGIN")
            pending = 0
    created = stamp((clock.start_of(first) - timedelta(days=1) - EPOCH).total_seconds())
    day_text, month_text = period.day.isoformat(), period.month.isoformat()
    connection.executemany(
        "INSERT INTO videos (id, title, created_at, views_today, uniques_today, views_month, views_total,"
        " period_day, period_month) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ((ids[n], f"Video {n}: a talk on topic {n % 997}", created, today[n], uniques_today[n], month[n],
          total[n], day_text, month_text) for n in range(videos)))
    connection.execute("COMMIT")
    for sql in index_sql:
        connection.execute(sql)
    connection.execute("ANALYZE")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return {"videos": videos, "views": log_rows, "daily_views": daily_rows, "days": days}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="the SQLite file to create (must not exist)")
    parser.add_argument("--videos", type=int, default=100_000)
    parser.add_argument("--views", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    database = args.database.resolve()
    if database.exists():
        raise SystemExit(f"{database} exists; fill.py only fills a fresh file")
    started = time.monotonic()
    rows = fill(database, args.videos, args.views, args.days, args.seed)
    print(f"filled {database} in {time.monotonic() - started:.0f} s: {rows['videos']:,} videos, "
          f"{rows['views']:,} view-log rows, {rows['daily_views']:,} daily_views rows over {rows['days']} days; "
          f"{database.stat().st_size / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
