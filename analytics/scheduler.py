"""The midnight resets, run by one daemon thread in the serving process.

The thread starts after the server forks (gunicorn's post_worker_init hook,
or the first request under ``flask run``), never at import, never in CLI
commands or tests unless asked. On start it catches up any reset missed
while the server was down. Every job zeroes only counters stamped with an
earlier period, so running late, twice, or in several workers at once is
harmless.
"""

import logging
import threading
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import schedule
from flask import Flask

from .clock import current_clock, iso_utc
from .services import job_runs
from .services.resets import reset_daily, reset_monthly

log = logging.getLogger(__name__)

JOBS = {"daily_reset": reset_daily, "monthly_reset": reset_monthly}
_EXTENSION = "viewtally.scheduler"
_start_lock = threading.Lock()


class ResetScheduler:
    """A private `schedule.Scheduler` and the thread that runs it."""

    def __init__(self, app: Flask):
        self.app = app
        self._schedule = schedule.Scheduler()
        self._stop = threading.Event()
        zone = app.config["TIMEZONE"]
        self._zone = ZoneInfo(zone)
        self._schedule.every().day.at("00:00", zone).do(self.run_job, "daily_reset", "schedule")
        self._schedule.every().day.at("00:00", zone).do(self._monthly_on_the_first)
        self._thread = threading.Thread(target=self._loop, name="viewtally-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()
        log.info("scheduler started: resets at 00:00 %s", self.app.config["TIMEZONE"])

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def next_runs(self) -> dict[str, str | None]:
        """Return when each job runs next, as ISO 8601 UTC."""
        daily = self._schedule.jobs[0]
        if daily.next_run is None:
            return {"daily_reset": None, "monthly_reset": None}
        # schedule keeps next_run as naive local time of this machine.
        midnight = daily.next_run.astimezone(timezone.utc)
        day = midnight.astimezone(self._zone).date()
        if day.day != 1:  # the monthly job wakes daily but acts on the 1st only
            day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
        first = datetime.combine(day, time(0), tzinfo=self._zone)
        return {"daily_reset": iso_utc(midnight), "monthly_reset": iso_utc(first)}

    def catch_up(self) -> None:
        """Run both resets now, zeroing whatever a missed midnight left stale."""
        for name in JOBS:
            self.run_job(name, "catch-up")

    def run_job(self, name: str, trigger: str) -> None:
        """Run one reset, log and store its outcome; never raise."""
        with self.app.app_context():
            clock = current_clock()
            try:
                count = JOBS[name](clock, stale_only=True)
                outcome = {"outcome": "ok", "count": count, "error": None}
                log.info("%s (%s): reset %d videos", name, trigger, count)
            except Exception as error:
                log.exception("%s (%s) failed", name, trigger)
                outcome = {"outcome": "error", "count": None, "error": _summary(error)}
            try:
                job_runs.record(name, {"ran_at": clock.now(), "trigger": trigger, **outcome})
            except Exception:
                log.exception("could not store the outcome of %s", name)

    def _monthly_on_the_first(self) -> None:
        with self.app.app_context():
            first = current_clock().today().day == 1
        if first:
            self.run_job("monthly_reset", "schedule")

    def _loop(self) -> None:
        self.catch_up()
        while not self._stop.is_set():
            try:
                self._schedule.run_pending()
            except Exception:  # run_job never raises; this guards schedule itself
                log.exception("scheduler loop error")
            idle = self._schedule.idle_seconds or 60.0
            self._stop.wait(min(max(idle, 0.05), 60.0))


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
    """Describe the scheduler for /healthz: running or not, each job's last and next run."""
    runner = app.extensions.get(_EXTENSION)
    next_runs = runner.next_runs() if runner else {}
    last = job_runs.last_runs()
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
    return {"running": bool(runner and runner.running), "jobs": jobs}
