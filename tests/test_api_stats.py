"""GET /api/analytics/stats/<id> and its daily series."""

from datetime import datetime, timezone

import pytest

from conftest import add_video, run_sql

NO_WATCH = {"watchSeconds": 0.0, "completions": 0}  # a day whose views reported no watch time


def test_stats_answer_the_three_counts(app, client):
    add_video(app)
    for _ in range(3):
        client.post("/api/analytics/view/intro")
    response = client.get("/api/analytics/stats/intro")
    assert response.status_code == 200
    assert response.json == {
        "success": True,
        # one client: three views (the dedup window is off in these tests), one viewer
        "data": {"videoId": "intro", "viewsToday": 3, "viewsMonth": 3, "viewsTotal": 3, "uniqueViewersToday": 1,
                 "watchSecondsToday": 0.0, "watchSecondsMonth": 0.0, "completionsToday": 0},
    }


def test_stats_of_an_unknown_or_malformed_video(client):
    assert client.get("/api/analytics/stats/nope").json["code"] == "video_not_found"
    assert client.get("/api/analytics/stats/nope").status_code == 404
    bad = client.get("/api/analytics/stats/no.pe")
    assert (bad.status_code, bad.json["code"]) == (400, "invalid_video_id")


def test_stats_are_cached_until_a_view_is_tracked(app, client):
    add_video(app)
    client.post("/api/analytics/view/intro")
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == 1
    # A change behind the service's back is not seen while the entry is cached...
    run_sql(app, "UPDATE videos SET views_total = 100")
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == 1
    # ...but a tracked view makes the next read go to the database.
    client.post("/api/analytics/view/intro")
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == 101


def test_zero_cache_seconds_reads_the_database_every_time(make_app):
    app = make_app(STATS_CACHE_SECONDS=0)
    client = app.test_client()
    add_video(app)
    client.get("/api/analytics/stats/intro")
    run_sql(app, "UPDATE videos SET views_total = 7")
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == 7


def test_cached_stats_still_turn_over_at_midnight(app, client, clock):
    add_video(app)
    client.post("/api/analytics/view/intro")
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsToday"] == 1
    clock.set(datetime(2026, 3, 15, 0, 0, 1, tzinfo=timezone.utc))
    assert client.get("/api/analytics/stats/intro").json["data"] == {
        "videoId": "intro", "viewsToday": 0, "viewsMonth": 1, "viewsTotal": 1, "uniqueViewersToday": 0,
        "watchSecondsToday": 0.0, "watchSecondsMonth": 0.0, "completionsToday": 0,
    }


def test_daily_series_defaults_to_30_days_oldest_first(app, client, clock):
    add_video(app)
    client.post("/api/analytics/view/intro")
    clock.advance(days=1)
    client.post("/api/analytics/view/intro")
    client.post("/api/analytics/view/intro")
    response = client.get("/api/analytics/stats/intro/daily")
    assert response.status_code == 200
    series = response.json["data"]
    assert len(series) == 30
    assert series[0] == {"date": "2026-02-14", "views": 0, "uniqueViewers": 0, **NO_WATCH}
    assert series[-2:] == [{"date": "2026-03-14", "views": 1, "uniqueViewers": 1, **NO_WATCH},
                           {"date": "2026-03-15", "views": 2, "uniqueViewers": 1, **NO_WATCH}]
    assert sum(day["views"] for day in series) == 3


@pytest.mark.parametrize("days", ["1", "7", "366"])
def test_daily_series_length_follows_days(app, client, days):
    add_video(app)
    response = client.get(f"/api/analytics/stats/intro/daily?days={days}")
    assert len(response.json["data"]) == int(days)
    assert response.json["data"][-1]["date"] == "2026-03-14"


@pytest.mark.parametrize("days", ["0", "367", "-1", "abc", "1.5", "", "7 ", "１"])
def test_daily_series_rejects_other_days(app, client, days):
    add_video(app)
    response = client.get("/api/analytics/stats/intro/daily", query_string={"days": days})
    assert response.status_code == 400
    assert response.json["success"] is False
    assert response.json["code"] == "invalid_days"


def test_daily_series_of_an_unknown_video_is_404(client):
    response = client.get("/api/analytics/stats/nope/daily")
    assert (response.status_code, response.json["code"]) == (404, "video_not_found")


def test_daily_series_dates_are_in_the_configured_time_zone(make_app):
    app = make_app(TIMEZONE="Asia/Tokyo")
    clock = app.extensions["viewtally.clock"]
    clock.set(datetime(2026, 3, 14, 16, 0, tzinfo=timezone.utc))  # 01:00 on the 15th in Tokyo
    add_video(app)
    client = app.test_client()
    client.post("/api/analytics/view/intro")
    series = client.get("/api/analytics/stats/intro/daily?days=2").json["data"]
    assert series == [{"date": "2026-03-14", "views": 0, "uniqueViewers": 0, **NO_WATCH},
                      {"date": "2026-03-15", "views": 1, "uniqueViewers": 1, **NO_WATCH}]
