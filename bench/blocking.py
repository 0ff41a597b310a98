"""How long a tracking request waits while the resets and the purge run on a big SQLite database.

    .venv/bin/python bench/fill.py /tmp/scale.db               (100,000 videos, 10,000,000 views)
    .venv/bin/python bench/blocking.py /tmp/scale.db            (add --purge-rows 300000 on a small fill)

The filled file is copied (the jobs change it) and served by gunicorn as
`make run` serves it (gunicorn.conf.py), scheduler and rate limits
off. Two client threads send a steady stream of counted views (a desktop
browser, a new viewer each time, a random video, 10 ms apart) through
the whole run. Meanwhile the jobs run one after another, a few quiet
seconds apart:

- the midnight reset and the reset on the 1st, as the scheduler runs them
  (stale counters only; their clock is set a day, and a month, ahead so
  that every video is stale), in this process, as the elected runner of
  another worker or host would;
- "reset all" by the admin API, inside the serving worker;
- the purge, in this process as `flask analytics purge-logs` runs it, with
  a retention that deletes about --purge-rows of the oldest log rows.

For each job the table shows its duration and the tracking requests in
flight while it ran: how many, their median, p99 and longest time; the quiet row is the
same stream with no job running, measured in the same run.
"""

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from sqlalchemy import event

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_bench import USER_AGENT, Served  # noqa: E402

ADMIN_TOKEN = "bench-admin-token-0123456789"
CLIENTS = 2
PAUSE_SECONDS = 0.010
QUIET_SECONDS = 6.0


class Stream:
    """Client threads that post counted views and record when each started and how long it took."""

    def __init__(self, url: str, videos: int):
        self.url = url
        self.videos = videos
        self.samples: list[tuple[float, float]] = []  # (start, seconds), perf_counter
        self.failures = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def _run(self) -> None:
        with requests.Session() as client:
            while not self._stop.is_set():
                video = f"video-{random.randrange(self.videos):06d}"
                headers = {"User-Agent": USER_AGENT, "X-Viewtally-Session": f"blocking-{uuid.uuid4().hex}"}
                started = time.perf_counter()
                response = client.post(f"{self.url}/api/analytics/view/{video}", headers=headers, timeout=60)
                elapsed = time.perf_counter() - started
                if response.status_code == 200:
                    self.samples.append((started, elapsed))
                else:
                    self.failures += 1
                time.sleep(PAUSE_SECONDS)

    def between(self, start: float, end: float) -> list[float]:
        """Return the times, in ms, of the requests in flight at some moment from `start` until `end`."""
        return [elapsed * 1000 for began, elapsed in list(self.samples) if began < end and began + elapsed > start]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else (values or [0.0])[0]


def copy_database(source: Path, target: Path) -> None:
    with sqlite3.connect(source) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(source, target)


def purge_days(database: Path, rows: int, now: datetime) -> int:
    """Return the retention in days that deletes at least `rows` of the oldest log rows."""
    with sqlite3.connect(database) as connection:
        found = connection.execute("SELECT viewed_at FROM video_view_logs ORDER BY viewed_at LIMIT 1 OFFSET ?",
                                   (rows,)).fetchone()
    if found is None:
        raise SystemExit(f"the log holds fewer than {rows:,} rows")
    newest_gone = datetime.fromisoformat(found[0]).replace(tzinfo=timezone.utc)
    return max(1, (now - newest_gone).days)


class Holds:
    """The time each write transaction of this process held the write lock: from BEGIN IMMEDIATE to the connection's return."""

    def __init__(self, engine):
        self.seconds: list[float] = []
        self._began: dict[int, float] = {}
        # Listeners run in order: database.py's, which sends BEGIN IMMEDIATE, came first.
        event.listen(engine, "begin", self._begin)
        event.listen(engine.pool, "checkin", self._checkin)

    def _begin(self, connection) -> None:
        if connection.get_execution_options().get("viewtally_write"):
            self._began[id(connection.connection.dbapi_connection)] = time.perf_counter()

    def _checkin(self, dbapi_connection, _record) -> None:
        began = self._began.pop(id(dbapi_connection), None)
        if began is not None:
            self.seconds.append(time.perf_counter() - began)

    def since(self, count: int) -> list[float]:
        """Return the holds, in ms, after the first `count`."""
        return [held * 1000 for held in self.seconds[count:]]


