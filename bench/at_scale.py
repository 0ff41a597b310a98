"""Time the dashboard and the API on a big database, as `make run` serves it, beside the goals in the README.

    .venv/bin/python bench/fill.py /tmp/scale.db                 (under 2 minutes; see bench/fill.py)
    .venv/bin/python bench/fill.py /tmp/empty.db --views 0       (the same videos, an empty log)
    .venv/bin/python bench/at_scale.py /tmp/scale.db /tmp/empty.db

Each database is served in turn by gunicorn with `make run`'s flags (through
http_bench.Served), rate limits off. Each route gets one warm-up request,
then five timed ones, over one keep-alive connection; the table shows the
median in milliseconds, one column per database (with two, their ratio),
and the goal. With --rounds N the databases are served in turn N times and
each cell is the median of the rounds' medians: on a shared machine a busy
spell then moves one round, not the figure. The tracking
POSTs come from a desktop browser, each with its own X-Viewtally-Session,
so every one counts (a first view of the day: the costliest kind). The video
routes use the most viewed video (the most log and daily rows). Stats are
read as the app serves them, through its stats cache. A database made by an
earlier release is brought up to date when first served (bench/fill.py's
are made current).
"""

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_bench import USER_AGENT, Served  # noqa: E402

TIMED = 5
# name, method, path (with {video}), goal in ms or a note
ROUTES = [
    ("dashboard, first page", "GET", "/dashboard", 100),
    ("dashboard, search", "GET", "/dashboard?q=4242", 100),
    ("dashboard, page 1500", "GET", "/dashboard?page=1500", 100),
    ("dashboard, common word", "GET", "/dashboard?q=talk", "no goal"),
    ("dashboard, by today", "GET", "/dashboard?sort=views_today&page=1000", "no goal"),
    ("video page", "GET", "/dashboard/videos/{video}", 100),
    ("totals", "GET", "/api/analytics/totals", 20),
    ("stats", "GET", "/api/analytics/stats/{video}", "≤ 1.2 × empty"),
    ("tracking POST", "POST", "/api/analytics/view/{video}", "≤ 1.2 × empty"),
]


def busiest_video(database: Path) -> tuple[str, int]:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        video, = connection.execute("SELECT id FROM videos ORDER BY views_total DESC, id LIMIT 1").fetchone()
        logged, = connection.execute("SELECT count(*) FROM video_view_logs").fetchone()
    return video, logged


def time_routes(database: Path, folder: Path) -> tuple[int, dict[str, float]]:
    """Serve `database` and return its log size and the median milliseconds of each route."""
    video, logged = busiest_video(database)
    env = {
        "VIEWTALLY_INSTANCE_PATH": str(folder / "instance"),
        "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}",
        "FLASK_ADMIN_TOKEN": "bench-admin-token", "FLASK_SECRET_KEY": "bench", "FLASK_RATELIMIT_ENABLED": "false",
    }
    medians = {}
    with Served("app:create_app()", folder, env) as served, requests.Session() as client:
        for name, method, path, _ in ROUTES:
            url = served.url + path.format(video=video)
            times = []
            for attempt in range(1 + TIMED):
                headers = {"User-Agent": USER_AGENT, "X-Viewtally-Session": f"at-scale-{uuid.uuid4().hex}"}
                started = time.perf_counter()
                response = client.request(method, url, headers=headers, timeout=120)
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{method} {path}: HTTP {response.status_code}\n{response.text[:500]}")
                if attempt:  # the first is the warm-up
                    times.append(elapsed)
            medians[name] = statistics.median(times)
    return logged, medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("databases", nargs="+", type=Path, help="SQLite files made by bench/fill.py")
    parser.add_argument("--rounds", type=int, default=1,
                        help="serve the databases in turn this many times; show the median of the rounds")
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory(prefix="viewtally-at-scale-") as folder:
        for _ in range(args.rounds):  # in turn, so a busy spell on the machine weighs on every column
            rounds.append([time_routes(database.resolve(), Path(folder)) for database in args.databases])
    logged = [size for size, _ in rounds[-1]]
    medians = [{name: statistics.median(round_[column][1][name] for round_ in rounds) for name, *_ in ROUTES}
               for column in range(len(args.databases))]
    ratio = len(args.databases) == 2  # the big database against the small one
    heads = [f"{size:,} views" for size in logged] + (["ratio"] if ratio else [])
    width = max(len(name) for name, *_ in ROUTES)
    title = f"median of {TIMED}" + (f", of {args.rounds} rounds" if args.rounds > 1 else "") + ", ms"
    print(f"{title:<{width}}  " + "  ".join(f"{head:>14}" for head in heads) + "  goal")
    for name, _, _, goal in ROUTES:
        goal_text = f"< {goal} ms" if isinstance(goal, int) else goal
        cells = [f"{column[name]:>14.1f}" for column in medians]
        if ratio:
            cells.append(f"{medians[0][name] / medians[1][name]:>14.2f}")
        print(f"{name:<{width}}  " + "  ".join(cells) + f"  {goal_text}")


if __name__ == "__main__":
    main()
