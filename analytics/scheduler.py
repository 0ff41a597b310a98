"""The midnight resets, the hourly log purge and the period sums, run once per deployment by one elected thread.

Each serving process starts a daemon thread after the server forks
(gunicorn's post_worker_init hook, or the first request under ``flask
run``), never at import, never in CLI commands or tests unless asked. At
every wake each thread tries to take or renew a lease in the database
(services/lease.py); only the holder runs jobs, so each job runs once per
deployment, however many workers or hosts serve it. The holder renews
every third of SCHEDULER_LEASE_SECONDS; if it dies, its lease lapses and
another thread takes it at its next wake, within SCHEDULER_LEASE_SECONDS
and a third more. A thread that takes the lease catches up: every job runs
once, so a reset missed while no one held it is done. A reset zeroes only
counters stamped with another period and the purge deletes only rows past
LOG_RETENTION_DAYS, so running late or twice is harmless.

The calendar comes from the app's clock, not from `schedule`'s wall-clock
``at()``: each job runs once per period (the local day, the local month,
the UTC hour), and the thread's one `schedule` job wakes when the next
period begins (or within a minute, whichever is sooner) and runs each job
whose period has changed since its last successful run. So a midnight
that a DST change skips, a machine clock that steps, or a suspended host
never cause a missed reset, and a failed job is tried again at the next
wake.
"""

import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Callable

import schedule
from flask import Flask

from .clock import Clock, iso_utc
from .services import job_runs, lease, period_sums, retention
from .services.resets import reset_daily, reset_monthly

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """A service function run once per period, and how to tell its period and the next one's start."""

    run: Callable[[Clock], int]
    period: Callable[[Clock], object]  # runs again once this changes: a date, an hour, or a pair
    next_start: Callable[[Clock], datetime]
    done: str  # the log line's account of a run, with {} for the count


def _day(clock: Clock) -> date:
    return clock.period().day


def _month(clock: Clock) -> date:
    return clock.period().month


def _utc_hour(clock: Clock) -> datetime:
    # UTC, not local: an hour that DST repeats or skips must not purge twice or never.
    return clock.now().replace(minute=0, second=0, microsecond=0)


def _next_utc_hour(clock: Clock) -> datetime:
    return _utc_hour(clock) + timedelta(hours=1)


def _day_and_utc_hour(clock: Clock) -> tuple:
    return _day(clock), _utc_hour(clock)


def _next_day_or_utc_hour(clock: Clock) -> datetime:
    return min(clock.next_day_start(), _next_utc_hour(clock))


JOBS = {
    "daily_reset": Job(partial(reset_daily, stale_only=True), _day, Clock.next_day_start, "reset {} videos"),
    "monthly_reset": Job(partial(reset_monthly, stale_only=True), _month, Clock.next_month_start, "reset {} videos"),
    "purge": Job(retention.purge, _utc_hour, _next_utc_hour,
                 "deleted {} expired rows (view log, viewer hashes, watch reports, sites)"),
    # At local midnight, when the periods move on, and each hour, to add up again what an import changed.
    "period_sums": Job(period_sums.refresh, _day_and_utc_hour, _next_day_or_utc_hour,
                       "added up {} videos' views over the periods' past days"),
}
MAX_SLEEP_SECONDS = 60.0
MIN_SLEEP_SECONDS = 0.05
LEASE = "scheduler"
_EXTENSION = "viewtally.scheduler"
_start_lock = threading.Lock()


