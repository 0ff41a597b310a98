"""Time the dashboard's periods on a big database, as `make run` serves it, and show how the table is read.

    .venv/bin/python bench/fill.py /tmp/scale.db --days 365      (100,000 videos, 10,000,000 views over a year)
    .venv/bin/python bench/periods.py /tmp/scale.db

First the file is brought up to date as the app does on start: a file that
bench/fill.py made before the periods lacks the (day, video_id, views)
index of daily_views, which is built then (the time it took is printed).
Then the named periods' past days are added up, as the scheduler does at
midnight (services/period_sums.py; the time it took is printed), and the
query plan of the statement that reads the last 12 months' table from
them is shown, caught as the service runs it, with how many daily_views
rows each period spans. Then the file is served by gunicorn with `make
run`'s flags (through http_bench.Served), rate limits off, and each route
gets one warm-up request and five timed ones over one keep-alive
connection; the table shows the median and the slowest in milliseconds,
and the median of the CPU time the worker spent on a request (from the
kernel's schedstat), which a busy shared machine inflates far less than
the wall-clock time. The live dashboard (no period) is timed beside them,
and a custom range of 364 days, which starts on a day no named period
starts on, so it has no stored sums and is added up when asked.
"""

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_bench import Served  # noqa: E402

TIMED = 5
ROUTES = [
    ("live (no period)", "/dashboard"),
    ("today", "/dashboard?period=today"),
    ("yesterday", "/dashboard?period=yesterday"),
    ("last 7 days", "/dashboard?period=last-7-days"),
    ("last 30 days", "/dashboard?period=last-30-days"),
    ("this month", "/dashboard?period=this-month"),
    ("last month", "/dashboard?period=last-month"),
    ("last 12 months", "/dashboard?period=last-12-months"),
    ("last 12 months, page 1000", "/dashboard?period=last-12-months&page=1000"),
    ("last 12 months, search 4242", "/dashboard?period=last-12-months&q=4242"),
    ("custom 364 days, added up when asked", "/dashboard?from={year_second}&to={yesterday}"),
]


def bring_up_to_date(database: Path, folder: Path) -> dict:
    """Open `database` with the app (which adds what it lacks); return the spans and the plan of a year's table."""
    os.environ["VIEWTALLY_INSTANCE_PATH"] = str(folder / "instance")
    from app import create_app
    from analytics.clock import current_clock
    from analytics.extensions import db
    from analytics.services import period_sums, periods, videos

    started = time.monotonic()
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": "bench",
                      "ADMIN_TOKEN": "bench-admin-token", "SCHEDULER_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "CACHE_TYPE": "SimpleCache"})
    opened = time.monotonic() - started
    with app.app_context():
        clock = current_clock()
        spans = {name: periods.named(name, clock) for name in periods.NAMED}
        started = time.monotonic()
        stored = period_sums.refresh(clock)
        summed = time.monotonic() - started
        caught = []
        catch = lambda conn, cursor, statement, parameters, context, many: caught.append(  # noqa: E731
            (statement, parameters))
        sa.event.listen(db.engine, "before_cursor_execute", catch)
        videos.list_viewed_between(spans["last-12-months"].first, spans["last-12-months"].last, 1, 50, clock)
        sa.event.remove(db.engine, "before_cursor_execute", catch)
        statement, parameters = next((s, p) for s, p in caught if "span_views" in s and "JOIN" in s)
        with db.engine.connect() as connection:
            plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            rows = {name: connection.scalar(sa.text("SELECT count(*) FROM daily_views WHERE day BETWEEN :a AND :b"),
                                            {"a": span.first, "b": span.last}) for name, span in spans.items()}
        db.engine.dispose()
    return {"opened": opened, "statement": statement, "plan": plan, "rows": rows, "spans": spans,
            "stored": stored, "summed": summed}


def cpu_ms(pids: list[str]) -> float:
    """Milliseconds the threads of these processes have run on a CPU."""
    return sum(int(Path(f"/proc/{pid}/task/{thread}/schedstat").read_text().split()[0])
               for pid in pids for thread in os.listdir(f"/proc/{pid}/task")) / 1e6


def time_routes(database: Path, folder: Path, spans: dict) -> dict[str, list[tuple[float, float]]]:
    """Serve `database` and return the timed (wall-clock, worker CPU) milliseconds of each route."""
    env = {
        "VIEWTALLY_INSTANCE_PATH": str(folder / "instance"),
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "FLASK_ADMIN_TOKEN": "bench-admin-token", "FLASK_SECRET_KEY": "bench", "FLASK_RATELIMIT_ENABLED": "false",
        "FLASK_SCHEDULER_ENABLED": "false",
    }
    times = {}
    with Served("app:create_app()", folder, env) as served, requests.Session() as client:
        workers = served._children()
        for name, path in ROUTES:
            path = path.format(year_second=spans["last-12-months"].first + timedelta(days=1),
                               yesterday=spans["yesterday"].last)
            times[name] = []
            for attempt in range(1 + TIMED):
                started, cpu = time.perf_counter(), cpu_ms(workers)
                response = client.get(served.url + path, timeout=300)
                elapsed = ((time.perf_counter() - started) * 1000, cpu_ms(workers) - cpu)
                if response.status_code != 200:
                    raise SystemExit(f"GET {path}: HTTP {response.status_code}\n{response.text[:500]}")
                if attempt:  # the first is the warm-up
                    times[name].append(elapsed)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", type=Path, help="a SQLite file made by bench/fill.py")
    args = parser.parse_args()
    database = args.database.resolve()
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        videos, = connection.execute("SELECT count(*) FROM videos").fetchone()
        daily, = connection.execute("SELECT count(*) FROM daily_views").fetchone()
    print(f"{database}: {videos:,} videos, {daily:,} daily_views rows")
    with tempfile.TemporaryDirectory(prefix="viewtally-periods-") as folder:
        found = bring_up_to_date(database, Path(folder))
        print(f"opened and brought up to date in {found['opened']:.1f} s")
        print("\nthe last 12 months' table, from its stored sums:\n  " + " ".join(found["statement"].split()))
        print("query plan:\n" + "\n".join(f"  {line}" for line in found["plan"]))
        print(f"the periods' past days added up in {found['summed']:.1f} s ({found['stored']:,} rows stored)")
        times = time_routes(database, Path(folder), found["spans"])
    spans = found["spans"]
    span_of = {"today": "today", "yesterday": "yesterday", "last 7 days": "last-7-days",
               "last 30 days": "last-30-days", "this month": "this-month", "last month": "last-month",
               "last 12 months": "last-12-months"}
    width = max(len(name) for name, _ in ROUTES)
    print(f"\n{'GET, ms':<{width}}  {'median':>8}  {'slowest':>8}  {'CPU':>8}  {'daily rows':>11}  days")
    for name, _ in ROUTES:
        key = span_of.get(name.split(",")[0])
        rows = f"{found['rows'][key]:>11,}" if key else f"{'—':>11}"
        days = f"{spans[key].first} to {spans[key].last}" if key else ""
        wall, cpu = [wall for wall, _ in times[name]], [cpu for _, cpu in times[name]]
        print(f"{name:<{width}}  {statistics.median(wall):>8.1f}  {max(wall):>8.1f}  {statistics.median(cpu):>8.1f}"
              f"  {rows}  {days}")


if __name__ == "__main__":
    main()
