"""Counting views through the service, on SQLite and PostgreSQL, with a set clock."""

from datetime import date, datetime, timedelta, timezone

import pytest

from analytics.services import resets, videos, views
from analytics.services.errors import VideoNotFound
from conftest import add_video, rows, run_sql, viewer


@pytest.fixture
def app(make_app, backend_url):
    return make_app(SQLALCHEMY_DATABASE_URI=backend_url)


def track(app, video_id="intro"):
    with app.app_context():
        return views.track_view(video_id, app.extensions["viewtally.clock"], viewer()).counts


def stats(app, video_id="intro"):
    with app.app_context():
        return views.get_stats(video_id, app.extensions["viewtally.clock"])


def test_each_view_increments_all_three_counters_and_stores_log_and_daily_rows(app, clock):
    add_video(app)
    results = [track(app) for _ in range(3)]
    assert [(c.views_today, c.views_month, c.views_total) for c in results] == [(1, 1, 1), (2, 2, 2), (3, 3, 3)]
    assert rows(app, "SELECT views_today, views_month, views_total FROM videos") == [(3, 3, 3)]
    assert rows(app, "SELECT count(*) FROM video_view_logs WHERE video_id = 'intro'") == [(3,)]
    assert rows(app, "SELECT day, views FROM daily_views") in ([(date(2026, 3, 14), 3)], [("2026-03-14", 3)])


def test_log_rows_carry_the_clock_time_in_utc(app, clock):
    add_video(app)
    track(app)
    with app.app_context():
        from analytics.extensions import db
        from analytics.models import VideoViewLog
        import sqlalchemy as sa

        logged = db.session.scalar(sa.select(VideoViewLog.viewed_at))
    assert logged == clock.now()
    assert logged.tzinfo is not None


def test_unknown_video_stores_nothing(app):
    add_video(app)
    with pytest.raises(VideoNotFound):
        track(app, "missing")
    assert rows(app, "SELECT count(*) FROM video_view_logs") == [(0,)]
    assert rows(app, "SELECT count(*) FROM daily_views") == [(0,)]
    assert rows(app, "SELECT views_total FROM videos") == [(0,)]


def test_midnight_without_a_reset_starts_today_again(app, clock):
    add_video(app)
    track(app)
    track(app)
    clock.set(datetime(2026, 3, 15, 0, 0, 1, tzinfo=timezone.utc))
    before = stats(app)
    assert (before.views_today, before.views_month, before.views_total) == (0, 2, 2)
    after = track(app)
    assert (after.views_today, after.views_month, after.views_total) == (1, 3, 3)


def test_month_end_without_a_reset_starts_the_month_again(app, clock):
    clock.set(datetime(2026, 3, 31, 23, 59, 59, tzinfo=timezone.utc))
    add_video(app)
    track(app)
    clock.advance(seconds=2)
    assert (stats(app).views_today, stats(app).views_month) == (0, 0)
    counts = track(app)
    assert (counts.views_today, counts.views_month, counts.views_total) == (1, 1, 2)


def test_a_server_down_for_days_never_shows_old_views_as_today(app, clock):
    add_video(app)
    for _ in range(5):
        track(app)
    clock.advance(days=40)
    counts = stats(app)
    assert (counts.views_today, counts.views_month, counts.views_total) == (0, 0, 5)


def test_a_late_view_from_before_midnight_does_not_restart_today(app, clock):
    """A view stamped 23:59:59 that commits after one from 00:00:01 belongs to yesterday."""
    add_video(app)
    clock.set(datetime(2026, 3, 15, 0, 0, 1, tzinfo=timezone.utc))
    track(app)
    clock.set(datetime(2026, 3, 14, 23, 59, 59, tzinfo=timezone.utc))
    late = track(app)
    clock.set(datetime(2026, 3, 15, 0, 0, 2, tzinfo=timezone.utc))
    assert (late.views_today, late.views_total) == (1, 2)
    counts = track(app)
    assert (counts.views_today, counts.views_month, counts.views_total) == (2, 3, 3)
    with app.app_context():
        series = views.daily_views("intro", 2, clock)
    assert [(day.date, day.views) for day in series] == [(date(2026, 3, 14), 1), (date(2026, 3, 15), 2)]


@pytest.mark.parametrize("days_fast, month_of_the_fast_view", [(1, 1), (40, 0)])
def test_a_clock_that_ran_ahead_and_was_set_right_never_freezes_the_counters(app, clock, days_fast,
                                                                             month_of_the_fast_view):
    """Views and a catch-up while the clock is fast, then the clock is corrected at 15:00."""
    add_video(app, "viewed")
    add_video(app, "reset")
    right = clock.now()
    clock.advance(days=days_fast)
    track(app, "viewed")
    with app.app_context():
        resets.reset_daily(clock, stale_only=True)
        resets.reset_monthly(clock, stale_only=True)
    clock.set(right)
    assert (stats(app, "viewed").views_today, stats(app, "viewed").views_month) == (0, month_of_the_fast_view)
    for video, month in (("viewed", 3 + month_of_the_fast_view), ("reset", 3)):
        counts = [track(app, video) for _ in range(3)][-1]
        assert (counts.views_today, counts.views_month) == (3, month)
        assert (stats(app, video).views_today, stats(app, video).views_month) == (3, month)
    assert rows(app, "SELECT views_total FROM videos ORDER BY id") == [(3,), (4,)]


def test_a_scheduled_reset_zeroes_a_counter_stamped_in_a_wrong_future(app, clock):
    add_video(app)
    right = clock.now()
    clock.advance(days=40)
    track(app)
    clock.set(right)
    with app.app_context():
        assert resets.reset_daily(clock, stale_only=True) == 1
        assert resets.reset_monthly(clock, stale_only=True) == 1
    assert rows(app, "SELECT views_today, views_month, views_total FROM videos") == [(0, 0, 1)]


