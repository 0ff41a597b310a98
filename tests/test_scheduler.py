"""The scheduler: resets and the hourly purge, catch-up on start, stored outcomes, survival of failures."""

import logging
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from analytics import scheduler
from analytics.extensions import db
from analytics.models import VideoViewLog
from analytics.services import job_runs
from conftest import add_video, rows, run_sql


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def last_runs(app):
    with app.app_context():
        return job_runs.last_runs()


def test_no_scheduler_runs_in_tests_unless_started(app, client):
    client.get("/healthz")
    assert app.extensions["viewtally.scheduler"] is None


def test_start_catches_up_a_missed_midnight_and_keeps_todays_views(app, clock):
    add_video(app, "yesterday")
    add_video(app, "today")
    client = app.test_client()
    client.post("/api/analytics/view/yesterday")
    clock.set(datetime(2026, 4, 1, 0, 5, tzinfo=timezone.utc))  # down over midnight and month-end
    client.post("/api/analytics/view/today")

    scheduler.start(app)
    assert wait_for(lambda: len(last_runs(app)) == len(scheduler.JOBS))
    runs = last_runs(app)
    assert runs["daily_reset"]["trigger"] == "catch-up"
    assert (runs["daily_reset"]["outcome"], runs["daily_reset"]["count"]) == ("ok", 1)
    assert (runs["monthly_reset"]["outcome"], runs["monthly_reset"]["count"]) == ("ok", 1)
    assert runs["daily_reset"]["ran_at"] == clock.now()
    assert rows(app, "SELECT id, views_today, views_month, views_total FROM videos ORDER BY id") == [
        ("today", 1, 1, 1), ("yesterday", 0, 0, 1),
    ]


def test_start_is_idempotent(app):
    first = scheduler.start(app)
    assert scheduler.start(app) is first
    assert first.running
    scheduler.stop(app)
    assert not first.running


def test_jobs_are_scheduled_for_local_midnight(make_app):
    app = make_app(TIMEZONE="Asia/Tokyo")
    runner = scheduler.start(app)
    next_runs = runner.next_runs()
    daily = datetime.fromisoformat(next_runs["daily_reset"])
    assert daily.astimezone(timezone.utc).hour == 15 and daily.minute == 0  # 00:00 in Tokyo
    monthly = datetime.fromisoformat(next_runs["monthly_reset"]).astimezone(ZoneInfo("Asia/Tokyo"))
    assert (monthly.day, monthly.hour, monthly.minute) == (1, 0, 0)
    assert monthly >= daily and (monthly - daily).days < 31


def test_a_failing_job_is_logged_and_stored_and_the_thread_survives(app, caplog):
    run_sql(app, "DROP TABLE videos")
    with caplog.at_level(logging.ERROR, logger="analytics.scheduler"):
        runner = scheduler.start(app)
        assert wait_for(lambda: len(last_runs(app)) == len(scheduler.JOBS))
    runs = last_runs(app)
    assert runs["daily_reset"]["outcome"] == "error"
    assert "videos" in runs["daily_reset"]["error"]
    assert runs["daily_reset"]["count"] is None
    assert any("daily_reset (catch-up) failed" in record.getMessage() for record in caplog.records)
    assert runner.running
    # A later run goes through once the cause is gone.
    from analytics.extensions import db

    with app.app_context():
        db.metadata.tables["videos"].create(db.engine)
    runner.run_job("daily_reset", "schedule")
    assert last_runs(app)["daily_reset"]["outcome"] == "ok"


def test_a_tick_runs_the_reset_of_each_new_period_once(app, clock):
    add_video(app)
    client = app.test_client()
    client.post("/api/analytics/view/intro")
    runner = scheduler.ResetScheduler(app)  # not started: the test drives its ticks
    assert runner.catch_up() == ["daily_reset", "monthly_reset", "purge", "period_sums"]
    assert runner.tick() == []
    clock.set(datetime(2026, 3, 15, 0, 0, tzinfo=timezone.utc))  # a new day (and hour), same month
    assert runner.tick() == ["daily_reset", "purge", "period_sums"]
    assert runner.tick() == []
    assert last_runs(app)["monthly_reset"]["trigger"] == "catch-up"
    client.post("/api/analytics/view/intro")
    clock.set(datetime(2026, 4, 1, 0, 0, tzinfo=timezone.utc))
    assert runner.tick() == ["daily_reset", "monthly_reset", "purge", "period_sums"]
    assert last_runs(app)["monthly_reset"]["count"] == 1
    assert rows(app, "SELECT views_today, views_month, views_total FROM videos") == [(0, 0, 2)]


