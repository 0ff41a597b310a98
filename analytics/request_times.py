"""How long requests take, by route rule, method and status class: a histogram kept as a table of floats.

prometheus_client's Histogram takes a lock for the bucket and one for the
sum, and in multiprocess mode writes each through several Python calls:
timed with it, a cached stats answer took 5.6 % more instructions under
gevent (8.3 % in multiprocess mode; bench/instructions.py). Here an
observation adds to two floats of a table in place, and the timing costs
1.6 % (2.2 %).

The table has a row per route rule and method it takes, and one per
method for requests that matched no route, each for the status classes
1xx to 5xx; a row holds the count of each bucket, then the sum of the
durations. Each process keeps its own table. With PROMETHEUS_MULTIPROC_DIR
set (gunicorn.conf.py sets it) the table is a file there, mapped into
memory, and a scrape adds up the tables of every process of the server,
those of workers gone since it started included. The rows' places follow
from the app's routes, the same in every worker; the file's name carries
a digest of them, so a server restarted with other routes never adds up
rows that do not match. Without that folder the table is in this
process's memory alone.

The gevent worker switches between requests only when one waits, never
between reading a float and writing it back, so no observation is lost;
under a worker of threads one could be, rarely.
"""

import hashlib
import itertools
import mmap
import os
import weakref
from array import array
from bisect import bisect_left
from pathlib import Path
from time import perf_counter

from flask import Flask
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

NAME = "viewtally_request_duration_seconds"
# The hot routes answer in about a millisecond; the slowest pages in a few hundred.
BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WIDTH = len(BOUNDS) + 2  # a count per bucket, +Inf's included, then the sum
LE = [floatToGoString(bound) for bound in BOUNDS] + ["+Inf"]
# A request that matched no route (404, 405) may carry any method; others are counted as "other".
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other")
UNMATCHED = "unmatched"
STATUS_CLASSES = "12345"
FILE_PREFIX = "request_times_"  # beside prometheus_client's files, which are *.db
_open_tables: "weakref.WeakSet[RequestTimes]" = weakref.WeakSet()


class RequestTimes:
    """The request-duration table of one app in one process, and its reading for a scrape."""

    def __init__(self, app: Flask, folder: str | None):
        rules = app.url_map.iter_rules()
        routes = sorted({(rule.rule, method) for rule in rules for method in rule.methods or METHODS})
        routes += [(UNMATCHED, method) for method in METHODS]
        keys = [(route, method, status) for route, method in routes for status in STATUS_CLASSES]
        self.rows = {key: number * WIDTH for number, key in enumerate(keys)}
        self.digest = hashlib.sha256(repr(keys).encode()).hexdigest()[:12]
        self.folder = folder
        self._open()
        if folder:
            _open_tables.add(self)

    def _open(self) -> None:
        """Map this process's file, or make a table in memory when there is no folder.

        A file left by a dead process whose pid this one now has is carried
        on, not emptied: the server's totals must only grow.
        """
        size = len(self.rows) * WIDTH
        if not self.folder:
            self.table = memoryview(array("d", [0.0]) * size)
            return
        path = Path(self.folder, f"{FILE_PREFIX}{self.digest}_{os.getpid()}.bin")
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(descriptor).st_size != 8 * size:
                os.ftruncate(descriptor, 8 * size)
            self.table = memoryview(mmap.mmap(descriptor, 8 * size)).cast("d")
        finally:
            os.close(descriptor)  # the mapping stays

    def observe(self, route: str, method: str, status_class: str, seconds: float) -> None:
        """Add one request's duration to its row."""
        rows = self.rows
        row = rows.get((route, method, status_class))
        if row is None:  # a method no route takes (so the request matched none), or a status past 5xx
            row = rows.get((UNMATCHED, method if method in METHODS else "other", status_class))
            if row is None:
                return
        table = self.table
        table[row + bisect_left(BOUNDS, seconds)] += 1
        table[row + WIDTH - 1] += seconds

    def totals(self) -> list[float]:
        """Return the table added up over every process of this server (or this process's own)."""
        if not self.folder:
            return self.table.tolist()
        totals = [0.0] * len(self.table)
        for path in Path(self.folder).glob(f"{FILE_PREFIX}{self.digest}_*.bin"):
            values = array("d", path.read_bytes())
            if len(values) == len(totals):
                totals = [total + value for total, value in zip(totals, values)]
        return totals

    def collect(self):
        """Yield the histogram of every row that has seen a request (a prometheus_client collector)."""
        totals = self.totals()
        family = HistogramMetricFamily(NAME, "Time to answer a request, by route rule, method and status class",
                                       labels=["route", "method", "status"])
        for (route, method, status_class), row in self.rows.items():
            counts = totals[row:row + WIDTH - 1]
            if any(counts):
                family.add_metric([route, method, f"{status_class}xx"],
                                  list(zip(LE, itertools.accumulate(counts))), totals[row + WIDTH - 1])
        yield family


def timed(wsgi_app, times: RequestTimes):
    """Wrap a WSGI app so each request's time, from its arrival to the start of its answer, is observed.

    The answer starts inside the app, while its request is still current,
    so its route rule is read then (once the app returns, Flask has let go
    of the request). An exception that escapes the app (none does:
    errors.py answers every one) is left to the server's log.
    """
    observe = times.observe

    def timed_app(environ, start_response):
        started = perf_counter()

        def start(status: str, headers, exc_info=None):
            request = environ.get("werkzeug.request")
            rule = request.url_rule if request is not None else None
            observe(rule.rule if rule is not None else UNMATCHED, environ.get("REQUEST_METHOD"), status[0],
                    perf_counter() - started)
            return start_response(status, headers, exc_info)

        return wsgi_app(environ, start)

    return timed_app


def _reopen_in_child() -> None:
    """Give a forked process tables of its own: two processes adding to one file would lose figures."""
    for times in list(_open_tables):
        times._open()


os.register_at_fork(after_in_child=_reopen_in_child)