def test_counters_after_a_reset_and_a_missed_reset_agree(app, clock):
    add_video(app, "a")
    add_video(app, "b")
    track(app, "a")
    track(app, "b")
    clock.advance(days=1)
    with app.app_context():
        assert resets.reset_daily(clock) == 2
    track(app, "a")
    assert stats(app, "a").views_today == 1
    assert stats(app, "b").views_today == 0


def test_daily_series_is_oldest_first_with_zero_days(app, clock):
    add_video(app)
    track(app)
    clock.advance(days=2)
    track(app)
    track(app)
    with app.app_context():
        series = views.daily_views("intro", 4, clock)
    assert [(day.date, day.views) for day in series] == [
        (date(2026, 3, 13), 0), (date(2026, 3, 14), 1), (date(2026, 3, 15), 0), (date(2026, 3, 16), 2),
    ]


@pytest.mark.parametrize(
    "zone, moment, day",
    [
        # 23:30 UTC on 31 March is already 1 April in Paris (UTC+2 in summer time).
        ("Europe/Paris", datetime(2026, 3, 31, 23, 30, tzinfo=timezone.utc), date(2026, 4, 1)),
        # 03:00 UTC on 1 April is still 31 March in New York.
        ("America/New_York", datetime(2026, 4, 1, 3, 0, tzinfo=timezone.utc), date(2026, 3, 31)),
        ("Asia/Kolkata", datetime(2026, 3, 14, 18, 29, tzinfo=timezone.utc), date(2026, 3, 14)),
        ("Asia/Kolkata", datetime(2026, 3, 14, 18, 30, tzinfo=timezone.utc), date(2026, 3, 15)),
    ],
)
def test_days_and_months_follow_the_configured_time_zone(make_app, backend_url, zone, moment, day):
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url, TIMEZONE=zone)
    clock = app.extensions["viewtally.clock"]
    clock.set(moment - timedelta(days=40))
    add_video(app)
    track(app)
    clock.set(moment)
    counts = track(app)
    assert (counts.views_today, counts.views_month, counts.views_total) == (1, 1, 2)
    assert rows(app, "SELECT period_day, period_month FROM videos")[0] in (
        (day, day.replace(day=1)), (day.isoformat(), day.replace(day=1).isoformat()),
    )


AFTERNOON = datetime(2026, 3, 14, 15, 0, tzinfo=timezone.utc)
NEAR_MIDNIGHT = datetime(2026, 3, 14, 23, 58, tzinfo=timezone.utc)
NEAR_MONTH_END = datetime(2026, 3, 31, 23, 58, tzinfo=timezone.utc)
STAMPS = [  # moment, (period_day, period_month), and the (today, month) they read as
    (AFTERNOON, "2026-03-14", "2026-03-01", (5, 7)),
    (AFTERNOON, "2026-03-13", "2026-03-01", (0, 7)),
    (AFTERNOON, "2026-02-28", "2026-02-01", (0, 0)),
    (AFTERNOON, "2026-03-15", "2026-03-01", (0, 7)),  # a next-day stamp hours before midnight: a wrong clock's
    (NEAR_MIDNIGHT, "2026-03-15", "2026-03-01", (5, 7)),  # ...minutes before midnight: a late view's
    (AFTERNOON, "2026-03-20", "2026-03-01", (0, 7)),
    (AFTERNOON, "2026-04-02", "2026-04-01", (0, 0)),
    (AFTERNOON, "2026-03-14", "2026-04-01", (5, 0)),
    (NEAR_MONTH_END, "2026-04-01", "2026-04-01", (5, 7)),
    (NEAR_MONTH_END, "2026-03-31", "2026-04-01", (5, 0)),
]


@pytest.mark.parametrize("moment, day, month, expected", STAMPS)
def test_stats_the_video_list_and_resets_read_every_stamp_alike(app, clock, moment, day, month, expected):
    """The Python rule (stats) and the SQL rule (list, sort, resets) agree on every kind of stamp."""
    add_video(app)
    run_sql(app, "UPDATE videos SET views_today = 5, views_month = 7, views_total = 9, "
                 "period_day = :day, period_month = :month", day=day, month=month)
    clock.set(moment)
    counts = stats(app)
    assert (counts.views_today, counts.views_month) == expected
    with app.app_context():
        [listed] = videos.list_videos(1, 100, "views_today", clock).items
        assert (listed["views_today"], listed["views_month"]) == expected
        resets.reset_daily(clock, stale_only=True)  # zeroes exactly what reads as 0
        resets.reset_monthly(clock, stale_only=True)
    assert rows(app, "SELECT views_today, views_month FROM videos") == [expected]


def test_a_manual_daily_reset_keeps_a_late_stamp_for_the_late_view(app, clock):
    """Month-end: a view at 00:00:00.001 on the 1st, a reset and a view on a clock 2 ms behind."""
    add_video(app)
    clock.set(datetime(2026, 4, 1, 0, 0, 0, 1000, tzinfo=timezone.utc))
    track(app)
    clock.set(datetime(2026, 3, 31, 23, 59, 59, 999000, tzinfo=timezone.utc))
    with app.app_context():
        resets.reset_daily(clock)
    track(app)  # the late view: its own day in daily_views, not April's counters
    clock.set(datetime(2026, 4, 1, 0, 0, 5, tzinfo=timezone.utc))
    counts = stats(app)
    assert (counts.views_today, counts.views_month, counts.views_total) == (0, 1, 2)
    assert track(app).views_month == 2
