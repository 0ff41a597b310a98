"""The figures of GET /metrics: the deployment's views and jobs, and each process's requests and errors.

What the database holds for every worker already (views by outcome in
daily_summary, the jobs in job_runs) is read from it at each scrape:
exact across workers and restarts, at no cost to a request. What only a
process sees is counted in it: request durations in a table of its own
(request_times.py: cheaper on every request than a prometheus_client
Histogram), database and cache errors, which are rare, in prometheus_client
counters. Served from gunicorn.conf.py, both are kept in files in
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode for the
counters), and a scrape, whichever worker answers it, adds up the files of
every worker, those of workers gone since the server started included.
Without that folder (flask run, tests) each app keeps its figures in
memory of its own, so two apps in one process never mix them.
"""

import logging
from collections.abc import Iterable

import sqlalchemy as sa
from flask import Flask, has_app_context
from prometheus_client import CollectorRegistry, Counter, generate_latest, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import event

from . import config
from .context import running_app
from .extensions import db
from .request_times import RequestTimes, timed
from .services import job_runs, outcomes

log = logging.getLogger(__name__)

_EXTENSION = "viewtally.metrics"
_shared_errors = None  # this process's error counters in multiprocess mode: the files are per process, not per app


def multiprocess() -> bool:
    """Tell whether prometheus_client keeps figures in files (PROMETHEUS_MULTIPROC_DIR was set when it loaded)."""
    return values.ValueClass._multiprocess


class Errors:
    """A process's database and cache error counters, in `registry` (None in multiprocess mode: in files)."""

    def __init__(self, registry: CollectorRegistry | None):
        self.registry = registry
        self.database = Counter("viewtally_database_errors", "Errors the database raised, by SQLAlchemy's "
                                "kind of error", ("kind",), registry=registry)
        self.cache = Counter("viewtally_cache_errors", "Stats cache operations that failed (served from the "
                             "database instead)", ("operation",), registry=registry)
        # Listed at 0 from the start: a series born at 1 is no increase to rate() and increase().
        self.database.labels("OperationalError")
        for operation in ("read", "write"):
            self.cache.labels(operation)


class Instruments:
    """What one app counts in this process: request times and errors."""

    def __init__(self, times: RequestTimes, errors: Errors):
        self.times = times
        self.errors = errors


def init_app(app: Flask) -> None:
    """Time every request and count the database's errors (after the blueprints: the routes shape the table)."""
    global _shared_errors
    if multiprocess():
        errors = _shared_errors = _shared_errors or Errors(None)
        times = RequestTimes(app, config.metrics_folder())
    else:
        errors, times = Errors(CollectorRegistry()), RequestTimes(app, None)
    app.extensions[_EXTENSION] = Instruments(times, errors)
    app.wsgi_app = timed(app.wsgi_app, times)
    with app.app_context():
        event.listen(db.engine, "handle_error", lambda context: _count_engine_error(errors, context))


def _count_engine_error(errors: Errors, context) -> None:
    # A pre-ping that finds a dropped connection is answered by a new one: no error reaches anyone.
    if context.sqlalchemy_exception is not None and not context.is_pre_ping:
        errors.database.labels(type(context.sqlalchemy_exception).__name__).inc()


def count_database_error(error: Exception) -> None:
    """Count an error of the database met outside SQLAlchemy's engine (prepared.py runs on the driver's cursor)."""
    if has_app_context():
        running_app().extensions[_EXTENSION].errors.database.labels(type(error).__name__).inc()


def count_cache_error(operation: str) -> None:
    """Count a failed stats cache operation: "read" or "write"."""
    if has_app_context():
        running_app().extensions[_EXTENSION].errors.cache.labels(operation).inc()


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
    instruments = running_app().extensions[_EXTENSION]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseFigures(jobs))
    registry.register(instruments.times)
    if multiprocess():
        MultiProcessCollector(registry)
    else:
        registry.register(instruments.errors.registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST
