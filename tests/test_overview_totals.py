"""The dashboard's totals read running sums, yet always equal what the video counters say."""

from datetime import datetime, timezone

import pytest

from analytics.services import stats_cache
from conftest import ADMIN_TOKEN, add_video, rows, run_sql

VIDEOS = ("intro", "outro", "extra")


def view(client, video_id, times=1):
    for _ in range(times):
        assert client.post(f"/api/analytics/view/{video_id}").status_code == 200


def by_the_counters(client) -> dict:
    """Each video's counts as its stats route gives them (the stamps rule applied), summed."""
    stats = [client.get(f"/api/analytics/stats/{video}").json["data"] for video in VIDEOS]
    return {key: sum(numbers[key] for numbers in stats) for key in ("viewsToday", "viewsMonth", "viewsTotal")}


def forget_cached_stats(app) -> None:
    with app.app_context():
        stats_cache.forget_all()


def totals(client) -> dict:
    data = client.get("/api/analytics/totals").json["data"]
    return {key: data[key] for key in ("viewsToday", "viewsMonth", "viewsTotal")}


@pytest.fixture
def site(make_app, backend_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url)
    for video in VIDEOS:
        add_video(app, video, video.title())
    return app


def test_totals_follow_counting_resets_stale_and_late_stamps(site):
    client, clock = site.test_client(), site.extensions["viewtally.clock"]
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    steps = [
        lambda: view(client, "intro", 3),
        lambda: view(client, "outro", 2),
        lambda: clock.set(datetime(2026, 3, 15, 9, tzinfo=timezone.utc)),  # a new day, no reset: stale days
        lambda: view(client, "extra", 4),
        lambda: client.post("/api/analytics/reset/daily", headers=admin),
        lambda: view(client, "intro"),
        lambda: clock.set(datetime(2026, 3, 31, 23, 57, tzinfo=timezone.utc)),  # before midnight, month-end
        lambda: run_sql(site, "UPDATE videos SET period_day = '2026-04-01', period_month = '2026-04-01',"
                              " views_today = 2, views_month = 2, views_total = views_total + 2 WHERE id = 'outro'")
        or forget_cached_stats(site),  # written behind the service's back
        lambda: clock.set(datetime(2026, 4, 1, 0, 1, tzinfo=timezone.utc)),  # the late stamps are today's now
        lambda: view(client, "extra"),
        lambda: client.post("/api/analytics/reset/monthly", headers=admin),
        lambda: view(client, "outro", 2),
    ]
    for number, step in enumerate(steps):
        step()
        assert totals(client) == by_the_counters(client), f"after step {number}"


def test_the_running_sums_of_an_earlier_database_are_made_from_its_videos(make_app):
    app = make_app()
    add_video(app, "intro")
    view(app.test_client(), "intro", 5)
    run_sql(app, "DROP TABLE counter_totals")  # as the previous release left it: no sums, no triggers
    for trigger in ("insert", "delete", "count", "restamp"):
        run_sql(app, f"DROP TRIGGER videos_totals_{trigger}")
    upgraded = make_app()
    assert totals(upgraded.test_client()) == {"viewsToday": 5, "viewsMonth": 5, "viewsTotal": 5}
    assert rows(upgraded, "SELECT views_total FROM counter_totals") == [(5,)]


@pytest.mark.parametrize("now, yesterday_by_now", [
    (datetime(2026, 3, 14, 10, 2, tzinfo=timezone.utc), 1),   # nearest bucket edge 10:00: the 09:58 view
    (datetime(2026, 3, 14, 10, 3, tzinfo=timezone.utc), 3),   # nearest edge 10:05: the 10:01 views too
    (datetime(2026, 3, 14, 23, 59, tzinfo=timezone.utc), 4),  # never past the end of yesterday
])
def test_yesterday_by_now_is_counted_to_the_nearest_five_minutes(app, client, clock, now, yesterday_by_now):
    add_video(app)
    for moment, times in [((9, 58), 1), ((10, 1), 2), ((23, 59, 30), 1)]:
        clock.set(datetime(2026, 3, 13, *moment, tzinfo=timezone.utc))
        view(client, "intro", times)
    clock.set(now)
    assert client.get("/api/analytics/totals").json["data"]["viewsYesterdayByNow"] == yesterday_by_now
