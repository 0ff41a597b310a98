"""The dashboard's periods: totals, chart and table of each period, from views counted on set days."""

import html
import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from analytics.clock import ManualClock
from analytics.extensions import db
from analytics.services import periods
from conftest import add_video, statements_run

# Views counted at noon UTC on each day, by video; each view from its own address among the first n,
# so a day's distinct viewers are its largest count. The clock stands at 2026-03-14 15:00 UTC.
VIEWS = [
    (date(2025, 3, 20), "old", 12),   # over a year ago
    (date(2025, 4, 10), "old", 6),    # the first of the last 12 months
    (date(2026, 2, 5), "a", 4),       # last month, over 30 days ago
    (date(2026, 2, 5), "b", 7),
    (date(2026, 2, 20), "c", 10),     # last month, within the last 30 days
    (date(2026, 3, 1), "a", 5),       # this month, over 7 days ago
    (date(2026, 3, 10), "b", 2),      # the last 7 days
    (date(2026, 3, 10), "c", 3),
    (date(2026, 3, 13), "a", 1),      # yesterday
    (date(2026, 3, 13), "c", 6),
    (date(2026, 3, 14), "b", 9),      # today
    (date(2026, 3, 14), "a", 2),
]
NOW = datetime(2026, 3, 14, 15, 0, tzinfo=timezone.utc)
SPANS = {
    "today": (date(2026, 3, 14), date(2026, 3, 14)),
    "yesterday": (date(2026, 3, 13), date(2026, 3, 13)),
    "last-7-days": (date(2026, 3, 8), date(2026, 3, 14)),
    "last-30-days": (date(2026, 2, 13), date(2026, 3, 14)),
    "this-month": (date(2026, 3, 1), date(2026, 3, 14)),
    "last-month": (date(2026, 2, 1), date(2026, 2, 28)),
    "last-12-months": (date(2025, 4, 1), date(2026, 3, 14)),
}


def count_views(app, client, clock, views=VIEWS):
    for day, video_id, times in views:
        clock.set(datetime.combine(day, datetime.min.time(), timezone.utc) + timedelta(hours=12))
        for n in range(times):
            response = client.post(f"/api/analytics/view/{video_id}", environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})
            assert response.json["data"]["counted"] is True
    clock.set(NOW)


@pytest.fixture
def app(make_app, backend_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url)
    for video_id in ("old", "a", "b", "c"):
        add_video(app, video_id, f"Video {video_id.upper()}")
    return app


def expected(first: date, last: date) -> dict:
    """What the page should say for first..last, worked out from VIEWS alone."""
    inside = [(day, video_id, n) for day, video_id, n in VIEWS if first <= day <= last]
    per_video, per_day, viewers = {}, {}, {}
    for day, video_id, n in inside:
        per_video[video_id] = per_video.get(video_id, 0) + n
        per_day[day] = per_day.get(day, 0) + n
        viewers[day] = max(viewers.get(day, 0), n)
    return {"views": sum(per_day.values()), "viewer_days": sum(viewers.values()), "per_day": per_day,
            "viewers_per_day": viewers, "per_video": per_video,
            "order": sorted(per_video, key=lambda video_id: (-per_video[video_id], video_id))}


def numbers(page: str) -> dict[str, int]:
    return {key: int(value.replace(",", "")) for key, value in re.findall(r'data-period="(\w+)">([\d,]+)<', page)
            if key != "videoViews"}


def table(page: str) -> list[tuple[str, int]]:
    return [(video_id, int(views.replace(",", ""))) for video_id, views in re.findall(
        r'<tr data-video-id="([^"]+)">.*?data-period="videoViews">([\d,]+)<', page, re.S)]


