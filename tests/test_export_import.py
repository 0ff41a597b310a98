"""Export of views per video and day (API, admin page, CLI) and their import back (import-daily)."""

import csv
import io
import json
import re
from datetime import date, datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa

from analytics.extensions import db
from analytics.services import export
from conftest import ADMIN_TOKEN, BROWSER_UA, START, add_video, rows, run_sql

TODAY = START.date()  # 2026-03-14, a Saturday, in UTC
HEADER = "video_id,date,views,unique_viewers,watch_seconds,completions"


def count(client, clock, day: date, video_id: str, views: int) -> None:
    """Count `views` views of a video through the API on a local day (at noon UTC), then go back to START."""
    clock.set(datetime.combine(day, time(12), tzinfo=timezone.utc))
    for _ in range(views):
        answer = client.post(f"/api/analytics/view/{video_id}", headers={"User-Agent": BROWSER_UA})
        assert answer.json["data"]["counted"], answer.json
    clock.set(START)


def state(app) -> dict:
    """Everything an import may change, as plain text (SQLite and PostgreSQL alike)."""
    text = lambda statement: [tuple(str(value) for value in row) for row in rows(app, statement)]  # noqa: E731
    return {
        "days": text("SELECT video_id, day, views, unique_viewers FROM daily_views ORDER BY video_id, day"),
        "videos": text("SELECT id, title, views_today, uniques_today, views_month, views_total, period_day,"
                       " period_month FROM videos ORDER BY id"),
        "summary": text("SELECT day, views, unique_viewers FROM daily_summary ORDER BY day"),
    }


def assert_totals_are_the_sums_of_the_days(app) -> None:
    """Each video's views in all, each day's site-wide views and the site's total all add up the daily rows."""
    assert rows(app, "SELECT id FROM videos v WHERE views_total <> (SELECT coalesce(sum(views), 0)"
                     " FROM daily_views d WHERE d.video_id = v.id)") == []
    assert rows(app, "SELECT d.day FROM daily_views d LEFT JOIN daily_summary s ON s.day = d.day"
                     " GROUP BY d.day HAVING coalesce(max(s.views), 0) <> sum(d.views)") == []
    (stored,), = rows(app, "SELECT coalesce(sum(views), 0) FROM daily_views")
    assert app.test_client().get("/api/analytics/totals").json["data"]["viewsTotal"] == int(stored)


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def history(app, client, clock):
    """Two videos viewed over three days, one of the days with watch time reported."""
    add_video(app, "intro", "Introduction")
    add_video(app, "launch", "Launch day")
    count(client, clock, date(2026, 3, 12), "intro", 2)
    count(client, clock, date(2026, 3, 13), "intro", 1)
    count(client, clock, date(2026, 3, 13), "launch", 3)
    count(client, clock, TODAY, "launch", 1)
    run_sql(app, "INSERT INTO daily_watch (video_id, day, reports, watch_ms, completions)"
                 " VALUES ('intro', '2026-03-12', 2, 12500, 1), ('launch', '2026-03-13', 1, 1, 0)")


# --- The export through the API ---

def test_the_export_needs_the_admin_token(client):
    for headers in ({}, {"Authorization": "Bearer not-the-token-at-all"}):
        answer = client.get("/api/analytics/export", headers=headers)
        assert (answer.status_code, answer.json["code"]) == (401, "unauthorized")


def test_the_csv_has_a_row_per_video_and_day_with_its_watch_time(client, admin, history):
    answer = client.get("/api/analytics/export?from=2026-03-12&to=2026-03-14", headers=admin)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="viewtally-2026-03-12-to-2026-03-14.csv"'
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.get_data(as_text=True).splitlines() == [
        HEADER,
        "intro,2026-03-12,2,1,12.5,1",
        "intro,2026-03-13,1,1,0,0",
        "launch,2026-03-13,3,1,0.001,0",  # a millisecond of watch time
        "launch,2026-03-14,1,1,0,0",
    ]
    one_day = client.get("/api/analytics/export?from=2026-03-13&to=2026-03-13", headers=admin)
    assert [row[:3] for row in parse_csv(one_day.get_data(as_text=True))[1:]] == [
        ["intro", "2026-03-13", "1"], ["launch", "2026-03-13", "3"]]


