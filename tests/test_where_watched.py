"""Where a video is watched (origins per video and day, bounded), ALLOWED_EMBED_ORIGINS, and the video page."""

import pytest

from analytics.models import ORIGINS_KEPT
from analytics.services import retention
from conftest import add_video, rows
from test_dashboard import text_of
from test_watch_time import VIEW, count_view, report


def view_from(client, page=None, header="Origin", video="intro", **extra):
    headers = {header: page} if page else {}
    response = client.post(f"/api/analytics/view/{video}", headers={**headers, **extra})
    assert response.status_code == 200
    return response.json["data"]


def origins(app, video="intro"):
    return dict(rows(app, f"SELECT origin, views FROM daily_origins WHERE video_id = '{video}'"))


def test_a_view_records_the_scheme_and_host_of_its_page_never_the_path(app, client):
    add_video(app)
    view_from(client, "https://blog.example.com")
    view_from(client, "https://blog.example.com/2026/post?utm=mail#top", header="Referer")
    view_from(client, "http://Shop.Example.org:8080/watch/1", header="Referer")
    view_from(client, "https://blog.example.com:443/x", header="Referer")  # the scheme's own port is no port
    view_from(client)  # no page at all: direct
    view_from(client, "null")  # an opaque origin (a sandboxed frame, a file): unknown
    assert origins(app) == {"https://blog.example.com": 3, "http://shop.example.org:8080": 1}
    assert not any("/2026" in origin or "utm" in origin for origin in origins(app))


def test_the_origin_header_wins_over_the_referer(app, client):
    add_video(app)
    view_from(client, "https://a.example", Referer="https://b.example/page")
    assert origins(app) == {"https://a.example": 1}


def test_a_video_on_many_sites_keeps_a_bounded_number_of_rows_a_day(make_app, monkeypatch):
    """While the day runs, the first candidates get rows; once it is over, only the top sites keep theirs."""
    from analytics.services import view_batch

    monkeypatch.setattr(view_batch, "ORIGIN_CANDIDATES", 60)  # read when the statement is built: a fresh app
    monkeypatch.setattr(view_batch, "_ADD_TO_ORIGIN", view_batch.Prepared(view_batch._add_to_origin))
    app = make_app()
    client, clock = app.test_client(), app.extensions["viewtally.clock"]
    add_video(app)
    for n in range(90):  # site n sends n % 7 + 1 views
        for _ in range(n % 7 + 1):
            view_from(client, f"https://site{n}.example")
    today = origins(app)
    assert len(today) == 61 and sum(today.values()) == sum(n % 7 + 1 for n in range(90))
    assert today["other"] == sum(n % 7 + 1 for n in range(60, 90))  # first come while the day runs
    with app.app_context():
        retention.purge(clock)
    assert origins(app) == today  # today is not folded yet
    clock.advance(days=1)
    with app.app_context():
        assert retention.purge(clock) >= 10
    folded = origins(app)
    assert len(folded) == ORIGINS_KEPT + 1 and sum(folded.values()) == sum(today.values())  # every view somewhere
    kept = sorted(views for origin, views in folded.items() if origin != "other")
    assert kept[0] >= max(views for origin, views in today.items()
                          if origin not in folded and origin != "other")  # the top ones stayed
    with app.app_context():
        retention.purge(clock)
    assert origins(app) == folded  # folding again changes nothing


def test_uncounted_views_record_no_origin(make_app):
    app = make_app(DEDUP_WINDOW_SECONDS=3600)
    client = app.test_client()
    add_video(app)
    view_from(client, "https://a.example")
    assert view_from(client, "https://a.example")["reason"] == "duplicate"
    assert origins(app) == {"https://a.example": 1}


@pytest.mark.parametrize("page, header, counted", [
    ("https://videos.example.com", "Origin", True),
    ("https://videos.example.com/watch?v=1", "Referer", True),
    ("https://partner.example", "Origin", True),
    ("https://evil.example", "Origin", False),
    ("https://videos.example.com.evil.example", "Origin", False),
    ("http://videos.example.com", "Origin", False),  # another scheme is another site
    (None, None, False),  # a page that hides its address, or a server that names none
    ("http://localhost", "Origin", True),  # this server's own pages (the demo)
])
def test_allowed_embed_origins_refuse_views_from_other_sites(make_app, page, header, counted):
    app = make_app(ALLOWED_EMBED_ORIGINS="https://videos.example.com, https://partner.example")
    client = app.test_client()
    add_video(app)
    answer = view_from(client, page, header or "Origin")
    assert answer["counted"] is counted
    if not counted:
        assert answer["reason"] == "origin" and answer["viewsTotal"] == 0
        assert client.get("/api/analytics/totals").json["data"]["filteredToday"]["origin"] == 1
    pixel = client.get("/api/analytics/pixel/intro.gif", headers={"Referer": page} if page else {})
    assert pixel.status_code == 200
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == (2 if counted else 0)


