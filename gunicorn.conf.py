"""gunicorn settings, read whenever gunicorn starts in this folder."""

# One process keeps the in-memory cache, the rate limiter and the scheduler
# coherent. Its worker is gevent's: every connection is a greenlet, so a
# client that sends half a request and stalls holds a few kilobytes, not one
# of a handful of threads (with threads, nine such clients froze the
# service). The standard library is patched when the worker starts, before
# the app is imported, so sockets, locks, the scheduler's thread, Redis and
# psycopg 3 all yield to other greenlets while they wait (so no --preload:
# it would import the app unpatched). Command-line flags override these.
workers = 1
worker_class = "gevent"
# Connections served at once; more wait in the listen queue.
worker_connections = 1000
# On this worker, the seconds a client has to send a whole request head,
# counted from connecting or from the last answer on a kept-alive connection;
# then the connection is closed. A body is read as slowly as it arrives.
keepalive = 5
# A worker that stops reporting for this long (an event loop stuck in C) is
# replaced; it bounds no single request on this worker.
timeout = 30
# The access log names no viewer: no client address, user agent, referrer or query string.
access_log_format = '%(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'
# gunicorn believes no forwarded header from anyone (its default trusts 127.0.0.1's
# X-Forwarded-Proto, and any peer on a UNIX socket): the app's ProxyFix believes
# exactly TRUSTED_PROXIES hops, and none when that is 0.
forwarded_allow_ips = ""
secure_scheme_headers: dict = {}
forwarder_headers = ""


# Where the workers keep their request and error figures for /metrics (analytics/metrics.py),
# and the names of those files: prometheus_client's, and analytics/request_times.py's.
METRICS_FOLDER = "PROMETHEUS_MULTIPROC_DIR"
METRICS_FILES = ("*.db", "request_times_*.bin")


def on_starting(server):
    """Give the workers one folder for their figures, emptied of the last run's, before any worker starts.

    The master sets PROMETHEUS_MULTIPROC_DIR, so each worker has it before
    it imports prometheus_client, which picks its mode then. A folder the
    environment names is emptied (it must be this server's alone); otherwise
    a private one is made.
    """
    import os
    import tempfile
    from pathlib import Path

    folder = os.environ.get(METRICS_FOLDER)
    server.viewtally_made_metrics_folder = None  # on the arbiter: a reload (HUP) reads this file anew
    if folder:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        for pattern in METRICS_FILES:
            for path in Path(folder).glob(pattern):
                path.unlink()
    else:
        folder = os.environ[METRICS_FOLDER] = tempfile.mkdtemp(prefix="viewtally-metrics-")
        server.viewtally_made_metrics_folder = folder
    server.log.info("Metrics of the workers in %s", folder)


def child_exit(server, worker):
    """Let the metrics forget a dead worker's live gauges (its counters and latencies stay in the totals)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """Remove the metrics folder this server made."""
    import shutil

    made = getattr(server, "viewtally_made_metrics_folder", None)
    if made:
        shutil.rmtree(made, ignore_errors=True)


def post_worker_init(worker):
    """Start the reset scheduler in each worker, after the fork, and say the worker serves.

    The objects the app holds for good (modules, SQLAlchemy's tables and
    compiled statements) are then moved out of the garbage collector's sight:
    its full collections otherwise walk them all, a pause of several ms
    that fell on whichever request was running.
    """
    import gc

    from analytics import serving

    app = worker.wsgi
    if "viewtally.scheduler" in getattr(app, "extensions", {}):
        serving.worker_started(app, worker.cfg.workers)
    # "Booting worker" comes before the app is loaded; this line comes once it is.
    worker.log.info("Worker serving (pid: %s)", worker.pid)
    gc.collect()
    gc.freeze()


def post_request(worker, req, environ, resp):
    """Let the other connections' requests run before this connection's next one.

    A kept-alive client that sends its next request at once would otherwise
    find it already on the socket and be served again and again, while the
    other greenlets wait: under wrk, bare Flask answered in a few ms at p50 but 700 ms at p99.
    """
    import sys

    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("socket"):
        import gevent

        gevent.sleep(0)
