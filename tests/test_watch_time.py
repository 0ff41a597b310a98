"""Watch reports: POST /api/analytics/watch, what they change per video and day, and what the answers show."""

from datetime import datetime, timezone

import pytest

from analytics.models import RETENTION_BUCKETS
from analytics.services import retention
from conftest import add_video, rows

VIEW = "0123456789abcdef0123456789abcdef"
OTHER_VIEW = "fedcba9876543210fedcba9876543210"


def count_view(client, view=VIEW, video="intro", **headers):
    response = client.post(f"/api/analytics/view/{video}", data={"view": view}, headers=headers)
    assert response.status_code == 200, response.json
    return response.json["data"]


def report(client, view=VIEW, video="intro", form=False, **values):
    body = {"view": view, "seconds": 60.0, "position": 60.0, "duration": 120.0, **values}
    if form:
        return client.post(f"/api/analytics/watch/{video}", data={k: str(v) for k, v in body.items()})
    return client.post(f"/api/analytics/watch/{video}", json=body)


def daily_watch(app, video="intro"):
    names = ", ".join(f"reached_{n}" for n in range(RETENTION_BUCKETS))
    return [(day, reports, ms, completions, list(curve)) for day, reports, ms, completions, *curve in rows(
        app, f"SELECT day, reports, watch_ms, completions, {names} FROM daily_watch WHERE video_id = '{video}'")]


def test_a_report_of_a_counted_view_adds_its_watch_time_completion_and_curve(app, client):
    add_video(app)
    count_view(client)
    answer = report(client, seconds=93.4, position=118.0, duration=120.0)
    assert answer.status_code == 200
    assert answer.json == {"success": True, "data": {"videoId": "intro", "counted": True,
                                                     "message": "Watch time recorded"}}
    [(day, reports, ms, completions, curve)] = daily_watch(app)
    assert (str(day), reports, ms, completions) == ("2026-03-14", 1, 93400, 1)
    assert curve == [1] * 20  # 118 of 120 s: past the start of every twentieth
    stats = client.get("/api/analytics/stats/intro").json["data"]
    assert (stats["watchSecondsToday"], stats["watchSecondsMonth"], stats["completionsToday"]) == (93.4, 93.4, 1)


def test_a_later_report_replaces_the_earlier_one(app, client):
    add_video(app)
    count_view(client)
    for seconds, position in ((10, 10), (30, 50), (30, 50)):  # hidden, hidden again, then left without playing
        assert report(client, seconds=seconds, position=position).json["data"]["counted"] is True
    [(_, reports, ms, completions, curve)] = daily_watch(app)
    assert (reports, ms, completions) == (1, 30000, 0)
    assert curve == [1] * 9 + [0] * 11  # 50 of 120 s reaches the start of the 9th twentieth (48 s), not the 10th


def test_a_report_never_lowers_an_earlier_one(app, client):
    """Beacons may arrive out of order: the older, smaller report changes nothing."""
    add_video(app)
    count_view(client)
    report(client, seconds=110, position=115)
    report(client, seconds=20, position=20)
    [(_, reports, ms, completions, curve)] = daily_watch(app)
    assert (reports, ms, completions, sum(curve)) == (1, 110000, 1, 20)


def test_two_views_add_up_and_the_stats_follow_each_report(app, client):
    add_video(app)
    count_view(client, VIEW)
    count_view(client, OTHER_VIEW)
    report(client, VIEW, seconds=12.5, position=12.5)
    assert client.get("/api/analytics/stats/intro").json["data"]["watchSecondsToday"] == 12.5  # cache forgotten
    report(client, OTHER_VIEW, seconds=120, position=120)
    stats = client.get("/api/analytics/stats/intro").json["data"]
    assert (stats["watchSecondsToday"], stats["completionsToday"]) == (132.5, 1)
    [(_, reports, ms, completions, curve)] = daily_watch(app)
    assert (reports, ms, completions) == (2, 132500, 1)
    assert curve == [2, 2, 2] + [1] * 17  # 12.5 s reaches the starts at 0, 6 and 12 s


