"""The view-log purge: what goes, what stays, in how many transactions; its command."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from analytics.config import ConfigError
from analytics.extensions import db
from analytics.models import VideoViewLog
from analytics.services import pacing, retention
from conftest import START, add_video, rows, run_sql

# How old each logged view is when the purge runs at START.
AGES = {"500 days": timedelta(days=500), "400 days and a second": timedelta(days=400, seconds=1),
        "400 days": timedelta(days=400), "30 days": timedelta(days=30), "now": timedelta(0)}


def add_logs(app, moments, video_id="intro"):
    """Insert view-log rows in bulk, behind the service's back."""
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.insert(VideoViewLog), [{"video_id": video_id, "viewed_at": at} for at in moments])


def logged(app):
    return [at for (at,) in rows(app, sa.select(VideoViewLog.viewed_at).order_by(VideoViewLog.viewed_at))]


def counters_and_days(app):
    return (rows(app, "SELECT * FROM videos ORDER BY id"),
            rows(app, "SELECT * FROM daily_views ORDER BY video_id, day"))


@pytest.fixture
def backend_app(make_app, backend_url):
    return make_app(SQLALCHEMY_DATABASE_URI=backend_url)


def test_old_rows_go_newer_stay_and_counters_and_daily_rows_are_untouched(backend_app):
    app = backend_app
    add_video(app)
    add_logs(app, [START - age for age in AGES.values()])
    run_sql(app, "UPDATE videos SET views_today = 1, views_month = 2, views_total = 5")
    run_sql(app, "INSERT INTO daily_views (video_id, day, views) VALUES ('intro', :old, 2), ('intro', :today, 3)",
            old=date(2024, 10, 30), today=START.date())
    before = counters_and_days(app)
    with app.app_context():
        assert retention.purge_view_logs(app.extensions["viewtally.clock"], 400) == 2
    assert logged(app) == [START - AGES["400 days"], START - AGES["30 days"], START]
    assert counters_and_days(app) == before


@pytest.mark.parametrize("days, kept", [
    (0, list(AGES)),  # 0 keeps forever
    (1000, list(AGES)),
    (10**10, list(AGES)),  # further back than a datetime reaches
    (400, ["400 days", "30 days", "now"]),  # a row exactly `days` old stays
    (30, ["30 days", "now"]),
    (1, ["now"]),
])
def test_the_retention_decides_what_stays(app, clock, days, kept):
    add_video(app)
    add_logs(app, [START - age for age in AGES.values()])
    with app.app_context():
        deleted = retention.purge_view_logs(clock, days)
    assert deleted == len(AGES) - len(kept)
    assert logged(app) == [START - AGES[name] for name in kept]


def test_a_negative_retention_is_refused(app, clock):
    with app.app_context(), pytest.raises(ValueError):
        retention.purge_view_logs(clock, -1)


def test_many_rows_go_in_several_short_transactions(backend_app):
    app = backend_app
    clock = app.extensions["viewtally.clock"]
    add_video(app)
    add_logs(app, [START - timedelta(days=401, seconds=n) for n in range(20_000)] + [START] * 100)
    commits, deletes = [], []
    with app.app_context():
        event.listen(db.engine, "commit", lambda connection: commits.append(1))
        event.listen(db.engine, "after_cursor_execute", lambda conn, cursor, statement, *rest: (
            deletes.append(cursor.rowcount) if statement.startswith("DELETE") else None))
        assert retention.purge_view_logs(clock, 400) == 20_000
    assert sum(deletes) == 20_000
    assert len(deletes) > 1 and len(commits) == len(deletes)  # one transaction per batch
    assert deletes[0] == pacing.FIRST_BATCH
    assert rows(app, "SELECT count(*) FROM video_view_logs") == [(100,)]


def test_the_job_reads_the_retention_from_the_config(make_app):
    app = make_app(LOG_RETENTION_DAYS="30")  # as an environment variable would give it
    assert app.config["LOG_RETENTION_DAYS"] == 30
    add_video(app)
    add_logs(app, [START - age for age in AGES.values()])
    with app.app_context():
        assert retention.purge(app.extensions["viewtally.clock"]) == 3


@pytest.mark.parametrize("value", ["-1", "forever", True])
def test_an_unusable_retention_stops_start_up(make_app, value):
    with pytest.raises(ConfigError, match="LOG_RETENTION_DAYS must be a whole number"):
        make_app(LOG_RETENTION_DAYS=value)


def test_the_default_retention_is_400_days(app):
    assert app.config["LOG_RETENTION_DAYS"] == 400


@pytest.mark.parametrize("args, output, left", [
    ([], "Deleted 2 expired rows (view log rows older than 400 days;", 3),
    (["--days", "30"], "Deleted 3 expired rows (view log rows older than 30 days;", 2),
    (["--days", "0"], "Deleted 0 expired rows (every view log row kept;", 5),
])
def test_the_purge_logs_command(app, args, output, left):
    add_video(app)
    add_logs(app, [START - age for age in AGES.values()])
    result = app.test_cli_runner().invoke(args=["analytics", "purge-logs", *args])
    assert result.exit_code == 0, result.output
    assert output in result.output
    assert rows(app, "SELECT count(*) FROM video_view_logs") == [(left,)]
    # the admin page and /healthz show it as the last purge
    assert rows(app, "SELECT trigger, count FROM job_runs WHERE name = 'purge'") == [("command", 5 - left)]


def test_the_purge_logs_command_refuses_a_negative_count_and_has_help(app):
    runner = app.test_cli_runner()
    assert runner.invoke(args=["analytics", "purge-logs", "--days", "-1"]).exit_code == 2
    assert "Delete view-log rows older than LOG_RETENTION_DAYS" in runner.invoke(args=["analytics", "--help"]).output
    assert "--days" in runner.invoke(args=["analytics", "purge-logs", "--help"]).output