class ResetScheduler:
    """A private `schedule.Scheduler`, the thread that runs it, and the period each job last ran for."""

    def __init__(self, app: Flask):
        self.app = app
        self.clock: Clock = app.extensions["viewtally.clock"]
        self._schedule = schedule.Scheduler()
        self._stop = threading.Event()
        self._done: dict[str, object] = {}  # the period each job last ran for, successfully
        self._failing: set[str] = set()
        self._thread = threading.Thread(target=self._loop, name="viewtally-scheduler", daemon=True)
        # Host and pid say who runs the jobs; the random part tells a restarted pid from its predecessor.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.lease_seconds: int = app.config["SCHEDULER_LEASE_SECONDS"]
        self.is_runner = False
        self._taken = False  # the lease was taken since the last tick

    def start(self) -> None:
        self._thread.start()
        log.info("scheduler started: resets at 00:00 %s, purge hourly, period sums hourly and at 00:00",
                 self.app.config["TIMEZONE"])

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self.is_runner:  # hand over now rather than when the lease lapses
            self.is_runner = False
            try:
                with self.app.app_context():
                    lease.release(LEASE, self.holder, self.clock)
            except Exception as error:
                log.warning("could not release the scheduler lease: %s", _summary(error))

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def next_runs(self) -> dict[str, str]:
        """Return when each job runs next, as ISO 8601 UTC."""
        return {name: iso_utc(job.next_start(self.clock)) for name, job in JOBS.items()}

    def catch_up(self) -> list[str]:
        """Run every job now: zero whatever a missed midnight left stale, purge what is old."""
        self._done.clear()
        return self.tick("catch-up")

    def tick(self, trigger: str = "schedule") -> list[str]:
        """Renew the lease; if this process holds it, run each job whose period is not the one it last ran for.

        Return the names of the jobs run. Only a run that succeeds is
        remembered, so a failed one is tried again at the next wake. A clock
        that steps back runs a job again, which is harmless: resets only zero
        counters of another period, and a purge finds nothing more to delete.
        """
        if not self.renew_lease():
            return []
        if self._taken and trigger == "schedule":
            trigger = "take-over"  # another process held the lease until now
        self._taken = False
        current = {name: job.period(self.clock) for name, job in JOBS.items()}
        due = [name for name in JOBS if self._done.get(name) != current[name]]
        ran = []
        for name in due:
            if ran and not self.renew_lease():
                break  # the jobs before outlasted the lease, and another process took it
            ran.append(name)
            if self.run_job(name, trigger):
                self._done[name] = current[name]
        return ran

    def renew_lease(self) -> bool:
        """Take or renew the lease that elects the runner; return whether this process holds it.

        Taking it forgets which periods ran, so the new holder catches up on
        whatever its predecessor missed. A database that cannot be asked
        counts as a lost lease: two runners are worse than a late one.
        """
        was_runner = self.is_runner
        try:
            with self.app.app_context():
                self.is_runner = lease.take(LEASE, self.holder, self.lease_seconds, self.clock)
        except Exception as error:
            self.is_runner = False
            if was_runner:
                log.error("could not renew the scheduler lease: %s", _summary(error))
        if self.is_runner and not was_runner:
            self._done.clear()
            self._taken = True
            log.info("scheduler lease taken by %s: this process runs the jobs", self.holder)
        elif was_runner and not self.is_runner:
            log.warning("scheduler lease lost by %s: another process runs the jobs", self.holder)
        return self.is_runner

    def run_job(self, name: str, trigger: str) -> bool:
        """Run one job, log and store its outcome; never raise. Return whether it succeeded.

        The first failure in a row is logged with its traceback, the retries
        that follow in one line each, so an outage does not flood the log.
        """
        again = name in self._failing
        with self.app.app_context():
            try:
                count = JOBS[name].run(self.clock)
                outcome = {"outcome": "ok", "count": count, "error": None}
                log.info("%s (%s): %s", name, trigger, JOBS[name].done.format(count))
                self._failing.discard(name)
            except Exception as error:
                outcome = {"outcome": "error", "count": None, "error": _summary(error)}
                if again:
                    log.error("%s (%s) failed again: %s", name, trigger, outcome["error"])
                else:
                    log.exception("%s (%s) failed; retrying at every wake", name, trigger)
                self._failing.add(name)
            try:
                job_runs.record(name, {"ran_at": self.clock.now(), "trigger": trigger, **outcome})
            except Exception as error:
                if outcome["outcome"] == "ok" or not again:
                    log.error("could not store the outcome of %s: %s", name, _summary(error))
        return outcome["outcome"] == "ok"

    def _arm(self) -> None:
        """Replace the one job with a wake when the next period begins, or sooner to renew the lease."""
        next_start = min(job.next_start(self.clock) for job in JOBS.values())
        until_next = (next_start - self.clock.now()).total_seconds()
        self._schedule.clear()
        # Three renewals a lease: a holder survives a late wake, a dead one is replaced quickly.
        self._schedule.every(_clamp(min(until_next, self.lease_seconds / 3))).seconds.do(self._wake)

    def _wake(self) -> type[schedule.CancelJob]:
        try:
            self.tick()
        finally:
            self._arm()
        return schedule.CancelJob

    def step(self) -> float:
        """Run the job if it is due; return how long the thread may sleep."""
        idle = self._schedule.idle_seconds
        if idle is None or idle > MAX_SLEEP_SECONDS + 1:
            # `schedule` keeps naive local time: a machine clock set back would stall it.
            self._arm()
        self._schedule.run_pending()
        idle = self._schedule.idle_seconds
        return _clamp(MAX_SLEEP_SECONDS if idle is None else idle)

    def _loop(self) -> None:
        caught_up = False
        while not self._stop.is_set():
            try:
                if not caught_up:
                    self.catch_up()
                    caught_up = True
                sleep = self.step()
            except Exception:  # run_job never raises; this guards the clock and `schedule`
                log.exception("scheduler loop error")
                sleep = MAX_SLEEP_SECONDS
            self._stop.wait(sleep)


