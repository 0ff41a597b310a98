"""Honest counts through the API: one view per viewer per window, filtered requests, unique viewers."""

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from analytics.config import ConfigError
from analytics.extensions import db
from conftest import BROWSER_UA, add_video, rows, run_sql

OTHER_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
VIEW = "/api/analytics/view/intro"


@pytest.fixture
def app(make_app, backend_url):
    """The filters as shipped: a one-hour window, bots filtered."""
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url, DEDUP_WINDOW_SECONDS=3600, BOT_FILTER=True)
    add_video(app)
    return app


def view(client, address="203.0.113.5", agent=BROWSER_UA, path=VIEW, **kwargs):
    """POST a view from `address` with `agent` as the User-Agent (None: no such header at all)."""
    headers = kwargs.pop("headers", {})
    if agent is None:
        client.environ_base.pop("HTTP_USER_AGENT", None)  # the test client's own "Werkzeug/…"
    else:
        headers = {"User-Agent": agent, **headers}
    return client.post(path, headers=headers, environ_base={"REMOTE_ADDR": address}, **kwargs)


def stored(app):
    """Counters, log rows, daily views and daily unique viewers of the video."""
    [(total, today, uniques)] = rows(app, "SELECT views_total, views_today, uniques_today FROM videos")
    [(logs,)] = rows(app, "SELECT count(*) FROM video_view_logs")
    [(daily, daily_uniques)] = rows(app, "SELECT coalesce(sum(views), 0), coalesce(sum(unique_viewers), 0) "
                                         "FROM daily_views") or [(0, 0)]
    return {"total": total, "today": today, "uniques": uniques, "logs": logs, "daily": daily,
            "daily_uniques": daily_uniques}


def filtered(client):
    return client.get("/api/analytics/totals").json["data"]["filteredToday"]


def test_a_reload_within_the_window_counts_once_and_changes_nothing(app, client, clock):
    first = view(client)
    assert first.json["data"]["counted"] is True
    before = stored(app)
    clock.advance(minutes=59)
    again = view(client)
    assert again.status_code == 200
    data = again.json["data"]
    assert (data["counted"], data["reason"]) == (False, "duplicate")
    assert (data["viewsToday"], data["viewsTotal"], data["uniqueViewersToday"]) == (1, 1, 1)
    assert stored(app) == before == {"total": 1, "today": 1, "uniques": 1, "logs": 1, "daily": 1, "daily_uniques": 1}
    assert filtered(client)["duplicate"] == 1


def test_a_viewer_back_after_the_window_adds_a_view_not_a_unique_viewer(app, client, clock):
    view(client)
    clock.advance(minutes=61)
    assert view(client).json["data"]["counted"] is True
    assert stored(app) == {"total": 2, "today": 2, "uniques": 1, "logs": 2, "daily": 2, "daily_uniques": 1}
    series = client.get("/api/analytics/stats/intro/daily?days=1").json["data"]
    assert series == [{"date": "2026-03-14", "views": 2, "uniqueViewers": 1, "watchSeconds": 0.0, "completions": 0}]


def test_the_window_is_measured_from_the_last_counted_view(app, client, clock):
    view(client)
    for _ in range(3):  # repeats do not stretch the window
        clock.advance(minutes=19)
        assert view(client).json["data"]["reason"] == "duplicate"
    clock.advance(minutes=3)  # one hour after the counted view: the window has passed
    assert view(client).json["data"]["counted"] is True


@pytest.mark.parametrize("first, second", [
    (("203.0.113.5", BROWSER_UA), ("203.0.113.6", BROWSER_UA)),
    (("203.0.113.5", BROWSER_UA), ("203.0.113.5", OTHER_UA)),
    (("2001:db8::1", BROWSER_UA), ("2001:db8::2", BROWSER_UA)),
])
def test_another_address_or_browser_is_another_viewer(app, client, first, second):
    assert view(client, *first).json["data"]["counted"] is True
    assert view(client, *second).json["data"]["counted"] is True
    assert stored(app)["uniques"] == 2


def test_a_session_id_takes_precedence_over_address_and_browser(app, client):
    session = {"X-Viewtally-Session": "user-42"}
    assert view(client, "203.0.113.5", BROWSER_UA, headers=session).json["data"]["counted"] is True
    moved = view(client, "198.51.100.9", OTHER_UA, headers=session)
    assert moved.json["data"]["reason"] == "duplicate"
    # two people behind one address and browser, told apart by the site
    assert view(client, "203.0.113.5", BROWSER_UA, headers={"X-Viewtally-Session": "user-43"}).json["data"]["counted"]
    assert stored(app)["uniques"] == 2


