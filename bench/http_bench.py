"""Throughput, tail latency and memory of the hot routes under wrk, against bare Flask served the same way.

    make bench            (or: .venv/bin/python bench/http_bench.py --rounds 1 --seconds 3 --json /tmp/b.json)
    make bench DB=postgres  (or: .venv/bin/python bench/http_bench.py --db postgres [--workers N])

Both apps run at once under gunicorn as `make run` serves (gunicorn.conf.py:
one gevent worker; an access log), on loopback. Viewtally runs on a
fresh SQLite file with 1,000 videos registered by the CLI, rate limits off
and the honest-counts filters on.

With --db postgres, Viewtally runs as a several-worker deployment does: a
new PostgreSQL database (dropped at the end) and the stats cache in Redis
under a key prefix of its own (deleted at the end), and both apps get
--workers (default: one a CPU; each worker serves many connections at once,
so more only add memory and lock waits). Everything else comes from
gunicorn.conf.py. Memory figures are then sums over the workers. Each round
loads each Viewtally route for --seconds, between two runs of the bare Flask
route of the same method (this machine's speed swings nearly threefold within
a minute, so each ratio is to the mean of the two runs beside it); a row shows the
median over --rounds of requests per second, p50 and p99, and of the ratios
of req/s and p99 to those bare Flask runs.

Views are spread over the 1,000 videos, each request a distinct viewer in a
desktop browser, so every view counts (a first view of the day: the costliest
kind); the "repeat" row sends the same viewer and video every time, so every
view is answered as a duplicate. Afterwards the run checks that the database
stored every view wrk saw acknowledged, and prints the worker's memory before
and after the load and its peak. --million then sends 1,000,000 more views
and reports how the worker's memory grew. --json PATH writes the figures for
bench/compare.py.
"""

