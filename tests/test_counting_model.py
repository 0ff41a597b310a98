"""Random runs against a model of what a viewer should see, around midnights and month-ends.

Two workers whose clocks differ by a few milliseconds track views and run
manual and scheduled resets while time jumps to just before local
midnight or month-end, in zones with odd DST rules. A view must answer
the counts it left stored, and after every step the counts read through
the cache, the SQL list and the stored row must match a model that keeps,
per day and month, the views counted there.
"""

import random
from datetime import datetime, timedelta, timezone

import pytest

from analytics.clock import ManualClock, Period
from analytics.services import resets, videos, views
from analytics.services.stamps import Stamps
from conftest import add_video, viewer

ZONES = ["UTC", "America/Santiago", "Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe", "Pacific/Apia"]
STEPS = 120


class Model:
    """Views per day and month; a view from a period already left behind counts nowhere."""

    def __init__(self):
        self.days: list = []
        self.months: list = []
        self.last: Period | None = None

    def view(self, period: Period) -> None:
        last = self.last or period
        if period.day >= last.day:
            self.days.append(period.day)
        if period.month >= last.month:
            self.months.append(period.month)
        self.last = Period(day=max(last.day, period.day), month=max(last.month, period.month))

    def reset_day(self, period: Period) -> None:
        self.days = []
        self._advance(period)

    def reset_month(self, period: Period) -> None:
        self.months = []
        self.days = []  # today is part of the month
        self._advance(period)

    def _advance(self, period: Period) -> None:
        last = self.last or period
        self.last = Period(day=max(last.day, period.day), month=max(last.month, period.month))

    def seen(self, period: Period) -> tuple[int, int]:
        return self.days.count(period.day), self.months.count(period.month)


@pytest.fixture
def app(make_app, backend_url):
    return make_app(SQLALCHEMY_DATABASE_URI=backend_url)


@pytest.mark.parametrize("seed", range(12))
def test_counts_match_the_model(app, seed):
    chance = random.Random(seed)
    zone = ZONES[seed % len(ZONES)]
    moment = datetime(2026, 3, 30, 12, tzinfo=timezone.utc) + timedelta(days=chance.randrange(300))
    model, story = Model(), []
    add_video(app)
    with app.app_context():
        for _ in range(STEPS):
            roll = chance.random()
            if roll < 0.15:  # to just before the next midnight or month-end
                here = ManualClock(moment, zone)
                edge = here.next_day_start() if chance.random() < 0.3 else here.next_month_start()
                moment = edge - timedelta(milliseconds=chance.randint(1, 4))
            elif roll < 0.25:
                moment += timedelta(hours=chance.randint(1, 30))
            else:
                moment += timedelta(milliseconds=chance.randint(0, 3))
            worker = ManualClock(moment + timedelta(milliseconds=chance.randint(-4, 4)), zone)
            period = worker.period()
            action = chance.choices(["view", "reset day", "reset month", "scheduled"], [60, 12, 6, 20])[0]
            story.append(f"{action} at {worker.now().astimezone(worker.tz)}")
            if action == "view":
                answered = views.track_view("intro", worker, viewer()).counts
                model.view(period)
                # What a view answers is what it left stored (on SQLite worked out, not read back).
                assert answered == views._load_counters("intro").counts(Stamps.at(worker)), story[-20:]
            elif action == "reset day":
                resets.reset_daily(worker)
                model.reset_day(period)
            elif action == "reset month":
                resets.reset_monthly(worker)
                model.reset_month(period)
            else:
                before = views.get_stats("intro", worker)
                resets.reset_daily(worker, stale_only=True)
                resets.reset_monthly(worker, stale_only=True)
                assert views.get_stats("intro", worker) == before, story[-20:]

            reader = ManualClock(moment, zone)
            early, late = (ManualClock(moment + timedelta(milliseconds=ms), zone).period() for ms in (-5, 5))
            if early != late:
                continue  # the workers' clocks disagree about the day: nothing to expect yet
            cached = views.get_stats("intro", reader)
            stored = views._load_counters("intro").counts(Stamps.at(reader))
            [listed] = videos.list_videos(1, 10, "views_total", reader).items
            expected = model.seen(reader.period())
            assert (cached.views_today, cached.views_month) == expected, story[-20:]
            assert (stored.views_today, stored.views_month) == expected, story[-20:]
            assert (listed["views_today"], listed["views_month"]) == expected, story[-20:]
