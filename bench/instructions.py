"""CPU instructions per request of the hot routes, counted by valgrind: a figure the machine's noise leaves alone.

    .venv/bin/python bench/instructions.py            (about 8 minutes; needs valgrind)
    .venv/bin/python bench/instructions.py --routes view --requests 2000

A shared machine's speed swings nearly threefold within a minute, so two commits
a few per cent apart cannot be told apart by requests a second. This
counts instructions instead (valgrind's callgrind, which counts the same
for the same work whatever else runs). The apps are served in-process,
without gunicorn, by 16 green threads under gevent as the worker serves
them (so views are written in batches, as under wrk): bare Flask's hello,
a counted view (a new viewer each, 1,000 videos in turn, the filters on)
and a cached stats read, on a fresh SQLite file. Each route runs twice
under callgrind, with 200 requests and with 200 more than --requests,
both after the same warm-up and under one hash seed (with a random seed
the start-up alone differed by a hundred million instructions between
two runs); the difference over the extra requests is the figure. The WAL
checkpoint thread is held off (its share depends on wall-clock time, which valgrind
stretches fifty-fold), and the objects made before the load are frozen out
of the garbage collector's sight, as the worker does. Counts leave out the kernel: a commit's writes to
the log cost more than their instructions say.
"""

import argparse
import gc
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36")
GREEN_THREADS = 16
VIDEOS = 1000
WARM_UP = 300
BASE_REQUESTS = 200  # measured in both runs of a route: the figure is what the longer run adds
# route -> (app, method, path; %d is a video number)
ROUTES = {
    "hello": ("bare", "GET", "/hello"),
    "view": ("viewtally", "POST", "/api/analytics/view/bench-%d"),
    "stats": ("viewtally", "GET", "/api/analytics/stats/bench-0"),
}


def serve(route: str, requests: int) -> None:
    """Build the apps and send `route` `requests` times after a warm-up (run under valgrind)."""
    from gevent import monkey

    monkey.patch_all()
    import gevent

    sys.path.insert(0, str(ROOT))
    folder = tempfile.mkdtemp()
    os.environ.update({"VIEWTALLY_INSTANCE_PATH": f"{folder}/instance",
                       "FLASK_SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db",
                       "FLASK_ADMIN_TOKEN": "bench-admin-token", "FLASK_SECRET_KEY": "bench",
                       "FLASK_RATELIMIT_ENABLED": "false", "FLASK_SCHEDULER_ENABLED": "false"})
    from analytics import wal
    from analytics.clock import current_clock
    from analytics.services.videos import create_video
    from app import create_app
    from bench.baseline_app import create_app as bare_app

    wal.INTERVAL_SECONDS = float("inf")
    apps = {"viewtally": create_app(), "bare": bare_app()}
    with apps["viewtally"].app_context():
        for number in range(VIDEOS):
            create_video(f"bench-{number}", f"Benchmark video {number}", current_clock())
    app_name, method, path = ROUTES[route]
    app = apps[app_name]

    def one(number: int, viewer: str) -> None:
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path % (number % VIDEOS) if "%d" in path else path,
                   "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000",
                   "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(),
                   "wsgi.errors": sys.stderr, "wsgi.version": (1, 0), "wsgi.multithread": True,
                   "wsgi.multiprocess": False, "wsgi.run_once": False, "REMOTE_ADDR": "127.0.0.1",
                   "HTTP_HOST": "127.0.0.1:8000", "HTTP_USER_AGENT": USER_AGENT,
                   "HTTP_X_VIEWTALLY_SESSION": viewer}
        for _ in app(environ, lambda status, headers, exc_info=None: None):
            pass

    def load(count: int, tag: str) -> None:
        def green(start: int) -> None:
            for number in range(start, count, GREEN_THREADS):
                one(number, f"{tag}-{number}")
                gevent.sleep(0)  # as gunicorn.conf.py's post_request: the others' turn
        gevent.joinall([gevent.spawn(green, start) for start in range(GREEN_THREADS)])

    load(WARM_UP, "warm-up")
    gc.collect()
    gc.freeze()  # as gunicorn.conf.py does once the worker has loaded the app
    load(requests, "measured")


def instructions(route: str, counts: tuple[int, ...], folder: Path) -> list[int]:
    """Return the instructions callgrind counted in whole runs of `route`, one run per request count, at once."""
    runs = []
    for requests in counts:
        out = folder / f"{route}-{requests}.out"
        runs.append((out, subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, __file__,
             "--serve", route, "--requests", str(requests)],
            cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)))
    totals = []
    for out, run in runs:
        _, errors = run.communicate()
        if run.returncode:
            raise SystemExit(f"the {route} run failed:\n{errors[-2000:]}")
        totals.append(int(re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.M).group(1)))
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", default="hello,view,stats", help="comma-separated: hello, view, stats")
    parser.add_argument("--requests", type=int, default=1000, help="measured requests per route (default 1000)")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve(options.serve, options.requests)
        return
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    routes = options.routes.split(",")
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for route in routes:
            few, many = instructions(route, (BASE_REQUESTS, BASE_REQUESTS + options.requests), Path(tmp))
            figures[route] = (many - few) / options.requests
            print(f"{route:<6} {figures[route]:>12,.0f} instructions a request", flush=True)
    if "hello" in figures:
        for route in routes:
            if route != "hello":
                print(f"{route}: {figures[route] / figures['hello']:.2f} times bare Flask's hello")


if __name__ == "__main__":
    main()