@pytest.mark.parametrize("case", ["never sent", "other video", "not counted", "expired"])
def test_only_a_view_counted_in_the_last_24_hours_may_report(make_app, case):
    app = make_app(DEDUP_WINDOW_SECONDS=3600)
    client, clock = app.test_client(), app.extensions["viewtally.clock"]
    add_video(app)
    add_video(app, "other", "Other")
    ua = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0 Safari/537.36"}
    if case == "other video":
        count_view(client, video="other", **ua)
    elif case == "not counted":
        count_view(client, OTHER_VIEW, **ua)
        assert count_view(client, VIEW, **ua)["reason"] == "duplicate"  # a repeat never takes watch time
    elif case == "expired":
        count_view(client, **ua)
        clock.advance(hours=24, seconds=1)
    answer = report(client)
    assert answer.status_code == 200
    assert answer.json["data"] == {"videoId": "intro", "counted": False, "reason": "unknown_view",
                                   "message": "No view of this id was counted in the last 24 hours"}
    assert daily_watch(app) == []


def test_a_report_counts_on_the_day_its_view_counted(app, client, clock):
    add_video(app)
    clock.set(datetime(2026, 3, 31, 23, 59, tzinfo=timezone.utc))
    count_view(client)
    clock.set(datetime(2026, 4, 1, 0, 5, tzinfo=timezone.utc))
    report(client, seconds=100, position=100)
    [(day, *_)] = daily_watch(app)
    assert str(day) == "2026-03-31"
    stats = client.get("/api/analytics/stats/intro").json["data"]
    assert (stats["watchSecondsToday"], stats["watchSecondsMonth"]) == (0.0, 0.0)  # a new day and month
    series = client.get("/api/analytics/stats/intro/daily?days=2").json["data"]
    assert [(day["date"], day["watchSeconds"], day["completions"]) for day in series] == [
        ("2026-03-31", 100.0, 0), ("2026-04-01", 0.0, 0)]


def test_cached_stats_read_from_before_midnight_show_the_new_days_watch_time(app, client, clock):
    add_video(app)
    clock.set(datetime(2026, 3, 14, 23, 59, 50, tzinfo=timezone.utc))
    count_view(client)
    report(client, seconds=30, position=30)
    assert client.get("/api/analytics/stats/intro").json["data"]["watchSecondsToday"] == 30.0
    clock.set(datetime(2026, 3, 15, 0, 0, 5, tzinfo=timezone.utc))  # within the cache's life
    data = client.get("/api/analytics/stats/intro").json["data"]
    assert (data["watchSecondsToday"], data["watchSecondsMonth"]) == (0.0, 30.0)


def test_a_form_report_as_sendbeacon_sends_it(app, client):
    add_video(app)
    count_view(client)
    assert report(client, form=True, seconds=5.5, position=6.5, duration=7).json["data"]["counted"] is True
    assert daily_watch(app)[0][1:4] == (1, 5500, 1)


def test_the_site_sums_the_watch_time_of_every_video(app, client):
    add_video(app)
    add_video(app, "other", "Other")
    count_view(client, VIEW)
    count_view(client, OTHER_VIEW, video="other")
    report(client, VIEW, seconds=10)
    report(client, OTHER_VIEW, video="other", seconds=20)
    assert rows(app, "SELECT day, watch_ms FROM daily_summary")[0][1] == 30000