@pytest.mark.parametrize("name", list(SPANS))
def test_each_period_shows_its_totals_chart_and_table(app, client, clock, name):
    count_views(app, client, clock)
    first, last = SPANS[name]
    want = expected(first, last)
    response = client.get(f"/dashboard?period={name}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    shown = numbers(page)
    assert shown["views"] == want["views"]
    assert shown["videos"] == len(want["order"])
    if first == last:  # one day: its distinct viewers; over several, the honest name for their sum
        assert shown["uniqueViewers"] == want["viewer_days"] and "viewerDays" not in shown
    else:
        assert shown["viewerDays"] == want["viewer_days"] and "uniqueViewers" not in shown
    assert table(page) == [(video_id, want["per_video"][video_id]) for video_id in want["order"]]
    assert f"{first.isoformat()} to {last.isoformat()}" in page or first == last
    if name == "last-12-months":
        bars = re.findall(r'data-month="([\d-]+)" data-views="(\d+)"', page)
        months = [f"{2025 + (3 + n) // 12}-{(3 + n) % 12 + 1:02d}" for n in range(12)]
        assert [month for month, _ in bars] == months  # 2025-04 to 2026-03, this month included
        by_month = {}
        for day, views in want["per_day"].items():
            by_month[day.strftime("%Y-%m")] = by_month.get(day.strftime("%Y-%m"), 0) + views
        assert {month: int(views) for month, views in bars} == {month: by_month.get(month, 0) for month in months}
        assert 'class="uniques"' not in page  # no sum of daily viewers posing as a month's viewers
    else:
        bars = re.findall(r'data-date="([\d-]+)" data-views="(\d+)"', page)
        assert len(bars) == (last - first).days + 1
        assert bars[0][0] == first.isoformat() and bars[-1][0] == last.isoformat()
        assert {day: int(views) for day, views in bars if int(views)} == {
            day.isoformat(): views for day, views in want["per_day"].items()}
        viewer_bars = re.findall(r'data-date="([\d-]+)" data-unique-viewers="(\d+)"', page)
        assert {day: int(viewers) for day, viewers in viewer_bars if int(viewers)} == {
            day.isoformat(): viewers for day, viewers in want["viewers_per_day"].items()}
    assert "data-total=" not in page and "data-count=" not in page  # dashboard.js refreshes live numbers only


@pytest.mark.parametrize("first, last", [
    ("2025-03-01", "2025-03-31"),   # a custom month long ago
    ("2026-02-05", "2026-03-10"),   # across a month's end
    ("2026-03-13", "2026-03-13"),   # one day
    ("2026-03-11", "2026-03-12"),   # nothing counted
])
def test_a_custom_range_shows_its_days(app, client, clock, first, last):
    count_views(app, client, clock)
    want = expected(date.fromisoformat(first), date.fromisoformat(last))
    page = client.get(f"/dashboard?from={first}&to={last}").get_data(as_text=True)
    shown = numbers(page)
    days = (date.fromisoformat(last) - date.fromisoformat(first)).days + 1
    assert shown["views"] == want["views"] and shown["videos"] == len(want["order"])
    assert shown["uniqueViewers" if days == 1 else "viewerDays"] == want["viewer_days"]
    assert table(page) == [(video_id, want["per_video"][video_id]) for video_id in want["order"]]
    assert len(re.findall(r'<rect class="views"', page)) == days
    assert f'value="{first}"' in page and f'value="{last}"' in page  # the picker shows the range it shows


def test_the_live_view_stays_as_it_was_with_the_picker_on_top(app, client, clock):
    count_views(app, client, clock)
    page = client.get("/dashboard").get_data(as_text=True)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    assert "Today 11 +4 vs yesterday by this time (7)" in text  # the counters, not the daily rows
    assert "All time 67" in text
    assert len(re.findall(r'<rect class="views"', page)) == 30
    totals = {video_id: expected(date.min, date.max)["per_video"][video_id] for video_id in ("old", "a", "b", "c")}
    assert re.findall(r'<tr data-video-id="([^"]+)"', page) == sorted(totals, key=lambda v: (-totals[v], v))
    assert 'data-total="viewsToday"' in page and "data-list=" in page  # still refreshed by dashboard.js
    assert '<option value="" selected>' in page
    for name in SPANS:
        assert f'<option value="{name}">' in page


def test_the_table_pages_and_searches_within_the_period(make_app):
    app = make_app()
    client, clock = app.test_client(), app.extensions["viewtally.clock"]
    for number in range(53):
        add_video(app, f"v{number:02}", f"Talk {number}" if number % 2 else f"Song {number}")
    views = [(date(2026, 3, 12), f"v{number:02}", 1 + number % 4) for number in range(53)]
    views.append((date(2026, 2, 1), "v00", 50))  # outside the last 7 days: changes nothing there
    count_views(app, client, clock, views)
    order = sorted(range(53), key=lambda number: (-(1 + number % 4), f"v{number:02}"))

    first = client.get("/dashboard?period=last-7-days").get_data(as_text=True)
    second = client.get("/dashboard?period=last-7-days&page=2").get_data(as_text=True)
    assert [video_id for video_id, _ in table(first) + table(second)] == [f"v{n:02}" for n in order]
    assert len(table(first)) == 50 and "Page 1 of 2" in first
    assert 'href="/dashboard?page=2&amp;period=last-7-days"' in first  # the next page keeps the period
    assert "There is no page 3: the videos viewed fill 2 pages" in client.get(
        "/dashboard?period=last-7-days&page=3").get_data(as_text=True)
    assert numbers(client.get("/dashboard?period=last-7-days&page=3").get_data(as_text=True))["videos"] == 53

    songs = client.get("/dashboard?period=last-7-days&q=song").get_data(as_text=True)
    assert [video_id for video_id, _ in table(songs)] == [f"v{n:02}" for n in order if n % 2 == 0]
    assert '<input type="hidden" name="period" value="last-7-days">' in songs  # a new search keeps the period
    assert "No video viewed in this period" in client.get("/dashboard?period=yesterday&q=song").get_data(as_text=True)


def test_the_pickers_form_lands_on_the_short_address(app, client):
    for query, location in [
        ("period=last-7-days&from=2026-03-01&to=2026-03-02", "/dashboard?period=last-7-days"),
        ("period=custom&from=2026-03-01&to=2026-03-02&q=x", "/dashboard?q=x&from=2026-03-01&to=2026-03-02"),
        ("period=&from=2026-03-01&to=2026-03-02&sort=views_today", "/dashboard?sort=views_today"),
        ("period=today&from=&to=", "/dashboard?period=today"),
    ]:
        response = client.get(f"/dashboard?{query}")
        assert (response.status_code, response.headers["Location"]) == (302, location)
    assert client.get("/dashboard?period=today").status_code == 200  # the short address itself: no loop


@pytest.mark.parametrize("query, reason", [
    ("period=week", "'period' must be one of"),
    ("period=custom", "A custom period needs both dates"),
    ("from=2026-03-01", "A custom period needs both dates"),
    ("to=2026-03-01", "A custom period needs both dates"),
    ("from=2026-03-10&to=2026-03-01", "The period starts (2026-03-10) after it ends (2026-03-01)"),
    ("from=2026-03-10&to=2026-03-15", "The period ends after today (2026-03-14)"),
    ("from=2016-01-01&to=2026-03-01", "A period is at most 3,660 days long"),
    ("from=2026-02-30&to=2026-03-01", "'from' must be a date written YYYY-MM-DD"),
    ("from=20260201&to=2026-03-01", "'from' must be a date written YYYY-MM-DD"),
    ("from=2026-02-01&to=tomorrow", "'to' must be a date written YYYY-MM-DD"),
    ("period=today&from=%3Cscript%3E", "'from' must be a date written YYYY-MM-DD"),
    ("period=last-7-days&page=0", "'page' must be a whole number"),
])
def test_bad_periods_get_a_friendly_page(make_app, query, reason):
    response = make_app().test_client().get(f"/dashboard?{query}")
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    page = html.unescape(response.get_data(as_text=True))
    assert reason in page and "Traceback" not in page and "<script>" not in page


def test_periods_are_local_days_of_the_configured_zone(make_app):
    app = make_app(TIMEZONE="America/New_York")  # 2026-03-14 15:00 UTC is 11:00 there
    client, clock = app.test_client(), app.extensions["viewtally.clock"]
    add_video(app, "late")
    clock.set(datetime(2026, 3, 14, 3, 30, tzinfo=timezone.utc))  # 23:30 on the 13th in New York
    client.post("/api/analytics/view/late")
    clock.set(NOW)
    assert numbers(client.get("/dashboard?period=today").get_data(as_text=True))["views"] == 0
    assert numbers(client.get("/dashboard?period=yesterday").get_data(as_text=True))["views"] == 1
    assert "America/New_York" in client.get("/dashboard?period=yesterday").get_data(as_text=True)


@pytest.mark.parametrize("now, name, first, last", [
    ("2026-03-14", "this-month", "2026-03-01", "2026-03-14"),
    ("2026-03-01", "this-month", "2026-03-01", "2026-03-01"),   # the 1st: one day
    ("2026-03-01", "yesterday", "2026-02-28", "2026-02-28"),
    ("2026-01-10", "last-month", "2025-12-01", "2025-12-31"),   # across the new year
    ("2024-03-05", "last-month", "2024-02-01", "2024-02-29"),   # a leap February
    ("2026-01-10", "last-12-months", "2025-02-01", "2026-01-10"),
    ("2026-12-31", "last-12-months", "2026-01-01", "2026-12-31"),
    ("2026-03-14", "last-30-days", "2026-02-13", "2026-03-14"),
])
def test_named_periods_follow_the_calendar(now, name, first, last):
    clock = ManualClock(datetime.fromisoformat(now).replace(hour=12, tzinfo=timezone.utc))
    span = periods.named(name, clock)
    assert (span.first.isoformat(), span.last.isoformat()) == (first, last)
    assert span.monthly == (name == "last-12-months")
    if name == "last-12-months":
        assert len(span.months()) == 12


def test_a_long_custom_range_is_charted_per_month(app, client, clock):
    count_views(app, client, clock)
    year = client.get("/dashboard?from=2025-03-14&to=2026-03-14").get_data(as_text=True)  # 366 days: still per day
    assert len(re.findall(r'<rect class="views"', year)) == 366
    longer = client.get("/dashboard?from=2025-03-13&to=2026-03-14").get_data(as_text=True)
    bars = re.findall(r'data-month="([\d-]+)" data-views="(\d+)"', longer)
    assert len(bars) == 13 and bars[0] == ("2025-03", "12") and bars[-1] == ("2026-03", "28")
    assert numbers(longer)["views"] == expected(date(2025, 3, 13), date(2026, 3, 14))["views"] == 67


def test_the_table_reads_the_days_from_the_day_index_alone(make_app):
    """Even with the statistics ANALYZE finds at scale, which make SQLite prefer to skip-scan the primary key.

    The statistics are those of bench/fill.py's year (100,000 videos, 4.2 M rows),
    written where ANALYZE keeps them, as the SQLite documentation allows.
    """
    app = make_app()
    for number in range(30):
        add_video(app, f"v{number:02}")
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(sa.text("INSERT INTO daily_views (video_id, day, views, unique_viewers) "
                                       "VALUES (:video_id, :day, 1, 1)"),
                               [{"video_id": f"v{number:02}", "day": date(2026, 1, 1) + timedelta(days=offset)}
                                for number in range(30) for offset in range(60)])
            connection.exec_driver_sql("ANALYZE")
            connection.exec_driver_sql("UPDATE sqlite_stat1 SET stat = '4208752 43 1' "
                                       "WHERE idx = 'sqlite_autoindex_daily_views_1'")
            connection.exec_driver_sql("UPDATE sqlite_stat1 SET stat = '4208752 11531 1 1' "
                                       "WHERE idx = 'ix_daily_views_day'")
        db.engine.dispose()  # new connections read the statistics
        with statements_run(app) as caught:
            page = app.test_client().get("/dashboard?period=last-12-months").get_data(as_text=True)
        statement, parameters = next((s, p) for s, p in caught if "GROUP BY video_id" in s)
        with db.engine.connect() as connection:
            plan = " ".join(row[-1] for row in connection.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert numbers(page)["views"] == 0 and numbers(page)["videos"] == 30  # rows beside the site sums: all 60 each
    assert table(page)[:2] == [("v00", 60), ("v01", 60)]
    assert "USING COVERING INDEX ix_daily_views_day (day>? AND day<?)" in plan
    assert "sqlite_autoindex_daily_views" not in plan