def test_allowed_embed_origins_are_checked_at_start(make_app):
    from analytics.config import ConfigError

    with pytest.raises(ConfigError, match="ALLOWED_EMBED_ORIGINS"):
        make_app(ALLOWED_EMBED_ORIGINS="videos.example.com")


def test_the_video_page_shows_how_and_where_it_is_watched(app, client):
    add_video(app)
    for n in range(3):
        view_from(client, "https://blog.example.com")
    view_from(client, "https://shop.example.org")
    view_from(client)
    count_view(client, VIEW, Origin="https://blog.example.com")
    report(client, VIEW, seconds=60, position=60, duration=120)
    page = text_of(client.get("/dashboard/videos/intro"))
    assert "Average view duration 1:00 Average watched (about) 52%" in page  # 60 of 120 s: 52.5 %, to a fortieth
    assert "Completion rate 0%" in page
    assert "Views that reported 1" in page
    assert "https://blog.example.com 4 https://shop.example.org 1 direct or unknown 1" in page
    html = client.get("/dashboard/videos/intro").get_data(as_text=True)
    assert html.count("data-reached=") == 20
    assert 'data-reached="1"' in html and 'data-reached="0"' in html  # 60 of 120 s: the first half


def test_without_reports_the_video_page_says_there_is_no_data(app, client):
    add_video(app)
    client.get("/api/analytics/pixel/intro.gif")
    page = text_of(client.get("/dashboard/videos/intro"))
    assert "Average view duration — Average watched (about) — Completion rate — Watch time — Views that reported 0" in page
    assert "no view has reported what it played" in page
    assert "direct or unknown 1" in page


def test_the_dashboard_shows_the_total_watch_time(app, client, clock):
    add_video(app)
    count_view(client)
    clock.advance(minutes=62)
    report(client, seconds=3725, position=100, duration=7200)
    page = text_of(client.get("/dashboard"))
    assert "Watch time today 1:02:05 all time 1:02:05" in page
    data = client.get("/api/analytics/totals").json["data"]
    assert (data["watchSecondsToday"], data["watchSecondsTotal"]) == (3725.0, 3725.0)


@pytest.mark.parametrize("page, expected", [
    ("https://xn--bcher-kva.example/shop", "https://xn--bcher-kva.example"),
    ("https://bücher.example", "https://xn--bcher-kva.example"),  # one site, one row
    ("https://Blog.Example.com./post", "https://blog.example.com"),
    ("http://[2001:DB8::1]:8080/x", "http://[2001:db8::1]:8080"),
    ("https://a b.example", None),
    ("https://a.example;b", None),
    ("https://a.example%2F", None),
    ("ftp://files.example", None),
    ("javascript:alert(1)", None),
])
def test_only_plain_hosts_are_recorded_as_written_by_browsers(app, client, page, expected):
    add_video(app)
    view_from(client, page, header="Referer")
    assert origins(app) == ({expected: 1} if expected else {})


def test_an_allowed_origin_with_the_schemes_own_port_matches(make_app):
    app = make_app(ALLOWED_EMBED_ORIGINS="https://videos.example.com:443")
    client = app.test_client()
    add_video(app)
    assert view_from(client, "https://videos.example.com")["counted"] is True


def test_a_period_shows_the_watch_time_of_its_days(app, client, clock):
    from datetime import datetime, timezone

    add_video(app)
    clock.set(datetime(2026, 3, 10, 12, tzinfo=timezone.utc))
    count_view(client)
    clock.advance(minutes=5)
    report(client, seconds=90, position=90, duration=120)
    clock.set(datetime(2026, 3, 14, 12, tzinfo=timezone.utc))
    assert "Watch time 1:30" in text_of(client.get("/dashboard?period=last-7-days"))
    assert "Watch time 0:00" in text_of(client.get("/dashboard?period=today"))


def test_views_from_other_sites_show_in_the_metrics(make_app, admin):
    from test_metrics import scrape, views

    app = make_app(ALLOWED_EMBED_ORIGINS="https://videos.example.com")
    client = app.test_client()
    add_video(app)
    view_from(client, "https://videos.example.com")
    view_from(client, "https://evil.example")
    view_from(client, "https://evil.example/other", header="Referer")
    outcomes = views(scrape(client, admin))
    assert (outcomes["counted"], outcomes["origin"]) == (1, 2)