def test_the_purge_runs_once_an_hour_and_its_outcome_is_stored(make_app):
    app = make_app(LOG_RETENTION_DAYS=30)
    clock = app.extensions["viewtally.clock"]
    add_video(app)
    ages = (timedelta(days=31), timedelta(days=30, minutes=-30), timedelta(0))  # the second is old in an hour
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(sa.insert(VideoViewLog), [{"video_id": "intro", "viewed_at": clock.now() - age}
                                                     for age in ages])
    runner = scheduler.ResetScheduler(app)
    assert runner.catch_up() == ["daily_reset", "monthly_reset", "purge", "period_sums"]
    assert (last_runs(app)["purge"]["trigger"], last_runs(app)["purge"]["count"]) == ("catch-up", 1)
    assert runner.next_runs()["purge"] == "2026-03-14T16:00:00Z"
    clock.advance(minutes=59, seconds=59)
    assert runner.tick() == []
    clock.advance(seconds=1)
    assert runner.tick() == ["purge", "period_sums"]
    assert runner.tick() == []
    run = last_runs(app)["purge"]
    assert (run["ran_at"], run["trigger"], run["outcome"], run["count"]) == (clock.now(), "schedule", "ok", 1)
    assert runner.next_runs()["purge"] == "2026-03-14T17:00:00Z"
    assert rows(app, "SELECT count(*) FROM video_view_logs") == [(1,)]
    shown = app.test_client().get("/healthz").get_json()["scheduler"]["jobs"]["purge"]["lastRun"]
    assert (shown["at"], shown["outcome"], shown["count"]) == ("2026-03-14T16:00:00Z", "ok", 1)


def test_a_clock_stepping_back_over_midnight_changes_no_count(app, clock):
    add_video(app)
    client = app.test_client()
    clock.set(datetime(2026, 4, 1, 0, 0, 1, tzinfo=timezone.utc))
    runner = scheduler.ResetScheduler(app)
    runner.catch_up()
    client.post("/api/analytics/view/intro")
    clock.set(datetime(2026, 3, 31, 23, 59, 58, tzinfo=timezone.utc))  # set back two seconds
    runner.tick()
    clock.set(datetime(2026, 4, 1, 0, 0, 2, tzinfo=timezone.utc))
    runner.tick()
    assert rows(app, "SELECT views_today, views_month, views_total FROM videos") == [(1, 1, 1)]
    assert (last_runs(app)["daily_reset"]["count"], last_runs(app)["monthly_reset"]["count"]) == (0, 0)


def test_a_failed_reset_is_tried_again_at_the_next_wake(app, clock, caplog):
    add_video(app)
    app.test_client().post("/api/analytics/view/intro")
    runner = scheduler.ResetScheduler(app)
    runner.catch_up()
    clock.set(datetime(2026, 3, 15, 0, 0, tzinfo=timezone.utc))
    run_sql(app, "ALTER TABLE videos RENAME TO videos_away")  # the reset cannot reach its table
    with caplog.at_level(logging.ERROR, logger="analytics.scheduler"):
        assert runner.tick() == ["daily_reset", "purge", "period_sums"]  # the purge of the new hour goes through
        for _ in range(4):
            assert runner.tick() == ["daily_reset"]
    assert last_runs(app)["daily_reset"]["outcome"] == "error"
    assert sum(record.exc_info is not None for record in caplog.records) == 1  # one traceback, then one line each
    assert sum("failed again" in record.getMessage() for record in caplog.records) == 4
    run_sql(app, "ALTER TABLE videos_away RENAME TO videos")
    clock.advance(minutes=1)
    assert runner.tick() == ["daily_reset"]
    assert (last_runs(app)["daily_reset"]["outcome"], last_runs(app)["daily_reset"]["count"]) == ("ok", 1)
    assert runner.tick() == []


def test_a_machine_clock_set_back_never_stalls_the_thread(app):
    """`schedule` keeps naive machine time: a job it sees hours away is re-armed within a minute."""
    runner = scheduler.ResetScheduler(app)
    assert runner.step() <= scheduler.MAX_SLEEP_SECONDS
    for job in runner._schedule.jobs:
        job.next_run += timedelta(hours=2)  # what the machine clock going back two hours looks like
    runner.step()
    assert runner._schedule.idle_seconds <= scheduler.MAX_SLEEP_SECONDS


# America/Santiago skips midnight: on 2026-09-06, 00:00 -04 becomes 01:00 -03 at 04:00 UTC.
SANTIAGO_DAY_START = datetime(2026, 9, 6, 4, 0, tzinfo=timezone.utc)