import argparse
import json
import os
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36")
# Each request names its viewer (a fixed one, or a new one each time) and its video (a fixed
# path, or one of `videos` in turn); the bare Flask baseline gets the same headers.
LOAD_SCRIPT = """
local n = 0
wrk.method = "%(method)s"
wrk.headers["User-Agent"] = "%(agent)s"
request = function()
  n = n + 1
  if %(repeat)s then
    wrk.headers["X-Viewtally-Session"] = "%(viewer)s"
  else
    wrk.headers["X-Viewtally-Session"] = "%(viewer)s-" .. n
  end
  if %(report)s then
    -- a watch report of the view seeded for each video, playing a second further each pass
    local video, played = n %% %(videos)d, math.floor(n / %(videos)d) %% 600
    wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
    return wrk.format(nil, "%(prefix)s" .. video, nil, "view=" .. string.format("bench-view-%%020d", video)
                      .. "&seconds=" .. played .. "&position=" .. played .. "&duration=600")
  end
  if %(videos)d > 0 then
    return wrk.format(nil, "%(prefix)s" .. (n %% %(videos)d) .. "%(suffix)s")
  end
  return wrk.format(nil, "%(prefix)s")
end
"""
VIDEOS = 1000
HOT = "bench-0"  # the video the stats rows read, and the repeat row's video
# `make run`'s own flags (bar the address); everything else comes from gunicorn.conf.py.
MAKE_RUN_FLAGS = ["--access-logfile", "-"]
GROWTH_GOAL_MIB = 30
GROWTH_CHUNK_SECONDS = 60
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Served:
    """One gunicorn on loopback, stopped on exit; `workers` None keeps gunicorn.conf.py's count."""

    def __init__(self, app: str, folder: Path, env: dict, workers: int | None = None):
        self.port = free_port()
        self.log = folder / f"{self.port}.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers or 1
        count = ["--workers", str(workers)] if workers else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{self.port}", *MAKE_RUN_FLAGS, *count,
             "--control-socket", str(folder / f"{self.port}.ctl")],
            cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=self.log.open("w"),
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                requests.get(self.url, timeout=1)
                self._settle(deadline)
                return
            except (requests.ConnectionError, requests.Timeout):  # not listening, or workers still booting
                time.sleep(0.1)
        self.stop()
        raise SystemExit(f"{app} did not start:\n" + "\n".join(self.log.read_text().splitlines()[-20:]))

    def _settle(self, deadline: float) -> None:
        """Wait until every worker is forked and has loaded the app (its memory stops growing)."""
        previous = None
        while time.monotonic() < deadline:
            children = self._children()
            now = [self._status(child)["rss"] for child in children] if len(children) == self.workers else None
            if now and previous and len(now) == len(previous) and all(abs(a - b) < 1 for a, b in zip(now, previous)):
                return
            previous = now
            time.sleep(0.5)

    def _children(self) -> list[str]:
        return Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()

    @staticmethod
    def _status(pid: str) -> dict:
        status = Path(f"/proc/{pid}/status").read_text()
        read = lambda key: int(re.search(rf"{key}:\s+(\d+)", status).group(1)) / 1024  # noqa: E731
        return {"rss": read("VmRSS"), "peak": read("VmHWM")}

    def memory_mib(self) -> dict:
        """Return the workers' resident memory now and each one's peak (VmRSS, VmHWM), summed over the workers."""
        workers = [self._status(child) for child in self._children()]
        return {"rss": round(sum(w["rss"] for w in workers), 1), "peak": round(sum(w["peak"] for w in workers), 1),
                "workers": len(workers)}

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.stop()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(base_url: str, load: dict, seconds: float, connections: int, folder: Path) -> dict:
    """Run wrk once with `load` (method, prefix, suffix, videos, repeat) and return its figures."""
    script = folder / "load.lua"
    script.write_text(LOAD_SCRIPT % {
        "agent": USER_AGENT, "viewer": f"bench-{time.monotonic_ns()}", "suffix": "", "videos": 0,
        **load, "repeat": "true" if load.get("repeat") else "false",
        "report": "true" if load.get("report") else "false"})
    # A long timeout, so a slow answer counts in the latencies rather than as a socket error.
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s", "--latency",
               "-s", str(script), base_url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    percentile = lambda p: _ms(*re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups())  # noqa: E731
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": percentile(50), "p99_ms": percentile(99),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
    }


def register_videos(folder: Path, env: dict) -> None:
    """Register the benchmark's videos with the CLI, before the server starts."""
    csv = folder / "videos.csv"
    csv.write_text("id,title\n" + "".join(f"bench-{i},Benchmark video {i}\n" for i in range(VIDEOS)))
    subprocess.run([sys.executable, "-m", "flask", "--app", "app", "videos", "import", str(csv)], cwd=ROOT,
                   env={**os.environ, **env}, check=True, capture_output=True)


def stored_views(database_url: str) -> int:
    """Sum the videos' view counters, read straight from the database."""
    if database_url.startswith("sqlite:///"):
        with sqlite3.connect(f"file:{database_url[len('sqlite:///'):]}?mode=ro", uri=True) as connection:
            return connection.execute("SELECT COALESCE(SUM(views_total), 0) FROM videos").fetchone()[0]
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT COALESCE(SUM(views_total), 0) FROM videos")).scalar_one())
    finally:
        engine.dispose()


