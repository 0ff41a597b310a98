"""Plausible demo videos with months of history, for trying the dashboard and for screenshots."""

import random
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from ..clock import Clock
from ..database import insert, write_transaction
from ..models import DailySummary, DailyView, Video, VideoViewLog, ViewBucket
from .view_batch import bucket_start

# id, title, typical views a day at the end of the period
VIDEOS = [
    ("launch-trailer", "Launch trailer", 48),
    ("getting-started", "Getting started in five minutes", 31),
    ("tips-and-tricks", "Ten tips and tricks", 17),
    ("behind-the-scenes", "Behind the scenes", 12),
    ("customer-story-acme", "Customer story: Acme", 7),
    ("webinar-q3", "Webinar: what's new this quarter", 4),
]


@dataclass(frozen=True)
class DemoReport:
    videos_added: int
    videos_skipped: int
    views_added: int


def create(clock: Clock, days: int = 90, seed: int = 2026) -> DemoReport:
    """Add the demo videos that are missing, each with `days` days of views up to now.

    Views grow over the period, peak at weekends and vary from day to day;
    counters, log rows and daily rows agree, as if every view had been tracked.
    Most viewers watch once a day, some come back; the day's summary has the
    site's distinct viewers and a plausible share of filtered requests.
    """
    chance = random.Random(seed)
    now = clock.now()
    period = clock.period(now)
    first = period.day - timedelta(days=days - 1)
    added = skipped = views_added = 0
    site: dict = {}  # day -> [views, unique viewers] of the videos added now
    buckets: Counter = Counter()  # view bucket start -> views of the videos added now
    with write_transaction() as connection:
        existing = set(connection.scalars(sa.select(Video.id).where(Video.id.in_([v[0] for v in VIDEOS]))))
        for video_id, title, daily in VIDEOS:
            if video_id in existing:
                skipped += 1
                continue
            per_day = {}
            for offset in range(days):
                day = first + timedelta(days=offset)
                growth = 0.35 + 0.65 * (offset + 1) / days
                weekend = 1.4 if day.weekday() >= 5 else 1.0
                per_day[day] = max(0, round(daily * growth * weekend * chance.uniform(0.6, 1.4)))
            today_start = clock.start_of(period.day)
            per_day[period.day] = round(per_day[period.day] * min(1.0, (now - today_start) / timedelta(days=1)))
            uniques = {day: min(n, max(1, round(n * chance.uniform(0.7, 0.9)))) if n else 0
                       for day, n in per_day.items()}
            for day, n in per_day.items():
                totals = site.setdefault(day, [0, 0])
                totals[0] += n
                totals[1] += uniques[day]
            connection.execute(insert(connection, Video).values(
                id=video_id, title=title, created_at=clock.start_of(first),
                views_today=per_day[period.day], uniques_today=uniques[period.day], views_total=sum(per_day.values()),
                views_month=sum(n for day, n in per_day.items() if day >= period.month),
                period_day=period.day, period_month=period.month,
            ))
            connection.execute(sa.insert(DailyView), [
                {"video_id": video_id, "day": day, "views": n, "unique_viewers": uniques[day]}
                for day, n in per_day.items() if n
            ])
            logs = []
            for day, n in per_day.items():
                start = clock.start_of(day)
                span = (min(now, clock.start_of(day + timedelta(days=1))) - start).total_seconds()
                logs += [{"video_id": video_id, "viewed_at": start + timedelta(seconds=chance.uniform(0, span))}
                         for _ in range(n)]
            if logs:
                connection.execute(sa.insert(VideoViewLog), logs)
                buckets.update(bucket_start(log["viewed_at"]) for log in logs)
            added += 1
            views_added += len(logs)
        _add_to_summaries(connection, site, chance)
        _add_to_buckets(connection, buckets)
    return DemoReport(videos_added=added, videos_skipped=skipped, views_added=views_added)


def _add_to_summaries(connection, site: dict, chance: random.Random) -> None:
    """Add the demo's views, viewers and filtered requests to each day's summary (some viewers watch two videos)."""
    for day, (views, uniques) in site.items():
        values = {"views": views, "unique_viewers": round(uniques * 0.85),
                  "duplicate": round(views * chance.uniform(0.08, 0.15)), "bot": round(views * chance.uniform(0.2, 0.4)), "prefetch": round(views * 0.01), "excluded": 0}
        upsert = insert(connection, DailySummary).values(day=day, **values)
        connection.execute(upsert.on_conflict_do_update(
            index_elements=[DailySummary.day],
            set_={name: getattr(DailySummary, name) + value for name, value in values.items()}))


def _add_to_buckets(connection, buckets: Counter) -> None:
    """Add the demo's views to the five-minute buckets the dashboard's comparisons read."""
    for start, views in sorted(buckets.items()):
        upsert = insert(connection, ViewBucket).values(start=start, views=views)
        connection.execute(upsert.on_conflict_do_update(
            index_elements=[ViewBucket.start], set_={"views": ViewBucket.views + views}))
