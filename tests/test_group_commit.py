"""Group commit: concurrent views share transactions, each answered only once its own is committed."""

import os
import signal
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from analytics.database import write_transaction
from analytics.extensions import db
from analytics.services import view_batch, views
from analytics.services.group_commit import GroupCommit
from conftest import ADMIN_TOKEN, BROWSER_UA, add_video, rows, viewer
from served import Server

VIDEOS = [f"clip-{n}" for n in range(12)]


# --- the queue itself, with real threads -------------------------------------------------------

def test_concurrent_items_share_batches_and_each_gets_its_own_result():
    batches = []

    def write(items):
        batches.append(list(items))
        time.sleep(0.02)  # a slow commit: others queue meanwhile
        return [item * 10 for item in items]

    writer = GroupCommit(write)
    start = threading.Barrier(16)

    def submit(n):
        start.wait()
        return writer.submit(n)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(submit, range(16)))
    assert results == [n * 10 for n in range(16)]
    assert sorted(item for batch in batches for item in batch) == list(range(16))
    assert len(batches) < 16, "slow commits with 16 waiters must be shared"


def test_a_failed_batch_fails_each_of_its_items_and_the_next_batch_runs():
    calls = []

    def write(items):
        calls.append(list(items))
        if len(calls) == 1:
            raise RuntimeError("disk full")
        return list(items)

    writer = GroupCommit(write)
    with pytest.raises(RuntimeError, match="disk full"):
        writer.submit("first")
    assert writer.submit("second") == "second"


def test_each_waiter_of_a_failed_batch_raises_its_own_copy_of_the_error():
    failure = RuntimeError("disk full")

    def write(items):
        time.sleep(0.02)
        raise failure

    writer = GroupCommit(write)
    start = threading.Barrier(8)

    def submit(n):
        start.wait()
        try:
            writer.submit(n)
        except RuntimeError as error:
            return error

    with ThreadPoolExecutor(8) as pool:
        raised = list(pool.map(submit, range(8)))
    assert all(str(error) == "disk full" and error.__cause__ is failure for error in raised)
    assert len({id(error) for error in raised}) == 8, "one exception object raised in many threads"


def test_an_item_whose_result_is_an_error_raises_it_alone():
    writer = GroupCommit(lambda items: [ValueError(item) if item == "bad" else item for item in items])
    with pytest.raises(ValueError, match="bad"):
        writer.submit("bad")
    assert writer.submit("good") == "good"


def test_more_items_than_a_batch_holds_are_all_written_in_order_of_arrival():
    batches = []
    writer = GroupCommit(lambda items: (batches.append(list(items)), time.sleep(0.01), list(items))[2], max_batch=3)
    start = threading.Barrier(10)

    def submit(n):
        start.wait()
        return writer.submit(n)

    with ThreadPoolExecutor(10) as pool:
        assert list(pool.map(submit, range(10))) == list(range(10))
    assert all(len(batch) <= 3 for batch in batches)


def test_a_leader_interrupted_before_it_writes_leaves_no_open_batch_behind():
    """Under gevent a Timeout can land at the leader's pause: its batch fails, and the next items are written."""
    written = []
    writer = GroupCommit(lambda items: (written.extend(items), list(items))[1])

    class Interrupted(BaseException):
        pass

    def pause_once():  # stands for gevent's sleep(0), where a Timeout or GreenletExit can arrive
        writer._pause = None
        raise Interrupted

    writer._pause = pause_once
    with pytest.raises(Interrupted):
        writer.submit("first")
    assert writer.submit("second") == "second"
    assert writer.submit("third") == "third"
    assert written == ["second", "third"]


# --- through the app: many threads, exact sums, fewer commits than views --------------------

def test_threads_counting_at_once_share_commits_and_every_sum_agrees(make_app):
    app = make_app(DEDUP_WINDOW_SECONDS=3600, BOT_FILTER=True)
    for video in VIDEOS:
        add_video(app, video, video)
    commits = []
    with app.app_context():
        sa.event.listen(db.engine, "commit", lambda connection: commits.append(1))

    def one_client(number):
        client = app.test_client()
        answers = []
        for n in range(40):
            video = VIDEOS[(number + n) % len(VIDEOS)] if n % 10 else "no-such-video"
            # Every 12th view repeats a viewer's view of the same video: a duplicate within the window.
            answers.append((video, client.post(f"/api/analytics/view/{video}", headers={
                "User-Agent": BROWSER_UA, "X-Viewtally-Session": f"viewer-{number}-{n % 12}"})))
        return answers

    with ThreadPoolExecutor(8) as pool:
        answers = [answer for batch in pool.map(one_client, range(8)) for answer in batch]

    missing = [response for video, response in answers if video == "no-such-video"]
    assert {response.status_code for response in missing} == {404}
    counted = {video: 0 for video in VIDEOS}
    duplicates = 0
    for video, response in answers:
        if video != "no-such-video":
            assert response.status_code == 200, response.get_json()
            data = response.get_json()["data"]
            if data["counted"]:
                counted[video] += 1
            else:
                assert data["reason"] == "duplicate"
                duplicates += 1
    firsts = Counter(n % 12 for n in range(40) if n % 10)
    assert duplicates == 8 * sum(seen - 1 for seen in firsts.values())
    logs = dict(rows(app, "SELECT video_id, count(*) FROM video_view_logs GROUP BY video_id"))
    counters = dict(rows(app, "SELECT id, views_total FROM videos"))
    daily = dict(rows(app, "SELECT video_id, sum(views) FROM daily_views GROUP BY video_id"))
    assert counters == daily == {video: logs.get(video, 0) for video in VIDEOS} == counted
    total = sum(counted.values())
    assert rows(app, "SELECT views, duplicate FROM daily_summary") == [(total, duplicates)]
    assert rows(app, "SELECT sum(views) FROM view_buckets") == [(total,)]
    assert len(commits) < len(answers), "concurrent views must share commits"