def _clamp(seconds: float) -> float:
    """Bound a sleep: never a busy loop, never blind for more than a minute."""
    return min(max(seconds, MIN_SLEEP_SECONDS), MAX_SLEEP_SECONDS)


def _summary(error: Exception) -> str:
    """Name the error in one short line for /healthz: no SQL, no parameters (the log has those)."""
    cause = getattr(error, "orig", None) or error
    first_line = (str(cause).splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first_line}"[:200]


def init_app(app: Flask) -> None:
    """Start the scheduler with the first request, for servers without a start hook."""
    app.extensions[_EXTENSION] = None
    if app.config["SCHEDULER_ENABLED"] and not app.testing:

        @app.before_request
        def start_with_first_request() -> None:
            if app.extensions[_EXTENSION] is None:
                start(app)
            # Started (here or by the server's hook): later requests need not ask.
            app.before_request_funcs[None] = [hook for hook in app.before_request_funcs[None]
                                              if hook is not start_with_first_request]


def start(app: Flask) -> ResetScheduler:
    """Start this app's scheduler unless it runs already; return it."""
    with _start_lock:
        runner = app.extensions.get(_EXTENSION)
        if runner is None:
            runner = app.extensions[_EXTENSION] = ResetScheduler(app)
            runner.start()
        return runner


def start_if_enabled(app: Flask) -> None:
    """Start the scheduler when SCHEDULER_ENABLED (for server start hooks)."""
    if app.config["SCHEDULER_ENABLED"] and not app.testing:
        start(app)


def stop(app: Flask) -> None:
    """Stop this app's scheduler, if it runs."""
    with _start_lock:
        runner = app.extensions.get(_EXTENSION)
        app.extensions[_EXTENSION] = None
    if runner is not None:
        runner.stop()


def status(app: Flask) -> dict:
    """Describe the scheduler for /healthz: running or not, who runs the jobs, each job's last and next run."""
    runner = app.extensions.get(_EXTENSION)
    next_runs = runner.next_runs() if runner else {}
    last = job_runs.last_runs()
    held = lease.current(LEASE, app.extensions["viewtally.clock"])
    jobs = {}
    for name in JOBS:
        run = last.get(name)
        jobs[name] = {
            "lastRun": None if run is None else {
                "at": iso_utc(run["ran_at"]), "trigger": run["trigger"], "outcome": run["outcome"],
                "count": run["count"], "error": run["error"],
            },
            "nextRun": next_runs.get(name),
        }
    return {
        "running": bool(runner and runner.running),
        "runner": bool(runner and held and held.holder == runner.holder),
        "leaseHolder": held.holder if held else None,
        "jobs": jobs,
    }