@contextmanager
def postgres_and_redis(postgres_url: str, redis_url: str):
    """Create a database and a Redis key prefix for one run; yield the settings, drop both afterwards."""
    import redis

    name = f"viewtally_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    cache = redis.Redis.from_url(redis_url)
    try:
        cache.ping()
        with admin.connect() as connection:
            version = connection.execute(sa.text("SHOW server_version")).scalar_one().split()[0]
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except (sa.exc.OperationalError, redis.RedisError) as error:
        admin.dispose()
        raise SystemExit(f"--db postgres needs PostgreSQL at {postgres_url} and Redis at {redis_url}: {error}")
    prefix = name.replace("_", "-")
    url = sa.engine.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield {
            "settings": {
                "FLASK_SQLALCHEMY_DATABASE_URI": url,
                "FLASK_CACHE_TYPE": "RedisCache", "FLASK_CACHE_REDIS_URL": redis_url,
                "FLASK_CACHE_KEY_PREFIX": f"{prefix}:",
                "FLASK_RATELIMIT_STORAGE_URI": redis_url, "FLASK_RATELIMIT_KEY_PREFIX": prefix,
            },
            "url": url,
            "label": f"PostgreSQL {version}, cache in Redis {cache.info('server')['redis_version']}",
        }
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        for key in cache.scan_iter(match=f"*{prefix}*"):
            cache.delete(key)
        cache.close()


@contextmanager
def sqlite_file(folder: Path):
    """Yield the settings of a new SQLite file in `folder`."""
    url = f"sqlite:///{folder / 'bench.db'}"
    yield {"settings": {"FLASK_SQLALCHEMY_DATABASE_URI": url}, "url": url, "label": "SQLite"}


def commit() -> str:
    found = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True)
    return found.stdout.strip() or "unknown"


