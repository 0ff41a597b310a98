"""What the counter_totals triggers add to counting a view on SQLite: the same views with and without them.

    .venv/bin/python bench/counter_sums_cost.py            (3 rounds of 3,000 views each way)

Two fresh SQLite files get 1,000 videos each; on one the triggers that keep
counter_totals are dropped. Each round counts the same views on both, in
turn, through the tracking route (Flask's test client, one thread: the
database's share of a view is what differs), each view a new viewer in a
desktop browser so every one counts. Prints microseconds per view, the
median of the rounds, and their ratio; then the same for the UPDATE of a
video's counters alone, run straight on each file (the triggers' whole
share, without the rest of a view around it).
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_bench import USER_AGENT  # noqa: E402

TRIGGERS = ("videos_totals_insert", "videos_totals_delete", "videos_totals_count", "videos_totals_restamp")


def make(folder: Path, name: str, triggers: bool):
    os.environ["VIEWTALLY_INSTANCE_PATH"] = str(folder / name)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / name}.db", "SECRET_KEY": "bench",
                      "ADMIN_TOKEN": "bench-admin-token-0123456789", "SCHEDULER_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "CACHE_TYPE": "SimpleCache"})
    from analytics.extensions import db
    from analytics.services.videos import import_csv
    from analytics.clock import Clock

    with app.app_context():
        import_csv([f"v{n},Video {n}\n" for n in range(1000)], Clock())
        if not triggers:
            with db.engine.begin() as connection:
                for trigger in TRIGGERS:
                    connection.exec_driver_sql(f"DROP TRIGGER {trigger}")
    return app


def count(app, views: list[int]) -> float:
    """Count `views` (video numbers) through the route; return microseconds per view."""
    client = app.test_client()
    started = time.perf_counter()
    for number, video in enumerate(views):
        response = client.post(f"/api/analytics/view/v{video}", headers={
            "User-Agent": USER_AGENT, "X-Viewtally-Session": f"s{time.monotonic_ns()}-{number}"})
        assert response.status_code == 200 and response.json["data"]["counted"], response.json
    return (time.perf_counter() - started) / len(views) * 1e6


def update_only(app, views: list[int]) -> float:
    """Run the counters' UPDATE of a view for `views`, one transaction each; return microseconds per UPDATE."""
    import sqlite3

    connection = sqlite3.connect(app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"), isolation_level=None)
    connection.execute("PRAGMA synchronous = NORMAL")
    started = time.perf_counter()
    for video in views:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("UPDATE videos SET views_today = views_today + 1, views_month = views_month + 1,"
                           " views_total = views_total + 1, period_day = period_day, period_month = period_month"
                           " WHERE id = ?", (f"v{video}",))
        connection.execute("COMMIT")
    connection.close()
    return (time.perf_counter() - started) / len(views) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--views", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="viewtally-sums-") as folder:
        apps = {"with triggers": make(Path(folder), "with", True), "without": make(Path(folder), "without", False)}
        chance = random.Random(7)
        for what, measure in (("counted view", count), ("counters' UPDATE", update_only)):
            figures = {name: [] for name in apps}
            for _ in range(args.rounds):
                views = [chance.randrange(1000) for _ in range(args.views)]
                for name, app in apps.items():
                    figures[name].append(measure(app, views))
            medians = {name: statistics.median(values) for name, values in figures.items()}
            for name, value in medians.items():
                rounds = ", ".join(f"{v:.0f}" for v in figures[name])
                print(f"{name:>14}: {value:7.1f} µs per {what}  (rounds: {rounds})")
            print(f"{'ratio':>14}: {medians['with triggers'] / medians['without']:7.3f}")


if __name__ == "__main__":
    main()