def test_unique_viewers_of_a_batch_count_each_viewer_once_per_site_and_video(make_app):
    app = make_app(DEDUP_WINDOW_SECONDS=0)
    for video in VIDEOS[:3]:
        add_video(app, video, video)

    def one_client(number):
        client = app.test_client()
        for video in VIDEOS[:3] * 2:
            response = client.post(f"/api/analytics/view/{video}", headers={
                "User-Agent": BROWSER_UA, "X-Viewtally-Session": f"viewer-{number % 4}"})
            assert response.status_code == 200

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one_client, range(8)))
    assert rows(app, "SELECT views, unique_viewers FROM daily_summary") == [(48, 4)]
    assert sorted(rows(app, "SELECT video_id, views, unique_viewers FROM daily_views")) == [
        (video, 16, 4) for video in VIDEOS[:3]]


def test_a_batch_holding_a_viewers_views_from_both_sides_of_midnight_counts_the_later_as_a_repeat(make_app):
    """Each view is decided as if written alone, in the order of the days: the early one first."""
    app = make_app(DEDUP_WINDOW_SECONDS=3600)
    add_video(app, "intro", "Intro")
    clock = app.extensions["viewtally.clock"]
    midnight = datetime(2026, 3, 15, tzinfo=timezone.utc)
    with app.app_context():
        clock.set(midnight - timedelta(seconds=1))
        before = [views.view_of("intro", clock, viewer(n)) for n in range(1, 9)]
        clock.set(midnight + timedelta(seconds=1))
        after = [views.view_of("intro", clock, viewer(n)) for n in range(1, 9)]
        with write_transaction() as connection:  # the later views first, as a batch may hold them
            outcomes = view_batch.write(connection, after + before)
    assert [outcome.reason for outcome in outcomes] == ["duplicate"] * 8 + [None] * 8
    assert rows(app, "SELECT views_total FROM videos") == [(8,)]


def test_a_batch_with_a_videos_views_from_both_sides_of_midnight_answers_each_its_own_days_counts(make_app):
    """Two viewers, one each side of midnight, in one batch: each is answered as if written alone."""
    app = make_app()
    add_video(app, "intro", "Intro")
    add_video(app, "other", "Other")
    clock = app.extensions["viewtally.clock"]
    midnight = datetime(2026, 3, 15, tzinfo=timezone.utc)
    with app.app_context():
        clock.set(midnight - timedelta(seconds=2))
        views.track_view("intro", clock, viewer(1))  # yesterday's first view
        clock.set(midnight - timedelta(seconds=1))
        before = [views.view_of(video, clock, viewer(2)) for video in ("intro", "other")]
        clock.set(midnight + timedelta(seconds=1))
        after = [views.view_of(video, clock, viewer(3)) for video in ("intro", "other")]
        with write_transaction() as connection:
            outcomes = view_batch.write(connection, after + before)
    answered = [(o.counts.video_id, o.counts.views_today, o.counts.views_total) for o in outcomes]
    # in the batch's order (after, then before), each answered the counts its own write left:
    # before midnight yesterday's 2 (intro) and 1 (other), after it today's first view of each
    assert answered == [("intro", 1, 3), ("other", 1, 2), ("intro", 2, 2), ("other", 1, 1)]
    assert rows(app, "SELECT id, views_today, views_total FROM videos ORDER BY id") == [
        ("intro", 1, 3), ("other", 1, 2)]


def _batch(app, *views_of):
    """Write the views made by `views_of` (callables of the clock) as one batch; return their reasons."""
    clock = app.extensions["viewtally.clock"]
    with app.app_context():
        made = [make(clock) for make in views_of]
        with write_transaction() as connection:
            return [outcome.reason for outcome in view_batch.write(connection, made)]


def _at(seconds: float, number: int, video: str = "intro"):
    def make(clock):
        clock.set(datetime(2026, 3, 15, 12, tzinfo=timezone.utc) + timedelta(seconds=seconds))
        return views.view_of(video, clock, viewer(number))
    return make