def test_the_json_export_is_the_envelope_around_the_same_rows(client, admin, history):
    answer = client.get("/api/analytics/export?from=2026-03-12&to=2026-03-14&format=json", headers=admin)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Content-Disposition"] == 'attachment; filename="viewtally-2026-03-12-to-2026-03-14.json"'
    body = json.loads(answer.get_data(as_text=True))
    assert body["success"] is True
    assert body["data"][0] == {"videoId": "intro", "date": "2026-03-12", "views": 2, "uniqueViewers": 1,
                               "watchSeconds": 12.5, "completions": 1}
    as_csv = parse_csv(client.get("/api/analytics/export?from=2026-03-12&to=2026-03-14", headers=admin)
                       .get_data(as_text=True))[1:]
    assert [[row["videoId"], row["date"], str(row["views"]), str(row["uniqueViewers"]),
             export.seconds(round(row["watchSeconds"] * 1000)), str(row["completions"])]
            for row in body["data"]] == as_csv


def test_an_export_of_nothing_is_a_header_or_an_empty_array(client, admin):
    assert client.get("/api/analytics/export", headers=admin).get_data(as_text=True) == HEADER + "\r\n"
    assert client.get("/api/analytics/export?format=json", headers=admin).json == {"success": True, "data": []}


def test_the_default_range_is_the_30_days_to_today_in_the_time_zone(make_app, admin):
    app = make_app(TIMEZONE="Asia/Tokyo")  # START, 15:00 UTC, is 00:00 on the 15th in Tokyo
    client, clock = app.test_client(), app.extensions["viewtally.clock"]
    add_video(app, "intro")
    for days_back in (30, 29, 0):
        clock.set(START + timedelta(days=-days_back, hours=1))
        client.post("/api/analytics/view/intro", headers={"User-Agent": BROWSER_UA})
    clock.set(START)
    answer = client.get("/api/analytics/export", headers=admin)
    assert answer.headers["Content-Disposition"] == 'attachment; filename="viewtally-2026-02-14-to-2026-03-15.csv"'
    assert [row[1] for row in parse_csv(answer.get_data(as_text=True))[1:]] == ["2026-02-14", "2026-03-15"]
    for query, name in (("to=2026-03-01", "viewtally-2026-01-31-to-2026-03-01.csv"),
                        ("from=2026-03-01", "viewtally-2026-03-01-to-2026-03-15.csv")):
        with client.get(f"/api/analytics/export?{query}", headers=admin) as answer:
            assert answer.headers["Content-Disposition"] == f'attachment; filename="{name}"'


@pytest.mark.parametrize("query, code", [
    ("from=2026-02-30", "invalid_from"),
    ("from=2026-3-1", "invalid_from"),
    ("from=", "invalid_from"),
    ("from=2026-03-01T00:00", "invalid_from"),
    ("to=20260301", "invalid_to"),
    ("to=yesterday", "invalid_to"),
    ("from=2026-03-02&to=2026-03-01", "invalid_range"),
    ("from=2026-03-20", "invalid_range"),  # after today, the default end
    ("format=xlsx", "invalid_format"),
    ("format=CSV", "invalid_format"),
])
def test_bad_dates_and_formats_are_400_envelopes(client, admin, query, code):
    answer = client.get(f"/api/analytics/export?{query}", headers=admin)
    assert (answer.status_code, answer.json["success"], answer.json["code"]) == (400, False, code)
    assert "Content-Disposition" not in answer.headers


