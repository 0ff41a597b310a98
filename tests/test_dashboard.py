"""The dashboard pages, server-side: numbers, chart, table, video page, friendly errors."""

import gzip
import html
import re
from datetime import datetime, timezone

import pytest

from conftest import add_video, run_sql
from served import ROOT


def view(client, video_id="intro", times=1):
    for _ in range(times):
        assert client.post(f"/api/analytics/view/{video_id}").status_code == 200


def text_of(response) -> str:
    """The page's text without tags or extra blanks, for reading like a person."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def test_the_root_sends_visitors_to_the_dashboard(client):
    response = client.get("/")
    assert (response.status_code, response.headers["Location"]) == (302, "/dashboard")


def test_totals_compare_with_the_periods_before_at_the_same_point(app, client, clock):
    add_video(app, "a")
    add_video(app, "b")
    for moment, video_id, times in [
        (datetime(2026, 2, 10, 9, tzinfo=timezone.utc), "a", 4),   # last month, before the 14th noon
        (datetime(2026, 2, 20, 9, tzinfo=timezone.utc), "a", 5),   # last month, after
        (datetime(2026, 3, 13, 8, tzinfo=timezone.utc), "a", 2),   # yesterday morning
        (datetime(2026, 3, 13, 20, tzinfo=timezone.utc), "b", 3),  # yesterday evening
        (datetime(2026, 3, 14, 11, tzinfo=timezone.utc), "b", 5),  # this morning
    ]:
        clock.set(moment)
        view(client, video_id, times)
    clock.set(datetime(2026, 3, 14, 12, tzinfo=timezone.utc))
    page = text_of(client.get("/dashboard"))
    assert "Today 5 +3 vs yesterday by this time (2)" in page
    assert "This month 10 +6 vs last month by this day (4)" in page
    assert "All time 19" in page
    assert client.get("/api/analytics/totals").json["data"] == {
        "viewsToday": 5, "viewsMonth": 10, "viewsTotal": 19, "viewsYesterdayByNow": 2, "viewsLastMonthByNow": 4,
        "videos": 2, "uniqueViewersToday": 1,  # one client viewed both videos: one viewer today
        "filteredToday": {"bot": 0, "duplicate": 0, "excluded": 0, "prefetch": 0, "origin": 0},
        "watchSecondsToday": 0.0, "watchSecondsTotal": 0.0,
    }


def test_the_chart_has_a_bar_per_day_with_the_exact_number(app, client, clock):
    add_video(app)
    clock.set(datetime(2026, 3, 10, 12, tzinfo=timezone.utc))
    view(client, times=1234)
    clock.set(datetime(2026, 3, 14, 12, tzinfo=timezone.utc))
    view(client, times=1)
    html = client.get("/dashboard").get_data(as_text=True)
    bars = re.findall(r'data-date="([\d-]+)" data-views="(\d+)"><title>([^<]+)</title>', html)
    assert len(bars) == 30
    assert bars[0][0] == "2026-02-13" and bars[-1][0] == "2026-03-14"
    assert ("2026-03-10", "1234", "2026-03-10: 1,234 views") in bars
    assert ("2026-03-14", "1", "2026-03-14: 1 view") in bars
    assert sum(int(views) for _, views, _ in bars) == 1235


def test_the_chart_days_follow_the_time_zone(make_app):
    app = make_app(TIMEZONE="Asia/Tokyo")  # the clock's 2026-03-14 15:00 UTC is the 15th in Tokyo
    html = app.test_client().get("/dashboard").get_data(as_text=True)
    assert re.findall(r'data-date="([\d-]+)"', html)[-1] == "2026-03-15"
    assert "Asia/Tokyo" in html


def test_the_table_sorts_by_each_count(app, client, clock):
    for video_id, before, today in (("old-hit", 9, 0), ("steady", 3, 2), ("new", 0, 5)):
        add_video(app, video_id, video_id.title())
        clock.set(datetime(2026, 2, 20, tzinfo=timezone.utc))
        view(client, video_id, before)
        clock.set(datetime(2026, 3, 14, 12, tzinfo=timezone.utc))
        view(client, video_id, today)

    def order(sort):
        html = client.get(f"/dashboard?sort={sort}").get_data(as_text=True)
        return re.findall(r'<tr data-video-id="([^"]+)"', html)

    assert order("views_total") == ["old-hit", "new", "steady"]
    assert order("views_today") == ["new", "steady", "old-hit"]
    assert order("views_month") == ["new", "steady", "old-hit"]


def test_the_table_searches_titles_and_ids_in_any_case(app, client):
    add_video(app, "intro-2026", "Launch trailer")
    add_video(app, "behind", "Behind the scenes")
    add_video(app, "pct", "100% real")
    found = lambda q: re.findall(r'<tr data-video-id="([^"]+)"', client.get("/dashboard", query_string={"q": q}).get_data(as_text=True))  # noqa: E731
    assert found("TRAILER") == ["intro-2026"]
    assert found("intro") == ["intro-2026"]
    assert found("%") == ["pct"]  # a wildcard in the search is just a character
    assert found("_") == []
    assert "No video's title or id contains “zzz”" in text_of(client.get("/dashboard?q=zzz"))


def test_the_table_shows_fifty_videos_a_page(app, client):
    for number in range(51):
        add_video(app, f"v{number:02}", f"Video {number}")
    first = client.get("/dashboard?sort=created_at").get_data(as_text=True)
    second = client.get("/dashboard?sort=created_at&page=2").get_data(as_text=True)
    assert len(re.findall(r"<tr data-video-id=", first)) == 50
    assert len(re.findall(r"<tr data-video-id=", second)) == 1
    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert "Page 2 of 2" in second and 'rel="prev"' in second


def test_a_page_past_the_last_says_so_and_links_to_the_first(app, client):
    add_video(app)
    page = text_of(client.get("/dashboard?page=7&sort=views_today"))
    assert "There is no page 7: the videos fill 1 page. Go to the first page ." in page
    assert 'href="/dashboard?sort=views_today"' in client.get("/dashboard?page=7&sort=views_today").get_data(as_text=True)


def test_numbers_have_thousands_separators(app, client):
    add_video(app)
    run_sql(app, "UPDATE videos SET views_total = 1234567")
    assert "1,234,567" in text_of(client.get("/dashboard"))
    assert "1,234,567" in text_of(client.get("/dashboard/videos/intro"))


def test_with_no_videos_the_dashboard_says_how_to_add_one(client):
    page = text_of(client.get("/dashboard"))
    assert "No videos yet" in page
    assert "flask --app app videos add" in page
    assert "<table" not in client.get("/dashboard").get_data(as_text=True)


def test_titles_are_escaped(app, client):
    add_video(app, "x", "<script>alert(1)</script>")
    for url in ("/dashboard", "/dashboard/videos/x"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_the_video_page_shows_numbers_chart_ranges_and_snippets(app, client, clock):
    add_video(app, "intro-2026", "Launch trailer")
    view(client, "intro-2026", 3)
    response = client.get("/dashboard/videos/intro-2026")
    page = text_of(response)
    assert response.status_code == 200
    assert "Launch trailer" in page and "Today 3 This month 3 All time 3" in page
    html = response.get_data(as_text=True)
    assert len(re.findall(r"<rect class=\"views\"", html)) == 30
    assert len(re.findall(r"<rect class=\"uniques\"", html)) == 30
    assert '&lt;script src=&#34;http://localhost/static/track.js&#34; defer&gt;&lt;/script&gt;' in html
    assert 'data-viewtally-id=&#34;intro-2026&#34;' in html
    assert "http://localhost/api/analytics/pixel/intro-2026.gif" in html
    for days in (7, 90, 365):
        html = client.get(f"/dashboard/videos/intro-2026?days={days}").get_data(as_text=True)
        assert len(re.findall(r"<rect class=\"views\"", html)) == days


@pytest.mark.parametrize("url, status", [
    ("/dashboard/videos/nope", 404),
    ("/dashboard/videos/no.pe", 400),
    ("/dashboard/videos/intro?days=8", 400),
    ("/dashboard?page=0", 400),
    ("/dashboard?sort=title", 400),
    ("/dashboard?q=" + "x" * 101, 400),
    ("/dashboard?q=a%00b", 400),
    ("/dashboard?q=%0a", 200),  # blanks around a search are trimmed
])
def test_bad_addresses_get_a_friendly_page(app, client, url, status):
    add_video(app)
    response = client.get(url)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert "<h1>" in response.get_data(as_text=True) and "Traceback" not in response.get_data(as_text=True)


def test_the_player_snippet_is_small_and_served_as_javascript(client):
    with client.get("/static/track.js") as response:  # a file response: close it
        assert response.status_code == 200
        assert response.mimetype == "text/javascript"
        assert len(response.data) < 2048 and len(gzip.compress(response.data)) < 2048  # as served, minified
        assert b"/* " not in response.data and b"sendBeacon" in response.data and b'"watch"' in response.data
        source = (ROOT / "static" / "track.js").read_bytes()
        assert len(source) > len(response.data)  # the file stays readable
        assert b"document.cookie" not in response.data and b"localStorage" not in response.data


def test_the_demo_plays_the_most_viewed_video(app, client):
    add_video(app, "quiet", "Quiet one")
    add_video(app, "popular", "Popular one")
    view(client, "popular", 2)
    html = client.get("/demo").get_data(as_text=True)
    assert 'data-viewtally-id="popular"' in html
    assert '<script src="/static/track.js" defer></script>' in html
    assert "Popular one" in text_of(client.get("/demo"))


def test_the_demo_without_videos_says_how_to_add_one(client):
    page = text_of(client.get("/demo"))
    assert "No videos yet" in page and "flask --app app videos add" in page