@pytest.mark.parametrize("body, code", [
    ({"seconds": -1}, "invalid_watch"),
    ({"seconds": 86401}, "invalid_watch"),
    ({"position": 121}, "invalid_watch"),
    ({"position": -0.5}, "invalid_watch"),
    ({"duration": 86400.5, "position": 1}, "invalid_watch"),
    ({"seconds": "ten"}, "invalid_watch"),
    ({"seconds": "10"}, "invalid_watch"),  # JSON sends numbers; only a form's fields are text
    ({"seconds": True}, "invalid_watch"),
    ({"seconds": None}, "invalid_watch"),
    ({"seconds": float("nan")}, "invalid_watch"),
    ({"view": "short"}, "invalid_view"),
    ({"view": "x" * 65}, "invalid_view"),
    ({"view": "has spaces in it, many"}, "invalid_view"),
    ({"extra": 1}, "unknown_field"),
])
def test_bad_values_are_400_and_change_nothing(app, client, body, code):
    add_video(app)
    count_view(client)
    answer = client.post("/api/analytics/watch/intro",
                         data=__import__("json").dumps({"view": VIEW, "seconds": 1, "position": 1, "duration": 120,
                                                        **body}), content_type="application/json")
    assert (answer.status_code, answer.json["code"]) == (400, code)
    assert daily_watch(app) == []


def test_a_missing_field_is_named(app, client):
    add_video(app)
    answer = client.post("/api/analytics/watch/intro", json={"view": VIEW, "seconds": 1})
    assert (answer.status_code, answer.json["code"]) == (400, "invalid_watch")
    assert "position, duration" in answer.json["error"]


def test_an_unknown_video_is_404(app, client):
    answer = report(client, video="nope")
    assert (answer.status_code, answer.json["code"]) == (404, "video_not_found")


def test_a_zero_duration_counts_watch_time_but_no_curve(app, client):
    """A player that never learnt the duration still played what it played."""
    add_video(app)
    count_view(client)
    report(client, seconds=3, position=0, duration=0)
    [(_, reports, ms, completions, curve)] = daily_watch(app)
    assert (reports, ms, completions, sum(curve)) == (1, 3000, 0, 0)


def test_the_hourly_purge_forgets_views_before_24_hours_and_keeps_the_sums(app, client, clock):
    add_video(app)
    count_view(client)
    report(client, seconds=40)
    clock.advance(hours=22, minutes=59)
    with app.app_context():
        retention.purge(clock)
    assert rows(app, "SELECT count(*) FROM watched_views") == [(1,)]
    clock.advance(minutes=1)  # from the 23rd hour: the next hourly purge would come past the 24th
    with app.app_context():
        retention.purge(clock)
    assert rows(app, "SELECT count(*) FROM watched_views") == [(0,)]
    assert daily_watch(app)[0][2] == 40000


def test_the_view_id_is_stored_only_as_a_hash(app, client):
    add_video(app)
    count_view(client)
    [(stored,)] = rows(app, "SELECT view FROM watched_views")
    assert len(bytes(stored)) == 16 and VIEW.encode() not in bytes(stored)


def test_reports_of_one_view_from_many_threads_count_once(app):
    """Concurrent reports of one view (hidden and left at once) replace each other, never add up."""
    from concurrent.futures import ThreadPoolExecutor

    add_video(app)
    count_view(app.test_client())

    def send(seconds):
        return report(app.test_client(), seconds=seconds, position=seconds).json["data"]["counted"]

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(send, [10 + n for n in range(40)]))
    [(_, reports, ms, _, _)] = daily_watch(app)
    assert (reports, ms) == (1, 49000)


def test_watch_reports_on_postgresql(make_app, postgres_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=postgres_url)
    client = app.test_client()
    add_video(app)
    count_view(client)
    report(client, seconds=10, position=10)
    report(client, seconds=100, position=110)
    [(_, reports, ms, completions, curve)] = daily_watch(app)
    assert (reports, ms, completions, sum(curve)) == (1, 100000, 1, 19)
    assert client.get("/api/analytics/stats/intro").json["data"]["watchSecondsMonth"] == 100.0


def test_a_view_cannot_report_more_than_it_could_have_played(app, client, clock):
    """At most 16 times the time since it counted (the fastest playback rate), and a minute."""
    add_video(app)
    count_view(client)
    clock.advance(seconds=30)
    report(client, seconds=86400, position=100, duration=120)
    assert daily_watch(app)[0][2] == (30 + 60) * 16 * 1000
    clock.advance(hours=1)
    report(client, seconds=5000, position=100, duration=120)  # later, the same claim is possible
    assert daily_watch(app)[0][2] == 5_000_000