def test_the_export_is_read_and_sent_a_page_at_a_time(app, client, admin):
    """Rows past a page of PAGE_ROWS come in later pieces, each row once, in order, the range kept."""
    videos = 2 * export.PAGE_ROWS // 3 + 1  # three days each: the pages split a video's days
    first = date(2026, 3, 1)
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO videos (id, title, created_at, views_today, uniques_today, views_month, views_total,"
            " period_day, period_month) VALUES (:id, :id, '2026-03-01 00:00:00.000000', 0, 0, 0, 0,"
            " '2026-03-14', '2026-03-01')"), [{"id": f"v{n:05d}"} for n in range(videos)])
        connection.execute(sa.text("INSERT INTO daily_views (video_id, day, views, unique_viewers)"
                                   " VALUES (:video, :day, :views, 0)"),
                           [{"video": f"v{n:05d}", "day": (first + timedelta(days=offset)).isoformat(),
                             "views": n + offset + 1} for n in range(videos) for offset in range(-1, 3)])
    answer = client.get("/api/analytics/export?from=2026-03-01&to=2026-03-03", headers=admin, buffered=False)
    assert answer.is_streamed
    pieces = [piece.decode() for piece in answer.response]
    answer.close()
    assert pieces[0] == HEADER + "\r\n"
    assert len(pieces) == 1 + -(-3 * videos // export.PAGE_ROWS)  # the header, then a piece a page
    lines = "".join(pieces).splitlines()[1:]
    assert lines == [f"v{n:05d},{(first + timedelta(days=offset)).isoformat()},{n + offset + 1},0,0,0"
                     for n in range(videos) for offset in range(3)]
    body = client.get("/api/analytics/export?from=2026-03-01&to=2026-03-03&format=json", headers=admin).json
    assert len(body["data"]) == 3 * videos and body["data"][-1]["videoId"] == f"v{videos - 1:05d}"


def test_an_id_a_spreadsheet_would_run_as_a_formula_is_quoted(app, client, clock, admin):
    add_video(app, "-1", "Minus one")
    count(client, clock, TODAY, "-1", 1)
    lines = client.get("/api/analytics/export", headers=admin).get_data(as_text=True).splitlines()
    assert lines[1] == "'-1,2026-03-14,1,1,0,0"
    assert client.get("/api/analytics/export?format=json", headers=admin).json["data"][0]["videoId"] == "-1"


# --- The download on the admin page ---

def log_in(client) -> None:
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/admin/login").get_data(as_text=True))
    assert client.post("/admin/login", data={"csrf_token": token.group(1), "token": ADMIN_TOKEN}).status_code == 302


def test_the_admin_page_downloads_the_export_with_its_session(client, history):
    assert client.get("/admin/export").headers["Location"] == "/admin/login?next=/admin/export"
    log_in(client)
    page = client.get("/admin").get_data(as_text=True)
    form = re.search(r'<form method="get" action="/admin/export".*?</form>', page, re.S).group(0)
    assert 'type="date" name="from" required value="2026-02-13"' in form
    assert 'type="date" name="to" required value="2026-03-14"' in form
    assert '<option value="json">JSON</option>' in form and "Download" in form
    download = client.get("/admin/export?from=2026-03-13&to=2026-03-14&format=csv")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="viewtally-2026-03-13-to-2026-03-14.csv"'
    assert download.get_data(as_text=True).splitlines()[1:] == [
        "intro,2026-03-13,1,1,0,0", "launch,2026-03-13,3,1,0.001,0", "launch,2026-03-14,1,1,0,0"]
    as_json = client.get("/admin/export?from=2026-03-13&to=2026-03-14&format=json")
    assert [row["views"] for row in json.loads(as_json.get_data(as_text=True))["data"]] == [1, 3, 1]


def test_a_bad_range_on_the_admin_page_says_why_and_keeps_the_dates(client):
    log_in(client)
    answer = client.get("/admin/export?from=2026-03-10&to=2026-03-01&format=json")
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "'from' (2026-03-10) comes after 'to' (2026-03-01)" in page.replace("&#39;", "'")
    assert 'name="from" required value="2026-03-10"' in page and '<option value="json" selected>' in page


# --- Import ---

@pytest.fixture
def viewed(app, client, clock):
    """intro: 3 views on 2026-03-10 and 2 on 2026-03-12."""
    add_video(app, "intro", "Introduction")
    count(client, clock, date(2026, 3, 10), "intro", 3)
    count(client, clock, date(2026, 3, 12), "intro", 2)


IMPORT = ("video_id,date,views,note\n"
          "intro,2026-03-10,5,changed\n"
          "intro,2026-03-11,4,added\n"
          "intro,2026-03-12,2,the same\n"
          "newbie,2026-02-20,6,a new video\n")


def write(tmp_path, text: str, name: str = "daily.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_an_import_sets_days_creates_videos_and_moves_the_totals(app, runner, viewed, tmp_path):
    result = runner.invoke(args=["analytics", "import-daily", write(tmp_path, IMPORT)])
    assert result.exit_code == 0, result.output
    assert "Added 2 days, changed 1, 1 unchanged; created 1 videos; views in all +12" in result.output
    assert state(app)["days"] == [("intro", "2026-03-10", "5", "1"), ("intro", "2026-03-11", "4", "0"),
                                  ("intro", "2026-03-12", "2", "1"), ("newbie", "2026-02-20", "6", "0")]
    assert rows(app, "SELECT id, title, views_total FROM videos ORDER BY id") == [
        ("intro", "Introduction", 11), ("newbie", "newbie", 6)]
    assert [(day, views) for day, views, _ in state(app)["summary"]] == [
        ("2026-02-20", "6"), ("2026-03-10", "5"), ("2026-03-11", "4"), ("2026-03-12", "2")]
    assert_totals_are_the_sums_of_the_days(app)


def test_importing_the_same_file_again_changes_nothing(app, runner, viewed, tmp_path):
    path = write(tmp_path, IMPORT)
    assert runner.invoke(args=["analytics", "import-daily", path]).exit_code == 0
    before = state(app)
    again = runner.invoke(args=["analytics", "import-daily", path])
    assert "Added 0 days, changed 0, 4 unchanged; created 0 videos; views in all +0" in again.output
    assert state(app) == before


def test_a_dry_run_lists_what_would_change_and_writes_nothing(app, runner, viewed, tmp_path):
    path = write(tmp_path, IMPORT)
    before = state(app)
    result = runner.invoke(args=["analytics", "import-daily", path, "--dry-run"])
    assert result.exit_code == 0, result.output
    for line in ("create video newbie", "change intro 2026-03-10: 3 -> 5", "add intro 2026-03-11: 4",
                 "add newbie 2026-02-20: 6",
                 "Would add 2 days, change 1, 1 unchanged; would create 1 videos; views in all +12"
                 " (dry run: nothing was written)"):
        assert line in result.output.splitlines()
    assert "intro 2026-03-12" not in result.output  # unchanged days are not listed
    assert state(app) == before
    done = runner.invoke(args=["analytics", "import-daily", path])
    assert "Added 2 days, changed 1, 1 unchanged; created 1 videos; views in all +12" in done.output


@pytest.mark.parametrize("line, message", [
    ("bad id!,2026-03-01,5", "line 3 has the video id 'bad id!': a video id is 1 to 64 characters"),
    ("intro,2026-02-30,5", "line 3 has the date '2026-02-30': a date is written YYYY-MM-DD"),
    ("intro,01/03/2026,5", "line 3 has the date '01/03/2026'"),
    ("intro,2026-03-15,1", "line 3 has the date 2026-03-15, after today (2026-03-14)"),
    ("intro,2026-03-01,-4", "line 3 has the views '-4': views are a whole number from 0 to 999,999,999,999"),
    ("intro,2026-03-01,2.5", "line 3 has the views '2.5'"),
    ("intro,2026-03-01,", "line 3 has the views ''"),
    ("intro,2026-03-01", "line 3 has 2 columns where the header has at least 3"),
    ("ok-video,2026-03-01,9", "line 3 sets ok-video on 2026-03-01 again, after line 2"),
    ("intro,2026-03-01," + "9" * 200_000, "line 3 is not a CSV row (field larger than field limit"),
])
def test_a_bad_row_refuses_the_whole_file_naming_its_line(app, runner, viewed, tmp_path, line, message):
    before = state(app)
    result = runner.invoke(args=["analytics", "import-daily",
                                 write(tmp_path, f"video_id,date,views\nok-video,2026-03-01,7\n{line}\n")])
    assert result.exit_code == 1
    assert message in result.output and "Nothing was imported." in result.output
    assert "Traceback" not in result.output
    assert state(app) == before  # not even the good row before it, nor its new video


@pytest.mark.parametrize("content, message", [
    (b"", "line 1 is missing: the file is empty"),
    (b"id,day,views\nintro,2026-03-01,1\n", "line 1 must be the header naming the columns video_id, date and views"
                                           " (missing: video_id, date)"),
    (b"intro,2026-03-01,1\n", "(missing: video_id, date, views)"),
    (b"video_id,date,views,views\n", "line 1 names the column views twice"),
    (b"video_id,date,views\nintro,2026-03-01,1\nintro,2026-03-02,\xff1\n", "line 3 is not UTF-8 text"),
])
def test_a_file_without_its_header_or_not_utf8_is_refused(app, runner, viewed, tmp_path, content, message):
    path = tmp_path / "daily.csv"
    path.write_bytes(content)
    before = state(app)
    result = runner.invoke(args=["analytics", "import-daily", str(path)])
    assert result.exit_code == 1 and message in result.output
    assert state(app) == before


def test_the_header_may_come_in_any_order_with_blank_lines_and_a_byte_order_mark(app, runner, viewed, tmp_path):
    path = tmp_path / "daily.csv"
    path.write_bytes("\ufeffViews , Date,Video_ID\r\n7,2026-03-10,intro\r\n\r\n".encode())
    assert runner.invoke(args=["analytics", "import-daily", str(path)]).exit_code == 0
    assert rows(app, "SELECT views FROM daily_views WHERE day = '2026-03-10'") == [(7,)]
    assert_totals_are_the_sums_of_the_days(app)


def test_days_of_this_month_and_today_move_the_period_counters(app, client, clock, runner, tmp_path):
    add_video(app, "intro")
    count(client, clock, date(2026, 2, 20), "intro", 4)  # last month
    count(client, clock, date(2026, 3, 10), "intro", 2)
    count(client, clock, TODAY, "intro", 3)
    stats = lambda: client.get("/api/analytics/stats/intro").json["data"]  # noqa: E731
    assert (stats()["viewsToday"], stats()["viewsMonth"], stats()["viewsTotal"]) == (3, 5, 9)

    runner.invoke(args=["analytics", "import-daily", write(tmp_path, "video_id,date,views\n"
                        "intro,2026-02-20,1\nintro,2026-03-10,6\nintro,2026-03-14,5\n")])
    assert (stats()["viewsToday"], stats()["viewsMonth"], stats()["viewsTotal"]) == (5, 11, 12)
    count(client, clock, TODAY, "intro", 1)  # views still being counted add to the day set
    assert (stats()["viewsToday"], stats()["viewsMonth"], stats()["viewsTotal"]) == (6, 12, 13)
    assert rows(app, "SELECT views FROM daily_views WHERE day = '2026-03-14'") == [(6,)]

    runner.invoke(args=["analytics", "import-daily", write(tmp_path, "video_id,date,views\nintro,2026-03-14,0\n")])
    assert stats() == {"videoId": "intro", "viewsToday": 0, "viewsMonth": 6, "viewsTotal": 7,
                       "uniqueViewersToday": 0,  # distinct viewers never exceed views
                       "watchSecondsToday": 0.0, "watchSecondsMonth": 0.0, "completionsToday": 0}
    assert rows(app, "SELECT views, unique_viewers FROM daily_views WHERE day = '2026-03-14'") == [(0, 0)]
    totals = client.get("/api/analytics/totals").json["data"]
    assert (totals["viewsToday"], totals["viewsMonth"], totals["viewsTotal"]) == (0, 6, 7)
    assert_totals_are_the_sums_of_the_days(app)


def test_stale_period_counters_restart_at_what_the_import_sets(app, client, clock, runner, tmp_path):
    """No reset ran since February: today's and this month's counters are stale and read as 0."""
    add_video(app, "intro")
    count(client, clock, date(2026, 2, 27), "intro", 2)
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsMonth"] == 0
    runner.invoke(args=["analytics", "import-daily", write(tmp_path, "video_id,date,views\n"
                        "intro,2026-03-05,4\nintro,2026-03-14,3\n")])
    stats = client.get("/api/analytics/stats/intro").json["data"]
    assert (stats["viewsToday"], stats["viewsMonth"], stats["viewsTotal"]) == (3, 7, 9)
    totals = client.get("/api/analytics/totals").json["data"]  # the counters' sums (kept by triggers on SQLite)
    assert (totals["viewsToday"], totals["viewsMonth"], totals["viewsTotal"]) == (3, 7, 9)
    assert rows(app, "SELECT period_day, period_month FROM videos") == [("2026-03-14", "2026-03-01")]


def test_an_import_of_many_rows_spans_transactions_and_counts_each_video_once(app, runner, tmp_path):
    days = [TODAY - timedelta(days=n) for n in range(2_500)]
    text = "video_id,date,views\n" + "".join(f"big,{day.isoformat()},{n % 7}\n" for n, day in enumerate(days))
    path = write(tmp_path, text + "small,2026-01-01,3\n")
    expected_views = sum(n % 7 for n in range(2_500)) + 3
    dry = runner.invoke(args=["analytics", "import-daily", path, "--dry-run"])
    assert f"would create 2 videos; views in all +{expected_views}" in dry.output
    assert "... and " in dry.output  # more changes than a dry run lists
    done = runner.invoke(args=["analytics", "import-daily", path])
    assert f"created 2 videos; views in all +{expected_views}" in done.output
    assert rows(app, "SELECT count(*) FROM daily_views") == [(sum(1 for n in range(2_500) if n % 7) + 1,)]
    assert_totals_are_the_sums_of_the_days(app)


# --- The round trip: an export imported into an empty instance reproduces every day ---

@pytest.mark.parametrize("destination", ["sqlite", "postgresql"])
def test_an_export_imported_into_an_empty_instance_reproduces_every_day(make_app, request, tmp_path, admin,
                                                                         destination):
    source = make_app()
    client, clock = source.test_client(), source.extensions["viewtally.clock"]
    for video_id in ("intro", "launch", "-dash"):
        add_video(source, video_id)
    for day, video_id, views in [(date(2026, 1, 31), "intro", 2), (date(2026, 2, 20), "intro", 4),
                                 (date(2026, 2, 20), "launch", 1), (date(2026, 3, 1), "-dash", 3),
                                 (date(2026, 3, 10), "launch", 5), (TODAY, "intro", 1), (TODAY, "-dash", 2)]:
        count(client, clock, day, video_id, views)
    exported = client.get("/api/analytics/export?from=2026-01-01", headers=admin).get_data(as_text=True)
    by_cli = tmp_path / "by-cli.csv"
    result = source.test_cli_runner().invoke(args=["analytics", "export", "--from", "2026-01-01",
                                                   "--output", str(by_cli)])
    assert result.exit_code == 0, result.output
    assert by_cli.read_bytes() == exported.encode()  # the CLI writes the file the API sends

    url = request.getfixturevalue("postgres_url") if destination == "postgresql" else f"sqlite:///{tmp_path}/new.db"
    fresh = make_app(SQLALCHEMY_DATABASE_URI=url)
    result = fresh.test_cli_runner().invoke(args=["analytics", "import-daily", str(by_cli)])
    assert result.exit_code == 0, result.output
    assert "created 3 videos" in result.output

    days = "SELECT video_id, day, views FROM daily_views ORDER BY video_id, day"
    assert [tuple(map(str, row)) for row in rows(fresh, days)] == [tuple(map(str, row)) for row in rows(source, days)]
    def counts(app):  # the views as read (a stale counter reads 0); distinct viewers are not imported
        return [{key: value for key, value in app.test_client().get(f"/api/analytics/stats/{video_id}").json[
            "data"].items() if key != "uniqueViewersToday"} for video_id in ("intro", "launch", "-dash")]
    assert counts(fresh) == counts(source)
    summary = "SELECT day, views FROM daily_summary WHERE views > 0 ORDER BY day"
    assert [tuple(map(str, row)) for row in rows(fresh, summary)] == [tuple(map(str, row))
                                                                      for row in rows(source, summary)]
    totals = lambda app: {key: value for key, value in app.test_client().get("/api/analytics/totals").json[  # noqa: E731
        "data"].items() if key in ("viewsToday", "viewsMonth", "viewsTotal", "videos")}
    assert totals(fresh) == totals(source) == {"viewsToday": 3, "viewsMonth": 11, "viewsTotal": 18, "videos": 3}
    assert_totals_are_the_sums_of_the_days(fresh)
    again = fresh.test_client().get("/api/analytics/export?from=2026-01-01", headers=admin).get_data(as_text=True)
    assert [row[:3] for row in parse_csv(again)] == [row[:3] for row in parse_csv(exported)]  # read back alike