def test_a_midnight_that_dst_skips_begins_the_day_at_the_change(make_app):
    app = make_app(TIMEZONE="America/Santiago")
    clock = app.extensions["viewtally.clock"]
    clock.set(datetime(2026, 9, 5, 12, 0, tzinfo=timezone.utc))
    assert clock.next_day_start() == SANTIAGO_DAY_START
    assert clock.period(SANTIAGO_DAY_START).day.isoformat() == "2026-09-06"
    assert clock.period(SANTIAGO_DAY_START - timedelta(microseconds=1)).day.isoformat() == "2026-09-05"
    clock.set(SANTIAGO_DAY_START)
    assert clock.next_day_start() == datetime(2026, 9, 7, 3, 0, tzinfo=timezone.utc)  # now at -03
    # Santiago's DST ends by repeating 23:00: the next day still begins once, at 00:00 -04.
    clock.set(datetime(2027, 4, 3, 12, 0, tzinfo=timezone.utc))
    assert clock.next_day_start() == datetime(2027, 4, 4, 4, 0, tzinfo=timezone.utc)


def test_a_midnight_that_comes_twice_is_next_awaited_at_its_second_coming(make_app):
    """St. John's, 2010-11-07: at 00:01 NDT clocks went back to 23:01 NST on the 6th."""
    app = make_app(TIMEZONE="America/St_Johns")
    clock = app.extensions["viewtally.clock"]
    clock.set(datetime(2010, 11, 7, 2, 40, tzinfo=timezone.utc))  # 23:10 NST, the 6th again
    assert clock.today().isoformat() == "2010-11-06"
    assert clock.next_day_start() == datetime(2010, 11, 7, 3, 30, tzinfo=timezone.utc)  # 00:00 NST


def test_the_thread_resets_once_at_a_skipped_midnight_and_never_spins(make_app, caplog):
    app = make_app(TIMEZONE="America/Santiago")
    clock = app.extensions["viewtally.clock"]
    clock.set(SANTIAGO_DAY_START - timedelta(milliseconds=1))
    add_video(app)
    app.test_client().post("/api/analytics/view/intro")
    runner = app.extensions["viewtally.scheduler"] = scheduler.ResetScheduler(app)
    wakes, wake = [], runner._wake
    runner._wake = lambda: wakes.append(time.monotonic()) or wake()

    def scheduled_runs():
        return [r for r in caplog.records if "(schedule)" in r.getMessage()]

    with caplog.at_level(logging.INFO, logger="analytics.scheduler"):
        runner.start()
        assert wait_for(lambda: len(last_runs(app)) == len(scheduler.JOBS))  # the catch-up
        next_daily = runner.next_runs()["daily_reset"]
        assert next_daily == "2026-09-06T04:00:00Z"
        time.sleep(0.3)  # the thread looks again within its shortest sleep; nothing is due yet
        assert scheduled_runs() == []
        clock.set(SANTIAGO_DAY_START)
        assert wait_for(lambda: len(scheduled_runs()) == 3, timeout=2)  # the reset, the hour's purge and sums
        time.sleep(0.5)
        clock.advance(minutes=30)  # still the same day: more looks, no more resets
        time.sleep(0.3)
    looking = wakes[-1] - wakes[0]  # the thread looked every 50 ms before midnight, then slept
    assert len(wakes) <= 20 * looking + 3  # never more than 20 looks a second
    assert [r.getMessage() for r in scheduled_runs()] == [
        # the view's viewer hash, its row among the day's viewers and the day's key: yesterday's, so gone
        "daily_reset (schedule): reset 1 videos",
        "purge (schedule): deleted 3 expired rows (view log, viewer hashes, watch reports, sites)",
        "period_sums (schedule): added up 0 videos' views over the periods' past days",
    ]
    assert last_runs(app)["daily_reset"]["trigger"] == "schedule"
    assert runner.next_runs()["daily_reset"] == "2026-09-07T03:00:00Z"
    assert rows(app, "SELECT views_today, views_month, views_total FROM videos") == [(0, 1, 1)]
    assert runner.running


def test_healthz_shows_the_next_runs_across_dst(make_app):
    app = make_app(TIMEZONE="America/Santiago")
    app.extensions["viewtally.clock"].set(datetime(2026, 9, 5, 12, 0, tzinfo=timezone.utc))
    scheduler.start(app)
    jobs = app.test_client().get("/healthz").get_json()["scheduler"]["jobs"]
    assert jobs["daily_reset"]["nextRun"] == "2026-09-06T04:00:00Z"
    assert jobs["monthly_reset"]["nextRun"] == "2026-10-01T03:00:00Z"
    assert jobs["purge"]["nextRun"] == jobs["period_sums"]["nextRun"] == "2026-09-05T13:00:00Z"


def test_a_served_app_starts_its_scheduler_with_the_first_request(make_app):
    app = make_app(TESTING=False, SCHEDULER_ENABLED=True)
    assert app.extensions["viewtally.scheduler"] is None
    assert app.test_client().get("/healthz").status_code == 200
    runner = app.extensions["viewtally.scheduler"]
    assert runner is not None and runner.running
    assert app.test_client().get("/healthz").status_code == 200
    assert app.extensions["viewtally.scheduler"] is runner
    hooks = [hook.__name__ for hook in app.before_request_funcs[None]]
    assert "start_with_first_request" not in hooks, "started: later requests no longer ask"