def test_a_batch_holding_a_viewers_view_twice_counts_it_once(make_app, backend_url):
    """The second is decided after the first, as if written alone: a repeat within the window."""
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url, DEDUP_WINDOW_SECONDS=1800)
    add_video(app)
    assert _batch(app, _at(0, 1), _at(0.001, 1), _at(0.002, 2)) == [None, "duplicate", None]
    assert rows(app, "SELECT views FROM recent_views ORDER BY views") == [(1,), (1,)]
    assert rows(app, "SELECT views, unique_viewers, duplicate FROM daily_summary") == [(2, 2, 1)]
    # A later batch finds the rows as the first left them.
    assert _batch(app, _at(60, 1), _at(61, 3)) == ["duplicate", None]


def test_a_batch_without_a_window_counts_every_view_and_the_viewer_once(make_app, backend_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url, DEDUP_WINDOW_SECONDS=0)
    add_video(app)
    assert _batch(app, _at(0, 1), _at(0.001, 1), _at(0.002, 1)) == [None, None, None]
    assert rows(app, "SELECT views FROM recent_views") == [(3,)]
    assert rows(app, "SELECT views, unique_viewers FROM daily_views") == [(3, 1)]


def test_a_batch_counts_a_viewer_again_once_the_window_has_passed(make_app, backend_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url, DEDUP_WINDOW_SECONDS=600)
    add_video(app)
    assert _batch(app, _at(0, 1)) == [None]
    # Just inside the 600 s window a repeat; just past it, counted again (and then a repeat once more).
    assert _batch(app, _at(599.999, 1), _at(600, 2)) == ["duplicate", None]
    assert _batch(app, _at(600.001, 1), _at(600.002, 1)) == [None, "duplicate"]
    assert sorted(rows(app, "SELECT views FROM recent_views")) == [(1,), (2,)]
    assert rows(app, "SELECT views, unique_viewers, duplicate FROM daily_summary") == [(3, 2, 2)]


# --- the crash guarantee: SIGKILL under load loses no acknowledged view ----------------------

def _settings(database_url):
    return {"SQLALCHEMY_DATABASE_URI": database_url, "ADMIN_TOKEN": ADMIN_TOKEN, "SECRET_KEY": "crash-test",
            "RATELIMIT_ENABLED": "false", "SCHEDULER_ENABLED": "false"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_server_killed_under_load_kept_every_view_it_acknowledged(tmp_path, request, backend):
    url = f"sqlite:///{tmp_path}/crash.db" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    server = Server(tmp_path, _settings(url), workers=2, threads=8)
    try:
        for video in VIDEOS:
            response = requests.post(f"{server.url}/api/videos", json={"id": video, "title": video},
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
            assert response.status_code == 201
        acknowledged = {video: 0 for video in VIDEOS}
        lock, stop = threading.Lock(), threading.Event()

        def one_client(number):
            with requests.Session() as session:
                n = 0
                while not stop.is_set():
                    n += 1
                    video = VIDEOS[n % len(VIDEOS)]
                    try:
                        response = session.post(f"{server.url}/api/analytics/view/{video}", timeout=10, headers={
                            "User-Agent": BROWSER_UA, "X-Viewtally-Session": f"crash-{number}-{n}"})
                    except requests.RequestException:
                        return  # the server is gone: this view's fate is unknown, and not claimed
                    if response.status_code == 200 and response.json()["data"]["counted"]:
                        with lock:
                            acknowledged[video] += 1

        with ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(one_client, n) for n in range(12)]
            time.sleep(3)
            for pid in [server.process.pid, *_children(server.process.pid)]:
                os.kill(pid, signal.SIGKILL)
            stop.set()
            for future in futures:
                future.result()
        server.process.wait(10)
    finally:
        server.stop()
    assert sum(acknowledged.values()) > 50, "the load must have been under way when the server died"

    engine = sa.create_engine(url)  # the stored rows, after a restart's recovery of the WAL
    with engine.connect() as connection:
        counters = dict(connection.execute(sa.text("SELECT id, views_total FROM videos")).all())
        logs = dict(connection.execute(sa.text(
            "SELECT video_id, count(*) FROM video_view_logs GROUP BY video_id")).all())
        daily = {video: int(views) for video, views in connection.execute(sa.text(
            "SELECT video_id, sum(views) FROM daily_views GROUP BY video_id")).all()}
        site = connection.execute(sa.text("SELECT sum(views) FROM daily_summary")).scalar()
        buckets = connection.execute(sa.text("SELECT sum(views) FROM view_buckets")).scalar()
    engine.dispose()
    for video in VIDEOS:
        assert counters[video] == logs.get(video, 0) == daily.get(video, 0) >= acknowledged[video]
    assert int(site) == int(buckets) == sum(counters.values())


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []
