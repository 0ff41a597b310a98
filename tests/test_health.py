"""GET /healthz."""

import os
import socket
import time
from pathlib import Path

from analytics import scheduler
from conftest import add_video


def test_health_is_ok_with_the_scheduler_state(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json
    assert (body["status"], body["database"], body["timezone"]) == ("ok", "ok", "UTC")
    assert body["time"] == "2026-03-14T15:00:00Z"
    assert body["scheduler"] == {
        "running": False,
        "runner": False,
        "leaseHolder": None,
        "jobs": {
            "daily_reset": {"lastRun": None, "nextRun": None},
            "monthly_reset": {"lastRun": None, "nextRun": None},
            "purge": {"lastRun": None, "nextRun": None},
            "period_sums": {"lastRun": None, "nextRun": None},
        },
    }


def test_health_shows_the_last_runs(app, client):
    add_video(app)
    scheduler.start(app)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        jobs = client.get("/healthz").json["scheduler"]["jobs"]
        if all(job["lastRun"] for job in jobs.values()):
            break
        time.sleep(0.02)
    body = client.get("/healthz").json["scheduler"]
    assert body["running"] is True
    runner = app.extensions["viewtally.scheduler"]
    assert (body["runner"], body["leaseHolder"]) == (True, runner.holder)
    assert body["leaseHolder"].startswith(f"{socket.gethostname()}:{os.getpid()}:")
    daily = body["jobs"]["daily_reset"]
    assert daily["lastRun"] == {
        "at": "2026-03-14T15:00:00Z", "trigger": "catch-up", "outcome": "ok", "count": 0, "error": None,
    }
    assert daily["nextRun"].endswith("Z")


def test_health_is_503_when_the_database_is_unreachable(make_app, tmp_path):
    path = tmp_path / "analytics.db"
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{path}")
    from analytics.extensions import db

    with app.app_context():
        db.engine.dispose()
    # The database file disappears and a folder stands in its place: SQLite cannot open it.
    # (The background WAL checkpoint may close the last connection meanwhile, which removes -wal and -shm.)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.mkdir(path)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "error", "database": "unreachable"}
    view = app.test_client().get("/api/analytics/stats/intro")
    assert (view.status_code, view.json["code"]) == (503, "database_unavailable")
