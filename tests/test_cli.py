"""The flask CLI commands, through the app's own test runner."""

import pytest
import sqlalchemy as sa

from analytics.database import read_transaction
from analytics.models import VideoViewLog
from analytics.services import videos, views
from conftest import add_video, rows


def test_add_and_list_videos(app, runner):
    result = runner.invoke(args=["videos", "add", "intro", "--title", "Introduction"])
    assert result.exit_code == 0, result.output
    assert "Added video intro" in result.output
    app.test_client().post("/api/analytics/view/intro")
    listing = runner.invoke(args=["videos", "list"])
    assert listing.exit_code == 0
    assert "intro" in listing.output and "Introduction" in listing.output
    assert "1 videos" in listing.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["videos", "add", "bad id", "--title", "T"], "Invalid video id"),
        (["videos", "add", "ok", "--title", "  "], "Invalid title"),
        (["analytics", "stats", "missing"], "No video has the id 'missing'"),
        (["analytics", "stats", "bad.id"], "Invalid video id"),
    ],
)
def test_command_errors_are_messages_with_exit_code_1(runner, args, message):
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    assert message in result.output


def test_adding_an_existing_video_fails(app, runner):
    add_video(app)
    result = runner.invoke(args=["videos", "add", "intro", "--title", "Again"])
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_import_adds_new_skips_existing_and_reports_bad_lines(app, runner, tmp_path):
    add_video(app, "old", "Already here")
    csv_file = tmp_path / "videos.csv"
    csv_file.write_text(
        "\ufeffid,title\n"
        "a,First\n"
        "old,Would replace\n"
        "bad id,Spaces\n"
        "b,\"Second, with a comma\"\n"
        "c\n"
        "a,Duplicate in file\n"
        "d,Fourth,extra\n"
        "\n"
        "e,   \n"
        "f,Last\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["videos", "import", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert "Added 3, skipped 2 existing, 4 bad rows" in result.output
    for line in ("line 4: Invalid video id", "line 6: expected 2 columns", "line 8: expected 2 columns",
                 "line 10: Invalid title"):
        assert line in result.output
    assert rows(app, "SELECT id, title FROM videos ORDER BY id") == [
        ("a", "First"), ("b", "Second, with a comma"), ("f", "Last"), ("old", "Already here"),
    ]


def test_import_of_many_rows_spans_several_transactions(app, runner, tmp_path):
    csv_file = tmp_path / "many.csv"
    csv_file.write_text("".join(f"v{n},Video {n}\n" for n in range(1203)))
    result = runner.invoke(args=["videos", "import", str(csv_file)])
    assert "Added 1203, skipped 0 existing, 0 bad rows" in result.output
    assert rows(app, "SELECT count(*) FROM videos") == [(1203,)]


def test_import_of_a_missing_file_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(args=["videos", "import", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2


def test_stats_and_resets(app, runner):
    add_video(app)
    client = app.test_client()
    client.post("/api/analytics/view/intro")
    client.post("/api/analytics/view/intro")
    assert "intro: today 2, month 2, total 2" in runner.invoke(args=["analytics", "stats", "intro"]).output
    assert "Reset daily views for 1 videos" in runner.invoke(args=["analytics", "reset-daily"]).output
    assert "intro: today 0, month 2, total 2" in runner.invoke(args=["analytics", "stats", "intro"]).output
    assert "Reset monthly views for 1 videos" in runner.invoke(args=["analytics", "reset-monthly"]).output
    assert "intro: today 0, month 0, total 2" in runner.invoke(args=["analytics", "stats", "intro"]).output


def test_commands_have_help(runner):
    result = runner.invoke(args=["videos", "--help"])
    assert "import" in result.output and "Add the videos of a CSV file" in result.output
    assert "Zero every video's views today" in runner.invoke(args=["analytics", "--help"]).output


def test_import_of_a_file_that_is_not_utf8_names_the_line_and_imports_nothing(app, runner, tmp_path):
    csv_file = tmp_path / "latin1.csv"
    csv_file.write_bytes("id,title\na,Fine\nb,Caf\u00e9\n".encode("latin-1"))
    result = runner.invoke(args=["videos", "import", str(csv_file)])
    assert result.exit_code == 1
    assert "line 3 is not UTF-8" in result.output
    assert "Traceback" not in result.output
    assert rows(app, "SELECT count(*) FROM videos") == [(0,)]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_demo_data_is_consistent_history_and_added_once(make_app, request, backend):
    url = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    app = make_app(**({"SQLALCHEMY_DATABASE_URI": url} if url else {}), TIMEZONE="Europe/Paris")
    add_video(app, "launch-trailer", "Mine already")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo-data", "--days", "60"])
    assert result.exit_code == 0, result.output
    assert "Added 5 demo videos" in result.output and "(1 were there already)" in result.output
    assert rows(app, "SELECT title FROM videos WHERE id = 'launch-trailer'") == [("Mine already",)]
    counters = dict((video_id, (total, today, month)) for video_id, total, today, month in rows(
        app, "SELECT id, views_total, views_today, views_month FROM videos WHERE id <> 'launch-trailer'"))
    logs = dict(rows(app, "SELECT video_id, count(*) FROM video_view_logs GROUP BY video_id"))
    daily = {video_id: int(total) for video_id, total in
             rows(app, "SELECT video_id, sum(views) FROM daily_views GROUP BY video_id")}
    assert {video_id: values[0] for video_id, values in counters.items()} == logs == daily
    assert rows(app, "SELECT count(DISTINCT day) FROM daily_views") == [(60,)]
    # The site's running sums (the dashboard's chart and comparisons) hold the same views.
    site, buckets = rows(app, "SELECT (SELECT sum(views) FROM daily_summary), (SELECT sum(views) FROM view_buckets)")[0]
    assert int(site) == int(buckets) == sum(logs.values())
    clock = app.extensions["viewtally.clock"]
    with app.app_context():
        for video_id in counters:
            stats = views.get_stats(video_id, clock)
            month = sum(day.views for day in views.daily_views(video_id, 60, clock)
                        if day.date >= clock.period().month)
            assert (stats.views_today, stats.views_month) == (counters[video_id][1], month)
        assert videos.list_videos(1, 10, "views_total", clock).total == 6
    with app.app_context(), read_transaction() as connection:
        latest = connection.scalar(sa.select(sa.func.max(VideoViewLog.viewed_at)))
    assert latest <= clock.now()  # nothing from the future
    again = runner.invoke(args=["demo-data", "--days", "60"])
    assert "Added 0 demo videos with 0 views (6 were there already)" in again.output
