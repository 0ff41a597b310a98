"""Fixtures: a fresh app per test on its own SQLite file (or PostgreSQL database), a set clock."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from analytics.clock import ManualClock
from analytics.extensions import db
from app import create_app

# prometheus_client picks its mode as it loads: each test app keeps its own figures only in-process
# mode, and the served tests' gunicorn makes its own folder (or is handed one by the test).
os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)

ADMIN_TOKEN = "test-admin-token-0123456789"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# What an ordinary desktop browser sends: tests that count views send it, so the bot filter lets them in.
BROWSER_UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36")
# A Saturday afternoon in March, far from midnight and month-end.
START = datetime(2026, 3, 14, 15, 0, tzinfo=timezone.utc)


def service_missing(name: str, error: Exception):
    """Skip a test whose service is down, or fail it when REQUIRE_SERVICES=1."""
    message = f"{name} is not reachable ({error.__class__.__name__}: {error})"
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}; REQUIRE_SERVICES=1 forbids skipping")
    pytest.skip(message)


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """Point the instance folder at a temporary directory."""
    path = tmp_path / "instance"
    monkeypatch.setenv("VIEWTALLY_INSTANCE_PATH", str(path))
    return path


@pytest.fixture
def postgres_url():
    """Create an empty PostgreSQL database for one test and drop it afterwards."""
    name = f"viewtally_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        admin.dispose()
        service_missing("PostgreSQL", error)
    yield sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def redis_prefix():
    """Give a test its own Redis key prefix and delete its keys afterwards."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        service_missing("Redis", error)
    prefix = f"viewtally-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    for key in client.scan_iter(match=f"*{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def make_app(instance):
    """Build apps with test settings plus overrides; each gets a ManualClock at START."""
    apps = []

    def build(**overrides):
        settings = {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/analytics.db",
            "SECRET_KEY": "test-secret-key",
            "ADMIN_TOKEN": ADMIN_TOKEN,
            "CACHE_TYPE": "SimpleCache",
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "TRACK_RATE_LIMIT": "100000 per minute",
            "STATS_RATE_LIMIT": "100000 per minute",
            "SCHEDULER_ENABLED": False,
            # Tests of counting send many views from one client; the tests of honest
            # counts turn the filters on (see test_honest_counts.py).
            "DEDUP_WINDOW_SECONDS": 0,
            "BOT_FILTER": False,
        }
        settings.update(overrides)
        app = create_app(settings)
        app.extensions["viewtally.clock"] = ManualClock(START, tz=app.config["TIMEZONE"])
        apps.append(app)
        return app

    yield build
    for app in apps:
        from analytics import scheduler

        scheduler.stop(app)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request, instance):
    """The database URL of each supported backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{instance}/analytics.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def clock(app):
    return app.extensions["viewtally.clock"]


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def admin():
    """Headers that carry the admin token."""
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def viewer(number: int = 1, **fields):
    """A visitor with a documentation address of its own and a browser's user agent."""
    from analytics.services.viewers import Visitor

    return Visitor(address=f"198.51.100.{number}", user_agent=BROWSER_UA, **fields)


def add_video(app, video_id="intro", title="Introduction"):
    """Register a video through the service, as the API would."""
    from analytics.services.videos import create_video

    with app.app_context():
        return create_video(video_id, title, app.extensions["viewtally.clock"])


def rows(app, statement):
    """Run a SELECT on the app's database and return all rows."""
    with app.app_context():
        with db.engine.connect() as connection:
            return connection.execute(sa.text(statement) if isinstance(statement, str) else statement).all()


def run_sql(app, statement, **params):
    """Run a statement that changes the app's database, committed, behind the service's back."""
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(sa.text(statement), params)


@contextmanager
def statements_run(app) -> Iterator[list[tuple[str, object]]]:
    """Collect the (statement, parameters) the app's database is sent inside the block."""
    caught: list[tuple[str, object]] = []
    catch = lambda conn, cursor, statement, parameters, context, many: caught.append(  # noqa: E731
        (statement, parameters))
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", catch)
        try:
            yield caught
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", catch)
