"""The figures of GET /metrics: the deployment's views and jobs, and each process's requests and errors.

What the database holds for every worker already (views by outcome in
daily_summary, the jobs in job_runs) is read from it at each scrape:
exact across workers and restarts, at no cost to a request. What only a
process sees (request latency, database and cache errors) is counted in
prometheus_client instruments. Served from gunicorn.conf.py, these are in
prometheus_client's multiprocess mode: every worker writes its figures to
files in PROMETHEUS_MULTIPROC_DIR, and a scrape, whichever worker answers
it, adds up the files of all of them, those of workers gone since the
server started included. Without that folder (flask run, tests) each app
keeps its instruments in a registry of its own, so two apps in one process
never mix their figures.
"""

import logging
from collections.abc import Iterable
from time import perf_counter

import sqlalchemy as sa
from flask import Flask, has_app_context
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event

from .context import running_app
from .extensions import db
from .services import job_runs, outcomes

log = logging.getLogger(__name__)

_EXTENSION = "viewtally.metrics"
# The hot routes answer in about a millisecond; the slowest pages in a few hundred.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Any other method (a client may send anything) is labelled "other", so the labels stay few.
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
UNMATCHED = "unmatched"  # the route of a request that matched none (a 404, or a 405)
_shared = None  # this process's instruments in multiprocess mode: the files are per process, not per app


def multiprocess() -> bool:
    """Tell whether prometheus_client keeps figures in files (PROMETHEUS_MULTIPROC_DIR was set when it loaded)."""
    return values.ValueClass._multiprocess


class Instruments:
    """A process's request latency and error counters, in `registry` (None in multiprocess mode: in files)."""

    def __init__(self, registry: CollectorRegistry | None):
        self.registry = registry
        self.latency = Histogram(
            "viewtally_request_duration_seconds", "Time to answer a request, by route rule, method and status class",
            ("route", "method", "status"), buckets=LATENCY_BUCKETS, registry=registry)
        self.database_errors = Counter(
            "viewtally_database_errors", "Errors the database raised, by SQLAlchemy's kind of error",
            ("kind",), registry=registry)
        self.cache_errors = Counter(
            "viewtally_cache_errors", "Stats cache operations that failed (served from the database instead)",
            ("operation",), registry=registry)
        # (route, method, status class): its histogram, so a request looks one label set up once.
        self._timers: dict[tuple[str, str, str], Histogram] = {}

    def observe(self, environ: dict, status: str, seconds: float) -> None:
        """Add one request's duration under its route rule (the pattern, never the path) and status class."""
        request = environ.get("werkzeug.request")
        rule = request.url_rule if request is not None else None
        method = environ.get("REQUEST_METHOD")
        key = (rule.rule if rule is not None else UNMATCHED, method if method in METHODS else "other", status[0])
        timer = self._timers.get(key)
        if timer is None:
            route, method, status_class = key
            timer = self._timers[key] = self.latency.labels(route, method, f"{status_class}xx")
        timer.observe(seconds)


class RequestTimer:
    """WSGI middleware timing each request from its arrival to the start of its answer.

    The answer starts inside the app, while its request is still current,
    so the request's route rule can be read then (once the app returns,
    Flask has let go of the request). An exception that escapes the app
    (none does: errors.py answers every one) is left to the server's log.
    """

    def __init__(self, wsgi_app, instruments: Instruments):
        self.wsgi_app = wsgi_app
        self.observe = instruments.observe

    def __call__(self, environ, start_response):
        started = perf_counter()

        def start(status: str, headers, exc_info=None):
            self.observe(environ, status, perf_counter() - started)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def init_app(app: Flask) -> None:
    """Time every request and count the database's errors, into this app's (or process's) instruments."""
    global _shared
    if multiprocess():
        instruments = _shared = _shared or Instruments(None)
    else:
        instruments = Instruments(CollectorRegistry())
    app.extensions[_EXTENSION] = instruments
    app.wsgi_app = RequestTimer(app.wsgi_app, instruments)
    with app.app_context():
        event.listen(db.engine, "handle_error", lambda context: _count_engine_error(instruments, context))


def _count_engine_error(instruments: Instruments, context) -> None:
    # A pre-ping that finds a dropped connection is answered by a new one: no error reaches anyone.
    if context.sqlalchemy_exception is not None and not context.is_pre_ping:
        instruments.database_errors.labels(type(context.sqlalchemy_exception).__name__).inc()


def count_database_error(error: Exception) -> None:
    """Count an error of the database met outside SQLAlchemy's engine (prepared.py runs on the driver's cursor)."""
    if has_app_context():
        running_app().extensions[_EXTENSION].database_errors.labels(type(error).__name__).inc()


def count_cache_error(operation: str) -> None:
    """Count a failed stats cache operation: "read" or "write"."""
    if has_app_context():
        running_app().extensions[_EXTENSION].cache_errors.labels(operation).inc()


class DatabaseFigures:
    """A collector of what the database holds for the whole deployment: views by outcome, job runs."""

    def __init__(self, jobs: Iterable[str]):
        self.jobs = tuple(jobs)

    def collect(self):
        up = GaugeMetricFamily("viewtally_database_up", "1 when this scrape could read the figures in the database")
        try:
            views, runs = outcomes.views_by_outcome(), job_runs.last_runs()
        except sa.exc.SQLAlchemyError as error:
            # The process's own figures are still worth answering; the database's error is counted above.
            log.warning("metrics: database figures unavailable (%s)", error.__class__.__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        counted = CounterMetricFamily("viewtally_views", "Views received, by outcome: counted, or why not",
                                      labels=["outcome"])
        for outcome, total in views.items():
            counted.add_metric([outcome], total)
        yield counted
        success = GaugeMetricFamily("viewtally_job_last_success_timestamp_seconds",
                                    "When the job last succeeded, Unix time; 0 until it first does", labels=["job"])
        failures = CounterMetricFamily("viewtally_job_failures", "Failed runs of the job", labels=["job"])
        for job in self.jobs:
            run = runs.get(job, {})
            # A row written before succeeded_at existed: its last run, if ok, is its last success.
            succeeded = run.get("succeeded_at") or (run["ran_at"] if run.get("outcome") == "ok" else None)
            success.add_metric([job], succeeded.timestamp() if succeeded else 0)
            failures.add_metric([job], run.get("failures") or 0)
        yield success
        yield failures


def exposition(jobs: Iterable[str]) -> tuple[bytes, str]:
    """Return the deployment's figures in Prometheus text format, and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseFigures(jobs))
    if multiprocess():
        MultiProcessCollector(registry)
    else:
        registry.register(running_app().extensions[_EXTENSION].registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
