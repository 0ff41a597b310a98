"""`flask analytics backup`: a consistent SQLite copy, refusals, and a copy taken under real load."""

import os
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from itertools import count

import pytest
import requests

from analytics.services.backup import backup_sqlite
from conftest import ADMIN_TOKEN, BROWSER_UA, add_video, rows
from served import ROOT, Server

TABLES = ["videos", "video_view_logs", "daily_views", "daily_summary", "recent_views", "day_viewers",
          "viewer_keys", "job_runs"]
VIDEOS = ["alpha", "beta", "gamma"]


def table_rows(path, table: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()


def agreement(path) -> tuple[dict, dict, dict, str]:
    """Return each video's views_total, view-log rows and daily views, and the integrity check."""
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        counters = dict(connection.execute("SELECT id, views_total FROM videos"))
        logs = dict(connection.execute("SELECT video_id, count(*) FROM video_view_logs GROUP BY video_id"))
        daily = dict(connection.execute("SELECT video_id, sum(views) FROM daily_views GROUP BY video_id"))
        check = connection.execute("PRAGMA integrity_check").fetchone()[0]
    return counters, logs, daily, check


def test_a_backup_holds_the_same_rows_as_the_database(app, runner, instance, tmp_path):
    assert runner.invoke(args=["demo-data", "--days", "30"]).exit_code == 0
    add_video(app, "intro")
    client = app.test_client()
    for _ in range(5):
        assert client.post("/api/analytics/view/intro").json["data"]["counted"] is True
    target = tmp_path / "copy.db"

    result = runner.invoke(args=["analytics", "backup", str(target)])

    assert result.exit_code == 0, result.output
    assert f"Wrote {target}: {target.stat().st_size} bytes" in result.output
    assert " pages in " in result.output
    for table in TABLES:
        assert table_rows(target, table) == table_rows(instance / "analytics.db", table), table
    counters, logs, daily, check = agreement(target)
    assert counters["intro"] == logs["intro"] == daily["intro"] == 5
    assert check == "ok"
    # One self-contained file, and nothing left beside it.
    with closing(sqlite3.connect(target)) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert sorted(os.listdir(tmp_path)) == ["copy.db", "instance"]


def test_the_service_reports_what_it_wrote(app, tmp_path):
    with app.app_context():
        report = backup_sqlite(tmp_path / "copy.db", app.instance_path, pages=1, sleep=0)
    assert report["bytes"] == (tmp_path / "copy.db").stat().st_size
    assert report["bytes"] == report["pages"] * 4096
    assert report["seconds"] >= 0


def test_small_steps_finish_on_one_snapshot_while_views_keep_committing(app, runner, tmp_path):
    """Without the held read transaction, every commit between two steps would restart the copy."""
    assert runner.invoke(args=["demo-data", "--days", "60"]).exit_code == 0
    add_video(app, "intro")
    counted = []
    stop = threading.Event()

    def write() -> None:
        client = app.test_client()
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            counted.append(client.post("/api/analytics/view/intro").json["data"]["counted"])

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(counted) < 20:
            time.sleep(0.01)
        before = len(counted)
        with app.app_context():
            report = backup_sqlite(tmp_path / "copy.db", app.instance_path, pages=2, sleep=0.002)
        after = len(counted)
        writing = writer.is_alive()
    finally:
        stop.set()
        writer.join()

    assert writing, "the backup only finished once the writes stopped"
    assert report["pages"] > 100 and after > before
    counters, logs, daily, check = agreement(tmp_path / "copy.db")
    assert check == "ok"
    assert before <= counters["intro"] <= after
    assert counters == logs == {video: int(total) for video, total in daily.items()}

def test_an_existing_file_is_kept_unless_forced(app, runner, tmp_path):
    target = tmp_path / "copy.db"
    target.write_bytes(b"precious")

    refused = runner.invoke(args=["analytics", "backup", str(target)])
    assert refused.exit_code == 1
    assert refused.output.strip() == f"Error: '{target}' exists already; pass --force to overwrite it"
    assert target.read_bytes() == b"precious"

    forced = runner.invoke(args=["analytics", "backup", "--force", str(target)])
    assert forced.exit_code == 0, forced.output
    assert table_rows(target, "videos") == []


def test_a_missing_folder_is_refused(runner, tmp_path):
    result = runner.invoke(args=["analytics", "backup", str(tmp_path / "nowhere" / "copy.db")])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: The folder '{tmp_path / 'nowhere'}' does not exist"
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("name, reason", [
    ("analytics.db", "is the live database or one of its files"),
    ("analytics.db-wal", "is the live database or one of its files"),
    ("analytics.db-shm", "is the live database or one of its files"),
    ("secret_key", "inside the instance folder"),
    ("new.db", "inside the instance folder"),
])
def test_the_live_database_its_files_and_the_instance_folder_are_never_the_target(app, runner, instance, name, reason):
    runner.invoke(args=["analytics", "stats", "nope"])  # the database is open, with its WAL beside it
    result = runner.invoke(args=["analytics", "backup", "--force", str(instance / name)])
    assert result.exit_code == 1
    assert reason in result.output
    assert not (instance / "new.db").exists()


def test_a_restored_copy_holds_no_admin_login(app, runner, tmp_path):
    from test_admin import csrf_of

    client = app.test_client()
    form = {"csrf_token": csrf_of(client.get("/admin/login")), "token": ADMIN_TOKEN}
    assert client.post("/admin/login", data=form).status_code == 302
    assert rows(app, "SELECT count(*) FROM admin_sessions") == [(1,)]
    assert runner.invoke(args=["analytics", "backup", str(tmp_path / "copy.db")]).exit_code == 0
    with closing(sqlite3.connect(tmp_path / "copy.db")) as copy:
        assert copy.execute("SELECT count(*) FROM admin_sessions").fetchone() == (0,)


def test_postgresql_is_refused_with_a_pointer_to_pg_dump(make_app, postgres_url, tmp_path):
    runner = make_app(SQLALCHEMY_DATABASE_URI=postgres_url).test_cli_runner()
    result = runner.invoke(args=["analytics", "backup", str(tmp_path / "copy.db")])
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1
    assert "pg_dump --format=custom" in result.output
    assert not (tmp_path / "copy.db").exists()


class Load:
    """Threads that send distinct browser views until stopped, counting the acknowledged ones."""

    def __init__(self, url: str, clients: int):
        self.url = url
        self.acked = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._names = count()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _client(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                number = next(self._names)
                headers = {"User-Agent": BROWSER_UA, "X-Viewtally-Session": f"viewer-{number}"}
                try:
                    response = session.post(f"{self.url}/api/analytics/view/{VIDEOS[number % 3]}",
                                            headers=headers, timeout=30)
                    counted = response.status_code == 200 and response.json()["data"]["counted"] is True
                except requests.RequestException as error:
                    counted, response = False, error
                with self._lock:
                    if counted:
                        self.acked += 1
                    else:
                        self.errors.append(str(getattr(response, "text", response))[:200])

    def wait_for(self, views: int, timeout: float = 60) -> None:
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        while self.acked < views and not deadline.is_set() and not self.errors:
            deadline.wait(0.05)
        timer.cancel()
        assert self.acked >= views, f"only {self.acked} views acknowledged; errors: {self.errors[:3]}"

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)


def test_a_backup_taken_under_load_holds_every_view_acknowledged_before_it_began(tmp_path):
    database_url = f"sqlite:///{tmp_path}/served.db"
    settings = {"SQLALCHEMY_DATABASE_URI": database_url, "ADMIN_TOKEN": ADMIN_TOKEN, "SECRET_KEY": "backup-test",
                "RATELIMIT_ENABLED": "false", "SCHEDULER_ENABLED": "false"}
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    env["VIEWTALLY_INSTANCE_PATH"] = str(tmp_path / "instance")
    env.update({f"FLASK_{key}": value for key, value in settings.items()})
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    # About 4 MB of history first, so the copy takes many steps while views keep coming.
    subprocess.run([*flask, "demo-data", "--days", "366"], cwd=ROOT, env=env, check=True, capture_output=True)
    server = Server(tmp_path, settings, workers=2, threads=4)
    load = None
    try:
        for video in VIDEOS:
            response = requests.post(f"{server.url}/api/videos", json={"id": video, "title": video.title()},
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
            assert response.status_code == 201, response.text
        load = Load(server.url, clients=4)
        load.wait_for(100)

        acked_before = load.acked
        backup = subprocess.run([*flask, "analytics", "backup", str(tmp_path / "copy.db")], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        acked_during = load.acked - acked_before
        load.wait_for(load.acked + 20)  # the server still counts after the copy
    finally:
        if load:
            load.stop()
        server.stop()

    assert backup.returncode == 0, backup.stderr
    assert f"Wrote {tmp_path / 'copy.db'}" in backup.stdout
    assert acked_during > 0, "the load must go on while the backup runs"
    assert load.errors == []
    counters, logs, daily, check = agreement(tmp_path / "copy.db")
    assert check == "ok"
    assert sum(counters[video] for video in VIDEOS) >= acked_before
    assert sum(logs.get(video, 0) for video in VIDEOS) >= acked_before
    # One snapshot: every video's counter, log rows and daily rows agree, demo videos included.
    assert counters == logs == {video: int(total) for video, total in daily.items()}
    assert len(counters) == 6 + len(VIDEOS)