@pytest.mark.parametrize("body", [
    {"json": {"session": "user-7"}},
    {"data": {"session": "user-7"}},  # a form body, as track.js sends it with sendBeacon
    {"data": "session=user-7", "content_type": "application/x-www-form-urlencoded;charset=UTF-8"},
])
def test_a_session_id_can_come_in_the_body(app, client, body):
    assert view(client, "203.0.113.5", **body).json["data"]["counted"] is True
    assert view(client, "203.0.113.77", OTHER_UA, **body).json["data"]["reason"] == "duplicate"


@pytest.mark.parametrize("request_kwargs, code", [
    ({"headers": {"X-Viewtally-Session": ""}}, "invalid_session"),
    ({"headers": {"X-Viewtally-Session": "x" * 129}}, "invalid_session"),
    ({"headers": {"X-Viewtally-Session": "a\tb"}}, "invalid_session"),
    ({"json": {"session": ""}}, "invalid_session"),
    ({"json": {"session": 42}}, "invalid_session"),
    ({"json": {"session": ["a"]}}, "invalid_session"),
    ({"json": {"session": "line\nbreak"}}, "invalid_session"),
    ({"data": {"session": "x" * 129}}, "invalid_session"),
    ({"data": "{not json", "content_type": "application/json"}, "invalid_json"),
    ({"data": "[1, 2]", "content_type": "application/json"}, "invalid_json"),
    ({"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"}, "invalid_json"),
])
def test_a_malformed_session_or_body_is_a_400_and_counts_nothing(app, client, request_kwargs, code):
    response = view(client, **request_kwargs)
    assert (response.status_code, response.json["code"]) == (400, code)
    assert stored(app)["total"] == 0


def test_a_session_of_128_printable_characters_and_an_empty_json_body_are_fine(app, client):
    assert view(client, headers={"X-Viewtally-Session": "é" + "x" * 127}).json["data"]["counted"] is True
    assert view(client, "203.0.113.99", data="", content_type="application/json").json["data"]["counted"] is True


@pytest.mark.parametrize("header, value", [
    ("Sec-Purpose", "prefetch"),
    ("Sec-Purpose", "prefetch;prerender"),
    ("Purpose", "prefetch"),
    ("X-Moz", "prefetch"),
    ("X-Purpose", "preview"),
])
def test_a_prefetch_is_not_a_view(app, client, header, value):
    response = view(client, headers={header: value})
    assert (response.status_code, response.json["data"]["counted"], response.json["data"]["reason"]) == (
        200, False, "prefetch")
    assert stored(app)["total"] == 0
    assert filtered(client)["prefetch"] == 1
    assert view(client).json["data"]["counted"] is True  # the real view that follows still counts


@pytest.mark.parametrize("agent", [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
    "python-requests/2.32.3",
    "curl/8.5.0",
    "",
    None,
])
def test_bots_and_requests_without_a_user_agent_are_not_counted(app, client, agent):
    response = view(client, agent=agent)
    assert (response.json["data"]["counted"], response.json["data"]["reason"]) == (False, "bot")
    assert stored(app) == {"total": 0, "today": 0, "uniques": 0, "logs": 0, "daily": 0, "daily_uniques": 0}
    assert filtered(client)["bot"] == 1


def test_the_bot_filter_can_be_turned_off_and_native_players_allowed(make_app):
    native = "ExoPlayerLib/2.19.1 okhttp/4.12.0"
    app = make_app(BOT_FILTER=True, BOT_FILTER_ALLOW="ExoPlayerLib, MyApp/")
    add_video(app)
    assert view(app.test_client(), agent=native).json["data"]["counted"] is True
    off = make_app(BOT_FILTER=False, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"])
    assert view(off.test_client(), "203.0.113.8", agent="curl/8.5.0").json["data"]["counted"] is True


@pytest.mark.parametrize("ignored, address, excluded", [
    ("203.0.113.5", "203.0.113.5", True),
    ("203.0.113.0/24", "203.0.113.200", True),
    ("10.0.0.0/8, 203.0.113.0/28", "203.0.113.15", True),
    ("203.0.113.0/28", "203.0.113.16", False),
    ("2001:db8::/32", "2001:db8::5", True),
    ("203.0.113.5", "::ffff:203.0.113.5", True),
])
def test_the_owners_own_addresses_are_excluded(make_app, ignored, address, excluded):
    app = make_app(IGNORE_IPS=ignored, DEDUP_WINDOW_SECONDS=3600)
    add_video(app)
    client = app.test_client()
    data = view(client, address).json["data"]
    assert data["counted"] is not excluded
    assert data.get("reason") == ("excluded" if excluded else None)
    assert filtered(client)["excluded"] == int(excluded)


@pytest.mark.parametrize("setting, value, message", [
    ("DEDUP_WINDOW_SECONDS", 86401, "DEDUP_WINDOW_SECONDS must be at most 86400"),
    ("DEDUP_WINDOW_SECONDS", -1, "DEDUP_WINDOW_SECONDS must be a whole number"),
    ("IGNORE_IPS", "203.0.113.5, nonsense", "IGNORE_IPS"),
    ("IGNORE_IPS", {}, "IGNORE_IPS must be text"),
    ("BOT_FILTER_ALLOW", 7, "BOT_FILTER_ALLOW must be text"),
    ("BOT_FILTER_ALLOW", ["okhttp", 7], "BOT_FILTER_ALLOW must be text"),
    ("BOT_FILTER", "maybe", "BOT_FILTER must be true or false"),
])
def test_bad_filter_settings_stop_the_app_naming_the_key(make_app, setting, value, message):
    with pytest.raises(ConfigError, match=message):
        make_app(**{setting: value})


@pytest.mark.parametrize("forged", [
    {"X-Forwarded-For": "198.51.100.1"},
    {"X-Real-IP": "198.51.100.2"},
    {"Forwarded": "for=198.51.100.3"},
    {"X-Forwarded-For": "198.51.100.4, 198.51.100.5", "X-Real-IP": "198.51.100.6", "Forwarded": "for=1.2.3.4"},
])
def test_forged_forwarding_headers_gain_nothing_without_a_trusted_proxy(app, client, forged):
    view(client)
    response = view(client, headers=forged)
    assert response.json["data"]["reason"] == "duplicate"
    assert stored(app)["total"] == 1


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_viewer(make_app):
    app = make_app(TRUSTED_PROXIES=1, DEDUP_WINDOW_SECONDS=3600)
    add_video(app)
    client = app.test_client()
    proxy = "10.0.0.2"
    assert view(client, proxy, headers={"X-Forwarded-For": "198.51.100.1"}).json["data"]["counted"] is True
    assert view(client, proxy, headers={"X-Forwarded-For": "198.51.100.2"}).json["data"]["counted"] is True
    # a client-written hop before the proxy's own is ignored: still 198.51.100.2
    again = view(client, proxy, headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.2"})
    assert again.json["data"]["reason"] == "duplicate"


def test_the_pixel_answers_its_gif_counted_or_not(app, client):
    pixel = "/api/analytics/pixel/intro.gif"
    first = client.get(pixel, headers={"User-Agent": BROWSER_UA})
    again = client.get(pixel, headers={"User-Agent": BROWSER_UA})
    bot = client.get(pixel, headers={"User-Agent": "Mozilla/5.0 (compatible; bingbot/2.0)"})
    for response in (first, again, bot):
        assert (response.status_code, response.mimetype) == (200, "image/gif")
    assert stored(app)["total"] == 1
    assert filtered(client) == {"duplicate": 1, "bot": 1, "prefetch": 0, "excluded": 0, "origin": 0}


def test_the_window_reaches_across_midnight(app, client, clock):
    clock.set(datetime(2026, 3, 14, 23, 50, tzinfo=timezone.utc))
    view(client)
    clock.set(datetime(2026, 3, 15, 0, 10, tzinfo=timezone.utc))
    assert view(client).json["data"]["reason"] == "duplicate"
    clock.set(datetime(2026, 3, 15, 0, 51, tzinfo=timezone.utc))
    data = view(client).json["data"]
    assert (data["counted"], data["viewsToday"], data["uniqueViewersToday"], data["viewsTotal"]) == (True, 1, 1, 2)
    series = client.get("/api/analytics/stats/intro/daily?days=2").json["data"]
    assert [(day["views"], day["uniqueViewers"]) for day in series] == [(1, 1), (1, 1)]


def test_a_window_of_zero_counts_every_view_and_still_counts_viewers(make_app):
    app = make_app(DEDUP_WINDOW_SECONDS=0)
    add_video(app)
    client = app.test_client()
    for _ in range(3):
        assert view(client).json["data"]["counted"] is True
    assert stored(app) == {"total": 3, "today": 3, "uniques": 1, "logs": 3, "daily": 3, "daily_uniques": 1}


def test_unique_viewers_across_videos_count_each_person_once(app, client):
    add_video(app, "other", "Other")
    for address in ("203.0.113.1", "203.0.113.2"):
        view(client, address)
        view(client, address, path="/api/analytics/view/other")
    totals = client.get("/api/analytics/totals").json["data"]
    assert (totals["viewsToday"], totals["uniqueViewersToday"]) == (4, 2)
    assert client.get("/api/analytics/stats/other").json["data"]["uniqueViewersToday"] == 2


@pytest.mark.parametrize("period", ["daily", "monthly"])
def test_a_reset_zeroes_todays_unique_viewers_with_todays_views(app, client, admin, clock, period):
    view(client)
    client.post(f"/api/analytics/reset/{period}", headers=admin)
    data = client.get("/api/analytics/stats/intro").json["data"]
    assert (data["viewsToday"], data["uniqueViewersToday"], data["viewsTotal"]) == (0, 0, 1)
    totals = client.get("/api/analytics/totals").json["data"]
    assert (totals["viewsToday"], totals["uniqueViewersToday"]) == (0, 0)
    clock.advance(minutes=61)  # the same viewer, back after the window: a view, not a new viewer
    view(client)
    view(client, "203.0.113.200")  # someone new
    totals = client.get("/api/analytics/totals").json["data"]
    assert (totals["viewsToday"], totals["uniqueViewersToday"]) == (2, 1)


def test_hashes_name_nobody_change_every_day_and_are_purged_with_their_key(app, client, clock):
    from analytics.services import viewers

    address, agent = "203.0.113.5", BROWSER_UA
    view(client, address, agent)
    clock.advance(days=1)
    view(client, address, agent)
    hashes = rows(app, "SELECT day, viewer FROM recent_views ORDER BY day")
    assert len(hashes) == 2 and hashes[0][1] != hashes[1][1]  # no link from one day to the next
    assert all(len(stored_hash) == 16 for _, stored_hash in hashes)
    assert len(rows(app, "SELECT day FROM viewer_keys")) == 2
    clock.advance(hours=1)  # yesterday's window has passed
    with app.app_context():
        assert viewers.purge_expired(clock, 3600) >= 3
    today = [str(clock.today())]
    assert [str(day) for day, _ in rows(app, "SELECT day, viewer FROM recent_views")] == today
    assert [str(day) for (day,) in rows(app, "SELECT day FROM viewer_keys")] == today
    assert [str(day) for (day,) in rows(app, "SELECT day FROM day_viewers")] == today


def test_the_first_hours_views_after_a_day_without_views_look_for_its_key_once(app, client, clock):
    """Yesterday had no views, so it has no key: each view of the first hour needs it, but asks once."""
    clock.set(datetime(2026, 3, 15, 0, 10, tzinfo=timezone.utc))
    with app.app_context():
        engine = db.engine
    reads = []

    def note(_connection, _cursor, statement, *_):
        if "viewer_keys" in statement and statement.lstrip().upper().startswith("SELECT"):
            reads.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        for n in range(20):
            assert view(client, address=f"203.0.113.{n + 1}").json["data"]["counted"]
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    # Today's key, created by the first view, and yesterday's, found missing (again at most once a second).
    assert 2 <= len(reads) <= 4, reads


def test_a_purge_keeps_what_the_window_still_needs(app, client, clock):
    from analytics.services import viewers

    clock.set(datetime(2026, 3, 14, 23, 50, tzinfo=timezone.utc))
    view(client)
    clock.set(datetime(2026, 3, 15, 0, 30, tzinfo=timezone.utc))
    with app.app_context():
        viewers.purge_expired(clock, 3600)
    assert len(rows(app, "SELECT day FROM viewer_keys")) == 1
    assert view(client).json["data"]["reason"] == "duplicate"  # yesterday's row and key were kept


def test_no_address_or_user_agent_is_stored(app, client):
    agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0 UniqueMarker/7"
    view(client, "203.0.113.123", agent)
    view(client, "203.0.113.123", agent)
    view(client, "203.0.113.124", agent, headers={"Sec-Purpose": "prefetch"})
    with app.app_context():
        tables = sa.inspect(db.engine).get_table_names()
    assert "recent_views" in tables and "day_viewers" in tables
    for table in tables:
        for row in rows(app, f"SELECT * FROM {table}"):
            text = repr(row)
            assert "203.0.113.12" not in text and "UniqueMarker" not in text, table
            assert not any(isinstance(value, bytes) and bytes([203, 0, 113]) in value for value in row), table


def test_a_database_from_an_earlier_release_gains_the_new_columns(make_app, instance):
    url = f"sqlite:///{instance}/old.db"
    old = make_app(SQLALCHEMY_DATABASE_URI=url)
    add_video(old)
    run_sql(old, "ALTER TABLE videos DROP COLUMN uniques_today")
    run_sql(old, "ALTER TABLE daily_views DROP COLUMN unique_viewers")
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    client = app.test_client()
    assert view(client).json["data"]["uniqueViewersToday"] == 1
    assert stored(app)["daily_uniques"] == 1


def test_yesterdays_window_ends_with_yesterday_when_the_window_is_short(make_app):
    app = make_app(DEDUP_WINDOW_SECONDS=60)
    add_video(app)
    clock = app.extensions["viewtally.clock"]
    client = app.test_client()
    clock.set(datetime(2026, 3, 14, 23, 59, 30, tzinfo=timezone.utc))
    view(client)
    clock.set(clock.now() + timedelta(seconds=45))  # 00:00:15, within the minute
    assert view(client).json["data"]["reason"] == "duplicate"
    clock.set(clock.now() + timedelta(seconds=20))
    assert view(client).json["data"]["counted"] is True


def test_a_late_view_after_the_viewers_first_view_of_the_next_day_is_a_repeat(app, client, clock):
    """A view from 23:59:59 that commits after the same viewer's view from 00:00:01 counts once."""
    clock.set(datetime(2026, 3, 15, 0, 0, 1, tzinfo=timezone.utc))
    assert view(client).json["data"]["counted"] is True
    clock.set(datetime(2026, 3, 14, 23, 59, 59, tzinfo=timezone.utc))  # another worker, a clock behind
    assert view(client).json["data"]["reason"] == "duplicate"
    assert stored(app)["total"] == 1


def test_a_full_day_window_reaches_back_two_days_across_a_23_hour_day(make_app):
    app = make_app(TIMEZONE="Europe/Berlin", DEDUP_WINDOW_SECONDS=86400)
    add_video(app)
    clock, client = app.extensions["viewtally.clock"], app.test_client()
    clock.set(datetime(2026, 3, 28, 22, 45, tzinfo=timezone.utc))  # 23:45 on the 28th in Berlin
    assert view(client).json["data"]["counted"] is True
    clock.advance(hours=23, minutes=45)  # 00:30 on the 30th: the 29th had 23 hours
    assert view(client).json["data"]["reason"] == "duplicate"
    clock.advance(minutes=16)
    assert view(client).json["data"]["counted"] is True


def test_the_dashboard_shows_unique_viewers_and_what_was_filtered_today(app, client):
    from test_dashboard import text_of

    view(client)
    view(client)  # a repeat
    view(client, "203.0.113.6", agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    page = text_of(client.get("/dashboard"))
    assert "Unique viewers today 1" in page
    assert "Filtered today, not counted: bots 1 , repeats 1 , prefetches 0 , excluded 0 , other sites 0 ." in page  # tags read as blanks
    assert "Unique viewers today 1" in text_of(client.get("/dashboard/videos/intro"))


def test_a_json_body_of_a_json_subtype_is_read_too(app, client):
    response = view(client, data='{"session": ""}', content_type="application/vnd.api+json")
    assert (response.status_code, response.json["code"]) == (400, "invalid_session")


def test_a_json_body_sent_as_text_plain_is_read_as_json(app, client):
    """fetch(url, {method: "POST", body: JSON.stringify(...)}) sends text/plain, sparing the preflight."""
    body = {"data": '{"session": "member-5"}', "content_type": "text/plain;charset=UTF-8"}
    assert view(client, "203.0.113.1", **body).json["data"]["counted"] is True
    assert view(client, "203.0.113.2", OTHER_UA, **body).json["data"]["reason"] == "duplicate"
    typo = view(client, data='{"sesion": "x"}', content_type="text/plain")
    assert (typo.status_code, typo.json["code"]) == (400, "unknown_field")
    prose = view(client, data="hello", content_type="text/plain")
    assert (prose.status_code, prose.json["code"]) == (400, "invalid_json")