# (row name, method, path prefix, path suffix, spread over the videos?, repeat viewer?, counts views?)
WATCH_ROW = "POST /api/analytics/watch/<id>"
ROUTES = [
    ("POST /api/analytics/view/<id>", "POST", "/api/analytics/view/bench-", "", True, False, True),
    (WATCH_ROW, "POST", "/api/analytics/watch/bench-", "", True, False, False),
    ("GET /api/analytics/pixel/<id>.gif", "GET", "/api/analytics/pixel/bench-", ".gif", True, False, True),
    ("POST /api/analytics/view/<id> (repeat)", "POST", f"/api/analytics/view/{HOT}", "", False, True, False),
    ("GET /api/analytics/stats/<id> (cached)", "GET", f"/api/analytics/stats/{HOT}", "", False, False, False),
    ("GET /api/analytics/stats/<id>/daily?days=30", "GET", f"/api/analytics/stats/{HOT}/daily?days=30", "",
     False, False, False),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2, help="length of each wrk run (default 2)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; rows show medians (default 7)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--json", metavar="PATH", type=Path, help="also write the figures to PATH as JSON")
    parser.add_argument("--million", dest="growth_views", action="store_const", const=1_000_000, default=0,
                        help="then send 1,000,000 views and report the worker's memory growth (long)")
    parser.add_argument("--growth-views", type=int, dest="growth_views", help=argparse.SUPPRESS)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite",
                        help="sqlite: a file, gunicorn.conf.py's one worker (default); "
                             "postgres: PostgreSQL and Redis, several workers")
    parser.add_argument("--workers", type=int,
                        help="gunicorn workers for both apps (default: gunicorn.conf.py's with sqlite, "
                             "one a CPU with postgres)")
    parser.add_argument("--postgres", default=POSTGRES_URL, metavar="URL",
                        help=f"PostgreSQL server where the run creates its database (default {POSTGRES_URL})")
    parser.add_argument("--redis", default=REDIS_URL, metavar="URL", help=f"Redis server (default {REDIS_URL})")
    options = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (make bench installs it with apt)")
    if options.workers is None and options.db == "postgres":
        options.workers = os.cpu_count() or 1

    started = time.monotonic()
    results = {name: [] for name, *_ in ROUTES}
    base = {"GET": [], "POST": []}
    acknowledged = in_flight = 0
    with tempfile.TemporaryDirectory() as tmp, \
            (postgres_and_redis(options.postgres, options.redis) if options.db == "postgres"
             else sqlite_file(Path(tmp))) as backend:
        folder = Path(tmp)
        def run(url: str, load: dict, seconds: float = options.seconds) -> dict:
            return wrk(url, load, seconds, options.connections, folder)

        env = {
            "VIEWTALLY_INSTANCE_PATH": str(folder / "instance"), **backend["settings"],
            "FLASK_ADMIN_TOKEN": "bench-admin-token", "FLASK_SECRET_KEY": "bench", "FLASK_RATELIMIT_ENABLED": "false",
        }
        register_videos(folder, env)
        with Served("bench.baseline_app:create_app()", folder, {}, options.workers) as baseline, \
                Served("app:create_app()", folder, env, options.workers) as served:
            # The repeat row's viewer is seen once first, so every view wrk sends is a duplicate.
            seeded = requests.post(f"{served.url}/api/analytics/view/{HOT}", timeout=10, headers={
                "User-Agent": USER_AGENT, "X-Viewtally-Session": "bench-repeat"}).json()["data"]["counted"]
            # Each video gets one counted view with a view id, which the watch row then reports on.
            for video in range(VIDEOS):
                requests.post(f"{served.url}/api/analytics/view/bench-{video}", timeout=10,
                              data={"view": f"bench-view-{video:020d}"},
                              headers={"User-Agent": USER_AGENT, "X-Viewtally-Session": f"bench-watcher-{video}"})
            memory_before = served.memory_mib()
            for _ in range(options.rounds):
                for name, method, prefix, suffix, spread, repeat, counts in ROUTES:
                    load = {"method": method, "prefix": prefix, "suffix": suffix, "videos": VIDEOS if spread else 0}
                    if repeat:
                        load.update(repeat=True, viewer="bench-repeat")
                    if name == WATCH_ROW:
                        load["report"] = True
                    # The bare route runs just before and just after, so a ratio compares runs
                    # seconds apart, and a drift of the machine's speed between them mostly cancels.
                    bare = {"method": method, "prefix": "/hello"}
                    before = run(baseline.url, bare)
                    result = run(served.url, load)
                    after = run(baseline.url, bare)
                    base[method] += [before, after]
                    result["rps_ratio"] = result["rps"] / statistics.mean((before["rps"], after["rps"]))
                    result["p99_ratio"] = result["p99_ms"] / statistics.mean((before["p99_ms"], after["p99_ms"]))
                    results[name].append(result)
                    if counts:
                        acknowledged += result["requests"] - result["non_2xx"]
                        # requests the server may finish after wrk stops counting, or whose answer wrk lost
                        in_flight += options.connections + result["socket_errors"]
            memory_after = served.memory_mib()
            growth = None
            if options.growth_views:
                sent, rate = 0, statistics.median(r["rps"] for r in results[ROUTES[0][0]])
                while sent < options.growth_views:
                    seconds = max(1, min(GROWTH_CHUNK_SECONDS, round((options.growth_views - sent) / rate)))
                    result = run(served.url, {"method": "POST", "prefix": "/api/analytics/view/bench-",
                                              "videos": VIDEOS}, seconds)
                    sent += result["requests"] - result["non_2xx"]
                    rate = max(result["rps"], 1.0)
                    in_flight += options.connections + result["socket_errors"]
                    print(f"  {sent:,} of {options.growth_views:,} views sent; workers' RSS "
                          f"{served.memory_mib()['rss']:.0f} MiB", file=sys.stderr)
                acknowledged += sent
                growth = {"views": sent, "before": memory_after, "after": served.memory_mib()}
            base_memory = baseline.memory_mib()
        counted = stored_views(backend["url"]) - (1 if seeded else 0) - VIDEOS  # the watch row's views

    median = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
    rows = []
    for method in base:
        runs = base[method]
        rows.append({"route": f"{method} /hello (bare Flask)", "method": method, "rps": median(runs, "rps"),
                     "p50_ms": median(runs, "p50_ms"), "p99_ms": median(runs, "p99_ms"), "rounds": runs})
    base_row = {row["method"]: row for row in rows}
    for name, method, *_ in ROUTES:
        runs = results[name]
        rows.append({"route": name, "method": method, "rps": median(runs, "rps"), "p50_ms": median(runs, "p50_ms"),
                     "p99_ms": median(runs, "p99_ms"), "rounds": runs})
    for row in rows:
        if any(row is bare for bare in base_row.values()):
            row["rps_ratio"], row["p99_ratio"] = 1.0, 1.0
        else:  # the median of the ratios to the bare runs beside each round's run
            row["rps_ratio"] = round(median(row["rounds"], "rps_ratio"), 3)
            row["p99_ratio"] = round(median(row["rounds"], "p99_ratio"), 2)
        row["non_2xx"] = sum(r["non_2xx"] for r in row["rounds"])
    exact = acknowledged <= counted <= acknowledged + in_flight
    seconds_taken = round(time.monotonic() - started)

    workers = memory_before["workers"]
    serving = (f"gunicorn.conf.py with --workers {options.workers}" if options.workers
               else "gunicorn as `make run` serves (gunicorn.conf.py)")
    print(f"wrk: 1 thread, {options.connections} connections, {options.seconds:g} s per route, "
          f"medians of {options.rounds} round(s); {serving}, both apps; {backend['label']}; "
          f"{os.cpu_count()} CPUs shared by wrk, the servers and the database; {VIDEOS} videos; commit {commit()}\n")
    print(f"{'route':<46} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s ×':>8} {'p99 ×':>7}")
    for row in rows:
        note = f"  ({row['non_2xx']} non-2xx)" if row["non_2xx"] else ""
        print(f"{row['route']:<46} {row['rps']:>7.0f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
              f"{row['rps_ratio']:>8.2f} {row['p99_ratio']:>7.1f}{note}")
    print("(req/s × and p99 ×: median over the rounds of the ratio to the mean of the bare Flask route of the\n"
          " same method run just before and just after it; the bare Flask rows are medians of all those runs)")
    print(f"\nviews acknowledged to wrk: {acknowledged}; stored by the server: {counted} "
          f"({'exact' if exact else 'MISMATCH'}; up to {in_flight} may finish after wrk stops counting)")
    if workers == 1:
        print(f"Viewtally worker memory: {memory_before['rss']:.0f} MiB before the load, "
              f"{memory_after['rss']:.0f} MiB after, peak {memory_after['peak']:.0f} MiB; "
              f"bare Flask {base_memory['rss']:.0f} MiB")
    else:
        print(f"Viewtally memory, summed over its {workers} workers: {memory_before['rss']:.0f} MiB before the load, "
              f"{memory_after['rss']:.0f} MiB after ({memory_after['rss'] / workers:.0f} MiB a worker), "
              f"sum of each worker's peak {memory_after['peak']:.0f} MiB; bare Flask's "
              f"{base_memory['workers']} workers {base_memory['rss']:.0f} MiB")
    if growth:
        grew = growth["after"]["rss"] - growth["before"]["rss"]
        summed = f" summed over {workers} workers" if workers > 1 else ""
        print(f"after {growth['views']:,} more views: {growth['after']['rss']:.0f} MiB{summed} "
              f"(grew {grew:+.0f} MiB; goal < {GROWTH_GOAL_MIB} MiB), peak {growth['after']['peak']:.0f} MiB")
    print(f"run took {seconds_taken} s")
    if options.json:
        figures = {
            "commit": commit(), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cpus": os.cpu_count(), "seconds": options.seconds, "rounds": options.rounds,
            "connections": options.connections, "videos": VIDEOS, "db": options.db, "backend": backend["label"],
            "workers": workers, "rows": rows,
            "views": {"acknowledged": acknowledged, "stored": counted, "in_flight": in_flight, "exact": exact},
            "memory_mib": {"before": memory_before, "after": memory_after, "baseline": base_memory,
                           "growth": growth},
            "run_seconds": seconds_taken,
        }
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {options.json}")
    if not exact:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
