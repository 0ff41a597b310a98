"""Resets and the purge in many short transactions: exact counts, even with views arriving meanwhile."""

import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from analytics.extensions import db
from analytics.models import DayViewer, RecentView, Video, ViewBucket
from analytics.services import pacing, resets, retention, viewers, views
from conftest import START, rows, viewer

VIDEOS = 3 * pacing.FIRST_BATCH + 7  # several batches, the last one short
NEXT_DAY = datetime(2026, 3, 15, 12, 0, tzinfo=timezone.utc)


def add_videos(app, count=VIDEOS, views=3):
    """Insert videos in bulk, as if each had `views` views on START's day."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.insert(Video), [
            {"id": f"v{number:05d}", "title": "A video", "created_at": START, "views_today": views,
             "uniques_today": 1, "views_month": views, "views_total": views,
             "period_day": START.date(), "period_month": START.date().replace(day=1)}
            for number in range(count)])


def counters(app):
    return {video: numbers for video, *numbers in rows(
        app, "SELECT id, views_today, views_month, views_total FROM videos ORDER BY id")}


class Transactions:
    """Count the write transactions an engine commits and the rows each UPDATE of videos changes."""

    def __init__(self, app):
        self.commits, self.updates = 0, []
        with app.app_context():
            event.listen(db.engine, "commit", self._commit)
            event.listen(db.engine, "after_cursor_execute", self._executed)

    def _commit(self, _connection):
        self.commits += 1

    def _executed(self, _connection, cursor, statement, *_):
        if statement.startswith("UPDATE videos"):
            self.updates.append(cursor.rowcount)


@pytest.fixture
def many(make_app, backend_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url)
    add_videos(app)
    return app


@pytest.mark.parametrize("reset, stale_only, after", [
    (resets.reset_daily, False, [0, 3, 3]),
    (resets.reset_daily, True, [0, 3, 3]),
    (resets.reset_monthly, False, [0, 0, 3]),
    (resets.reset_monthly, True, [3, 0, 3]),  # the raw daily counter stays: stale, it reads as 0
])
def test_a_reset_of_many_videos_goes_in_batches_and_counts_each_once(many, reset, stale_only, after):
    clock = many.extensions["viewtally.clock"]
    if stale_only:
        clock.set(datetime(2026, 4, 2, 12, 0, tzinfo=timezone.utc))  # a new day and a new month
    transactions = Transactions(many)
    with many.app_context():
        assert reset(clock, stale_only=stale_only) == VIDEOS
    assert len(transactions.updates) > 1 and sum(transactions.updates) == VIDEOS
    assert transactions.commits >= len(transactions.updates)  # one transaction per batch
    assert all(numbers == after for numbers in counters(many).values())


def test_a_stale_only_reset_counts_only_the_stale_videos(many):
    clock = many.extensions["viewtally.clock"]
    clock.set(NEXT_DAY)
    viewed = [f"v{number:05d}" for number in range(0, VIDEOS, 97)]
    with many.app_context():
        for video in viewed:
            views.track_view(video, clock, viewer())
        assert resets.reset_daily(clock, stale_only=True) == VIDEOS - len(viewed)
    numbers = counters(many)
    assert all(numbers[video] == [1, 4, 4] for video in viewed)
    assert sum(numbers[video] == [0, 3, 3] for video in numbers) == VIDEOS - len(viewed)


@pytest.mark.parametrize("stale_only", [True, False])
def test_views_counted_while_a_reset_runs_are_never_lost(make_app, stale_only):
    """Views of the new day arrive from another thread throughout; afterwards each reads exactly."""
    app = make_app()
    add_videos(app)
    clock = app.extensions["viewtally.clock"]
    clock.set(NEXT_DAY)
    result, done = {}, threading.Event()

    def reset():
        with app.app_context():
            result["count"] = resets.reset_daily(clock, stale_only=stale_only)
        done.set()

    tracked, while_running = {}, 0
    worker = threading.Thread(target=reset)
    with app.app_context():
        worker.start()
        number = 0
        while not done.is_set() or number < 50:
            video = f"v{(number * 211) % VIDEOS:05d}"  # all over the range, ahead of and behind the reset
            while_running += not done.is_set()
            views.track_view(video, clock, viewer())
            tracked[video] = tracked.get(video, 0) + 1
            number += 1
    worker.join()
    assert while_running > 1
    numbers = counters(app)
    for video, (today, month, total) in numbers.items():
        new = tracked.get(video, 0)
        assert (month, total) == (3 + new, 3 + new)  # a daily reset never touches these
        if stale_only:
            assert today == new  # a view of the new day always stays, before or after the reset
        else:
            assert today <= new  # a view counted before the reset reached its video is zeroed with it
    if stale_only:
        # A video viewed on the new day before its batch ran was current there: not counted as reset.
        assert VIDEOS - len(tracked) <= result["count"] <= VIDEOS
    else:
        assert result["count"] == VIDEOS
        # The reset went by in short steps, so views landed after their video's batch and stayed.
        assert sum(numbers[video][0] for video in tracked) > 0


def test_the_purge_deletes_exactly_the_old_view_buckets(make_app, backend_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url)
    clock = app.extensions["viewtally.clock"]
    cutoff = START - timedelta(days=30)
    starts = [cutoff - timedelta(minutes=5 * n) for n in range(1, 2 * pacing.FIRST_BATCH + 3)]
    starts += [cutoff, cutoff + timedelta(minutes=5), START]
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.insert(ViewBucket), [{"start": start, "views": 2} for start in starts])
    with app.app_context():
        assert retention.purge_view_buckets(clock, 0) == 0
        assert retention.purge(clock, 30) == 2 * pacing.FIRST_BATCH + 2
    assert [start for (start,) in rows(app, sa.select(ViewBucket.start).order_by(ViewBucket.start))] == \
        [cutoff, cutoff + timedelta(minutes=5), START]


def test_a_reset_on_an_empty_site_resets_nothing(app, clock):
    with app.app_context():
        assert resets.reset_daily(clock) == 0
        assert resets.reset_monthly(clock, stale_only=True) == 0
    assert rows(app, "SELECT count(*) FROM videos") == [(0,)]


def test_the_day_summary_loses_its_viewers_with_a_full_reset_only(many):
    clock = many.extensions["viewtally.clock"]
    with many.app_context():
        views.track_view("v00000", clock, viewer(1))
        views.track_view("v00001", clock, viewer(2))
        assert rows(many, "SELECT unique_viewers FROM daily_summary") == [(2,)]
        assert resets.reset_daily(clock, stale_only=True) == 0  # every video is current today
        assert rows(many, "SELECT unique_viewers FROM daily_summary") == [(2,)]
        assert resets.reset_daily(clock) == VIDEOS
        assert rows(many, "SELECT unique_viewers FROM daily_summary") == [(0,)]


def test_expired_viewer_hashes_go_in_several_short_transactions(make_app, backend_url):
    """A busy day's viewer rows are deleted a paced batch at a time, and only the expired ones."""
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url, DEDUP_WINDOW_SECONDS=3600)
    clock = app.extensions["viewtally.clock"]
    yesterday, today = START.date() - timedelta(days=1), START.date()
    old = 2 * pacing.FIRST_BATCH + 5
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.insert(RecentView), [
            {"day": day, "video_id": "intro", "viewer": number.to_bytes(16, "big"),
             "counted_at": START - timedelta(hours=hours), "views": 1}
            for day, hours, count in [(yesterday, 20, old), (today, 1, 3)] for number in range(count)])
        connection.execute(sa.insert(DayViewer), [
            {"day": day, "viewer": number.to_bytes(16, "big")}
            for day, count in [(yesterday, old), (today, 3)] for number in range(count)])
    transactions = Transactions(app)
    with app.app_context():
        assert viewers.purge_expired(clock, 3600) == 2 * old
    assert transactions.commits >= 2 * 2 + 1  # each table in two batches at least, then the keys
    assert rows(app, sa.select(RecentView.day, sa.func.count()).group_by(RecentView.day)) == [(today, 3)]
    assert rows(app, sa.select(DayViewer.day, sa.func.count()).group_by(DayViewer.day)) == [(today, 3)]
