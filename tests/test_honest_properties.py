"""Property tests: any sequence of views, repeats, bots, prefetches, resets and clock moves keeps the books.

Each example starts from empty tables and plays its story through the API
(the Flask test client, a real SQLite file, the clock the app asks). A
model that knows only the rule, "one counted view per viewer and video per
window", predicts which views count; the stored numbers must agree with it
and with each other.
"""

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.extensions import cache, db
from analytics.services import viewers
from conftest import BROWSER_UA, add_video, rows

VIDEOS = ("a", "b")
ADDRESSES = ("203.0.113.1", "203.0.113.2", "2001:db8::7")
AGENTS = (BROWSER_UA, BROWSER_UA.replace("Chrome/131", "Chrome/130"))
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
START = datetime(2026, 3, 27, 20, 0, tzinfo=timezone.utc)  # days before Berlin's spring-forward and month-end

view_action = st.tuples(
    st.just("view"),
    st.sampled_from(VIDEOS),
    st.sampled_from(["plain", "plain", "plain", "session", "bot", "prefetch", "pixel"]),
    st.integers(0, len(ADDRESSES) - 1),
    st.integers(0, len(AGENTS) - 1),
    st.sampled_from(["s-1", "s-2"]),
)
wait_action = st.tuples(st.just("wait"), st.sampled_from([1, 59, 61, 1799, 3599, 3601, 7200, 43200, 86400]))
# Another worker whose clock is a little behind: a late view near midnight.
back_action = st.tuples(st.just("back"), st.integers(1, 3))
edge_action = st.tuples(st.just("edge"), st.sampled_from(["day", "month"]), st.integers(1, 120))
other_action = st.tuples(st.sampled_from(["reset daily", "reset monthly", "purge"]))
stories = st.lists(st.one_of(view_action, view_action, view_action, wait_action, edge_action, back_action,
                             other_action),
                   min_size=1, max_size=40)


@pytest.fixture
def app(make_app):
    return make_app(BOT_FILTER=True, TIMEZONE="Europe/Berlin")


def start_afresh(app, clock, window):
    with app.app_context():
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(sa.delete(table))
        cache.clear()
    app.extensions.pop(viewers._KEYS, None)
    app.config["DEDUP_WINDOW_SECONDS"] = window
    clock.set(START)
    for video_id in VIDEOS:
        add_video(app, video_id, video_id.upper())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(story=stories, window=st.sampled_from([0, 60, 3600, 86400]))
def test_any_story_keeps_the_books(app, admin, story, window):
    clock = app.extensions["viewtally.clock"]
    client = app.test_client()
    start_afresh(app, clock, window)
    last_counted: dict = {}
    requests = counted = 0
    for action in story:
        kind = action[0]
        if kind == "wait":
            clock.advance(seconds=action[1])
        elif kind == "back":
            clock.advance(seconds=-action[1])
        elif kind == "edge":
            edge = clock.next_day_start() if action[1] == "day" else clock.next_month_start()
            clock.set(edge - timedelta(seconds=action[2]))
        elif kind == "reset daily":
            assert client.post("/api/analytics/reset/daily", headers=admin).status_code == 200
        elif kind == "reset monthly":
            assert client.post("/api/analytics/reset/monthly", headers=admin).status_code == 200
        elif kind == "purge":
            with app.app_context():
                viewers.purge_expired(clock, window)
        else:
            _, video_id, how, address, agent, session = action
            requests += 1
            was_counted, expected = play_view(client, video_id, how, ADDRESSES[address], AGENTS[agent], session,
                                              clock.now(), window, last_counted)
            assert was_counted == expected, (action, story)
            counted += was_counted
        check_the_books(app, client, requests, counted)


def play_view(client, video_id, how, address, agent, session, now, window, last_counted):
    """Send one view; return (counted by the service, counted by the model)."""
    headers = {"User-Agent": BOT if how == "bot" else agent}
    if how == "prefetch":
        headers["Sec-Purpose"] = "prefetch"
    if how == "session":
        headers["X-Viewtally-Session"] = session
    if how == "pixel":
        response = client.get(f"/api/analytics/pixel/{video_id}.gif", headers=headers,
                              environ_base={"REMOTE_ADDR": address})
        assert (response.status_code, response.mimetype) == (200, "image/gif")
        was_counted = None  # read from the books below
    else:
        response = client.post(f"/api/analytics/view/{video_id}", headers=headers,
                               environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 200
        was_counted = response.json["data"]["counted"]
    viewer = ("session", session) if how == "session" else ("client", address, headers["User-Agent"])
    expected = False
    if how in ("plain", "session", "pixel"):
        last = last_counted.get((video_id, viewer))
        expected = last is None or window == 0 or now - last >= timedelta(seconds=window)
        if expected:
            last_counted[(video_id, viewer)] = now
    if was_counted is None:
        was_counted = expected  # the pixel says nothing; the totals check below catches a wrong count
    return was_counted, expected


def check_the_books(app, client, requests, counted):
    totals = client.get("/api/analytics/totals").json["data"]
    assert totals["viewsTotal"] == counted
    assert totals["uniqueViewersToday"] <= totals["viewsToday"] <= totals["viewsMonth"] <= totals["viewsTotal"]
    for video_id in VIDEOS:
        stats = client.get(f"/api/analytics/stats/{video_id}").json["data"]
        assert stats["viewsToday"] <= stats["viewsMonth"] <= stats["viewsTotal"]
        assert stats["uniqueViewersToday"] <= stats["viewsToday"]
    [(logs,)] = rows(app, "SELECT count(*) FROM video_view_logs")
    [(daily,)] = rows(app, "SELECT coalesce(sum(views), 0) FROM daily_views")
    assert logs == daily == counted
    for day, views, uniques in rows(app, "SELECT day, views, unique_viewers FROM daily_views"):
        assert 0 < uniques <= views, day
    site = dict(rows(app, "SELECT day, sum(views) FROM daily_views GROUP BY day"))
    [(filtered,)] = rows(app, "SELECT coalesce(sum(duplicate + bot + prefetch + excluded), 0) FROM daily_summary")
    assert filtered + counted == requests
    for day, uniques in rows(app, "SELECT day, unique_viewers FROM daily_summary"):
        assert uniques <= site.get(day, 0), day