def job_app(database: Path):
    """Return an app on `database` for running jobs in this process, as the CLI does."""
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": "bench",
                       "ADMIN_TOKEN": ADMIN_TOKEN, "SCHEDULER_ENABLED": False, "RATELIMIT_ENABLED": False,
                       "CACHE_TYPE": "SimpleCache"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="a SQLite file made by bench/fill.py (left unchanged)")
    parser.add_argument("--purge-rows", type=int, default=3_000_000, help="how many old log rows the purge deletes (0: no purge)")
    args = parser.parse_args()

    from analytics.clock import ManualClock
    from analytics.extensions import db
    from analytics.services import resets, retention

    with tempfile.TemporaryDirectory(prefix="viewtally-blocking-") as folder:
        folder = Path(folder)
        database = folder / "analytics.db"
        print(f"copying {args.database} ...", flush=True)
        copy_database(args.database.resolve(), database)
        with sqlite3.connect(database) as connection:
            videos, = connection.execute("SELECT count(*) FROM videos").fetchone()
            logged, = connection.execute("SELECT count(*) FROM video_view_logs").fetchone()
        now = datetime.now(timezone.utc)
        days = purge_days(database, args.purge_rows, now) if args.purge_rows else 0
        os.environ["VIEWTALLY_INSTANCE_PATH"] = str(folder / "jobs")
        app = job_app(database)
        tz = app.config["TIMEZONE"]
        tomorrow = ManualClock(now + timedelta(days=1), tz=tz)
        next_month = ManualClock(datetime.combine(ManualClock(now, tz=tz).period().next_month, datetime.min.time(),
                                                  tzinfo=timezone.utc) + timedelta(days=1, hours=12), tz=tz)
        env = {"VIEWTALLY_INSTANCE_PATH": str(folder / "served"),
               "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "FLASK_SECRET_KEY": "bench",
               "FLASK_ADMIN_TOKEN": ADMIN_TOKEN, "FLASK_RATELIMIT_ENABLED": "false",
               "FLASK_SCHEDULER_ENABLED": "false"}

        def reset_all_by_api():
            response = requests.post(f"{served.url}/api/analytics/reset/daily", timeout=600,
                                     headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
            response.raise_for_status()
            return response.json()["data"]["count"]

        jobs = [
            ("daily reset (scheduled)", lambda: resets.reset_daily(tomorrow, stale_only=True), "videos"),
            ("monthly reset (scheduled)", lambda: resets.reset_monthly(next_month, stale_only=True), "videos"),
            ("reset all (admin API)", reset_all_by_api, "videos"),
            (f"purge ({days} days)", lambda: retention.purge(ManualClock(now, tz=tz), days), "rows"),
        ][:None if args.purge_rows else 3]
        with app.app_context():
            holds = Holds(db.engine)
        results = []
        with Served("app:create_app()", folder, env) as served, Stream(served.url, videos) as stream:
            time.sleep(2)  # warm up
            quiet_start = time.perf_counter()
            time.sleep(QUIET_SECONDS)
            results.append(("quiet (no job)", QUIET_SECONDS, "", stream.between(quiet_start, time.perf_counter()), []))
            for name, run, unit in jobs:
                print(f"running {name} ...", flush=True)
                held_before = len(holds.seconds)
                started = time.perf_counter()
                with app.app_context():
                    done = run()
                ended = time.perf_counter()
                results.append((name, ended - started, f"{done:,} {unit}", stream.between(started, ended),
                                holds.since(held_before)))
                time.sleep(QUIET_SECONDS / 2)
        failures = stream.failures

    print(f"\n{videos:,} videos, {logged:,} log rows; tracking requests from {CLIENTS} clients,"
          f" {PAUSE_SECONDS * 1000:.0f} ms apart; failures: {failures}")
    print("tracking: the requests in flight during the job; lock: the job's write transactions"
          " (run in the server for the admin API, so not seen here)")
    width = max(len(name) for name, *_ in results)
    print(f"{'job':<{width}}  {'seconds':>7}  {'changed':>16}  {'requests':>8}  {'p50 ms':>6}  {'p99 ms':>6}"
          f"  {'max ms':>6}  {'max/quiet':>9}  {'lock: txns':>10}  {'p99 ms':>6}  {'max ms':>6}")
    quiet_longest = max(results[0][3] or [0.0])
    for name, seconds, done, times, held in results:
        longest = max(times or [0.0])
        locks = f"{len(held):>10}  {p99(held):>6.1f}  {max(held):>6.1f}" if held else f"{'-':>10}  {'':>6}  {'':>6}"
        print(f"{name:<{width}}  {seconds:>7.2f}  {done:>16}  {len(times):>8}  {median(times):>6.1f}"
              f"  {p99(times):>6.1f}  {longest:>6.1f}  {longest / quiet_longest if quiet_longest else 0:>9.1f}"
              f"  {locks}")


if __name__ == "__main__":
    main()