def test_a_disabled_scheduler_never_starts(make_app):
    app = make_app(TESTING=False, SCHEDULER_ENABLED=False)
    app.test_client().get("/healthz")
    scheduler.start_if_enabled(app)
    assert app.extensions["viewtally.scheduler"] is None


def test_of_two_schedulers_on_one_database_only_the_lease_holder_runs_the_jobs(app, clock, caplog):
    first, second = scheduler.ResetScheduler(app), scheduler.ResetScheduler(app)
    assert first.holder != second.holder
    assert first.catch_up() == ["daily_reset", "monthly_reset", "purge", "period_sums"]
    assert second.catch_up() == []
    clock.advance(seconds=30)
    assert second.tick() == [] and first.tick() == []  # the holder renews at every wake
    clock.set(datetime(2026, 3, 14, 15, 59, 59, tzinfo=timezone.utc))
    assert first.tick() == []  # renewed, even late: no one else took the lease meanwhile
    clock.advance(seconds=1)  # a new hour: each ticks, one purges
    assert second.tick() == []
    assert first.tick() == ["purge", "period_sums"]
    assert (first.is_runner, second.is_runner) == (True, False)
    assert rows(app, "SELECT holder FROM scheduler_lease") == [(first.holder,)]


def test_when_the_holder_stops_renewing_the_other_takes_over_once_the_lease_lapses(make_app, caplog):
    app = make_app(SCHEDULER_LEASE_SECONDS=60)
    clock = app.extensions["viewtally.clock"]
    first, second = scheduler.ResetScheduler(app), scheduler.ResetScheduler(app)
    first.catch_up()
    clock.advance(seconds=40)
    assert first.tick() == [] and first.is_runner  # renewed: good until 60 s from now
    clock.advance(seconds=59)
    assert second.tick() == []  # the first holder went silent, but its lease still runs
    clock.advance(seconds=1)
    with caplog.at_level(logging.INFO, logger="analytics.scheduler"):
        assert second.tick() == ["daily_reset", "monthly_reset", "purge", "period_sums"]  # catches up on taking over
    assert last_runs(app)["daily_reset"]["trigger"] == "take-over"
    assert any(f"lease taken by {second.holder}" in record.getMessage() for record in caplog.records)
    assert second.tick() == []
    assert first.tick() == [] and not first.is_runner  # back, but the lease is the other's now
    assert any(f"lease lost by {first.holder}" in record.getMessage() for record in caplog.records)
    shown = app.test_client().get("/healthz").get_json()["scheduler"]
    assert (shown["runner"], shown["leaseHolder"]) == (False, second.holder)  # no scheduler started here


def test_a_stopped_holder_hands_the_lease_over_at_once(app, clock):
    first = scheduler.start(app)
    assert wait_for(lambda: first.is_runner)
    second = scheduler.ResetScheduler(app)
    assert second.tick() == []
    scheduler.stop(app)
    assert second.tick() == ["daily_reset", "monthly_reset", "purge", "period_sums"]


def test_a_scheduler_wakes_to_renew_its_lease_well_before_it_lapses(make_app):
    app = make_app(SCHEDULER_LEASE_SECONDS=6)
    runner = scheduler.ResetScheduler(app)
    assert runner.step() <= 2


def test_a_lease_shorter_than_a_second_stops_start_up(make_app):
    from analytics.config import ConfigError

    with pytest.raises(ConfigError, match="SCHEDULER_LEASE_SECONDS"):
        make_app(SCHEDULER_LEASE_SECONDS=0)


def test_a_holder_whose_jobs_outlast_the_lease_runs_no_more_once_another_took_it(make_app, monkeypatch):
    app = make_app(SCHEDULER_LEASE_SECONDS=60)
    clock = app.extensions["viewtally.clock"]
    first, second = scheduler.ResetScheduler(app), scheduler.ResetScheduler(app)
    daily = scheduler.JOBS["daily_reset"]
    took_over = []

    def slow_reset(job_clock):
        if not took_over:
            took_over.append("second")
            clock.advance(seconds=61)  # the first holder's reset takes longer than the lease
            took_over.extend(second.tick())
        return daily.run(job_clock)

    monkeypatch.setitem(scheduler.JOBS, "daily_reset",
                        scheduler.Job(slow_reset, daily.period, daily.next_start, daily.done))
    assert first.catch_up() == ["daily_reset"]
    assert took_over == ["second", "daily_reset", "monthly_reset", "purge", "period_sums"]
    assert not first.is_runner and second.is_runner
