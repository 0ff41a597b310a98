"""Resets: by hand they zero everything; by schedule only what is stale."""

from datetime import datetime, timezone

import pytest

from analytics.services import resets, views
from conftest import add_video, rows, viewer


@pytest.fixture
def app(make_app, backend_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url)
    for video_id in ("a", "b", "c"):
        add_video(app, video_id)
    return app


def track(app, video_id, times=1):
    with app.app_context():
        for _ in range(times):
            views.track_view(video_id, app.extensions["viewtally.clock"], viewer())


def counters(app):
    return rows(app, "SELECT id, views_today, views_month, views_total FROM videos ORDER BY id")


def test_daily_reset_zeroes_today_for_every_video_and_keeps_the_rest(app, clock):
    track(app, "a", 2)
    track(app, "b")
    with app.app_context():
        assert resets.reset_daily(clock) == 3
    assert counters(app) == [("a", 0, 2, 2), ("b", 0, 1, 1), ("c", 0, 0, 0)]


def test_monthly_reset_zeroes_the_month_and_today_for_every_video_and_keeps_totals(app, clock):
    track(app, "a", 2)
    with app.app_context():
        assert resets.reset_monthly(clock) == 3
    assert counters(app) == [("a", 0, 0, 2), ("b", 0, 0, 0), ("c", 0, 0, 0)]


def test_resets_are_idempotent(app, clock):
    track(app, "a", 2)
    with app.app_context():
        resets.reset_daily(clock)
        resets.reset_monthly(clock)
        once = counters(app)
        resets.reset_daily(clock)
        resets.reset_monthly(clock)
    assert counters(app) == once


def test_a_stale_only_reset_never_wipes_a_view_counted_today(app, clock):
    track(app, "a", 3)
    clock.set(datetime(2026, 3, 15, 0, 0, 0, 500, tzinfo=timezone.utc))
    track(app, "b")  # counted in the first millisecond of the new day
    with app.app_context():
        assert resets.reset_daily(clock, stale_only=True) == 2  # a and c were stamped yesterday
        assert resets.reset_daily(clock, stale_only=True) == 0  # and nothing is left to do
    assert counters(app) == [("a", 0, 3, 3), ("b", 1, 1, 1), ("c", 0, 0, 0)]


def test_a_caught_up_monthly_reset_keeps_this_months_views(app, clock):
    track(app, "a", 3)
    clock.set(datetime(2026, 4, 2, 9, 0, tzinfo=timezone.utc))  # down over the 1st
    track(app, "b")
    with app.app_context():
        assert resets.reset_monthly(clock, stale_only=True) == 2
    assert counters(app) == [("a", 3, 0, 3), ("b", 1, 1, 1), ("c", 0, 0, 0)]
    # The raw daily counter of "a" is still March's 3 but it reads as 0 today.
    with app.app_context():
        assert views.get_stats("a", clock).views_today == 0


def test_a_reset_is_seen_by_cached_stats_at_once(app, clock):
    track(app, "a", 2)
    with app.app_context():
        assert views.get_stats("a", clock).views_today == 2  # now cached
        resets.reset_daily(clock)
        assert views.get_stats("a", clock).views_today == 0
