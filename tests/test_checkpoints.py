"""SQLite's WAL is copied into the database file by a thread of its own, not by a request's commit."""

import struct
import threading
import time
from pathlib import Path

import requests

from analytics import checkpoints
from conftest import ADMIN_TOKEN, BROWSER_UA, add_video
from served import Server


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_thread_of_its_own_copies_the_wal_into_the_file(make_app, instance, monkeypatch):
    monkeypatch.setattr(checkpoints, "INTERVAL_SECONDS", 0.02)
    app = make_app()
    add_video(app)
    running = checkpoints.start(app)
    try:
        assert checkpoints.start(app) is running, "one thread a process"
        client = app.test_client()
        for n in range(30):
            assert client.post("/api/analytics/view/intro", headers={"X-Viewtally-Session": f"v{n}"}).json[
                "data"]["counted"]
        assert _left_in_wal(f"{instance}/analytics.db") > 0 or running.pages > 0
        wait_until(lambda: running.pages > 0)
        assert running.thread_id not in (None, threading.get_ident())
        # Everything the views wrote is now in the database file, and no commit copied it.
        wait_until(lambda: _left_in_wal(f"{instance}/analytics.db") == 0)
    finally:
        running.stop()


def _left_in_wal(path: str) -> int:
    """Frames in the WAL not yet copied into the file, read from the WAL index without taking part.

    The -shm file starts with the WAL-index header: mxFrame (the last valid
    frame) at byte 16, and nBackfill (frames already copied) at byte 96.
    """
    index = Path(f"{path}-shm").read_bytes()[:100]
    return struct.unpack_from("=I", index, 16)[0] - struct.unpack_from("=I", index, 96)[0]


def test_without_the_thread_the_wal_keeps_what_the_views_wrote(make_app, instance):
    """The contrast: SQLite alone copies nothing until the WAL reaches 1,000 pages."""
    app = make_app()
    add_video(app)
    client = app.test_client()
    for n in range(30):
        client.post("/api/analytics/view/intro", headers={"X-Viewtally-Session": f"v{n}"})
    time.sleep(0.2)
    assert _left_in_wal(f"{instance}/analytics.db") > 0


def test_no_thread_for_a_database_server(make_app, postgres_url):
    assert checkpoints.start(make_app(SQLALCHEMY_DATABASE_URI=postgres_url)) is None


def test_the_server_make_run_starts_checkpoints_beside_its_gevent_worker(tmp_path):
    settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/served.db", "ADMIN_TOKEN": ADMIN_TOKEN,
                "SECRET_KEY": "checkpoints-test", "RATELIMIT_ENABLED": "false", "SCHEDULER_ENABLED": "false"}
    served = Server(tmp_path, settings, workers=None, threads=None)
    try:
        assert requests.post(f"{served.url}/api/videos", json={"id": "alpha", "title": "Alpha"},
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10).status_code == 201
        for n in range(20):
            response = requests.post(f"{served.url}/api/analytics/view/alpha", timeout=10,
                                     headers={"User-Agent": BROWSER_UA, "X-Viewtally-Session": f"viewer-{n}"})
            assert response.json()["data"]["counted"]
        wait_until(lambda: _left_in_wal(f"{tmp_path}/served.db") == 0)
        served.log.seek(0)
        log = served.log.read()
        assert "run beside the requests" in log and "checkpoint failed" not in log
    finally:
        served.stop()
