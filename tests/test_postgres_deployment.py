"""Several gunicorn workers on PostgreSQL with the cache and the rate limits in Redis, as a larger site runs."""

import http.client
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
import redis
import requests
import sqlalchemy as sa

from conftest import ADMIN_TOKEN, BROWSER_UA, REDIS_URL
from served import Server, serving_pid

VIDEOS = ["alpha", "beta", "gamma", "delta"]
ACCESS_LOG = ("--access-logfile", "-", "--access-logformat", "access %(p)s %(s)s %(U)s")


@pytest.fixture
def deployment(tmp_path, postgres_url, redis_prefix):
    """Start servers on one PostgreSQL database and one Redis key prefix; stop them afterwards."""
    settings = {
        "SQLALCHEMY_DATABASE_URI": postgres_url,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": "deployment-test",
        "CACHE_TYPE": "RedisCache",
        "CACHE_REDIS_URL": REDIS_URL,
        "CACHE_KEY_PREFIX": redis_prefix,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": redis_prefix.rstrip(":"),
        # One client address sends every view here; the limits stay on, counted in Redis.
        "TRACK_RATE_LIMIT": "100000 per minute",
        "STATS_RATE_LIMIT": "100000 per minute",
        "SCHEDULER_ENABLED": "false",
    }
    with ExitStack() as stack:

        def start(workers: int, args: tuple = ()) -> Server:
            server = Server(tmp_path, settings, workers=workers, args=args)
            stack.callback(server.stop)
            for video in VIDEOS:
                response = requests.post(f"{server.url}/api/videos", json={"id": video, "title": video.title()},
                                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
                assert response.status_code == 201, response.text
            return server

        yield start


def browser(name: str) -> dict:
    """Headers of a distinct viewer in a desktop browser: the dedup and the bot filter stay on."""
    return {"User-Agent": BROWSER_UA, "X-Viewtally-Session": name}


def test_many_clients_on_four_workers_store_every_acknowledged_view_once(deployment, postgres_url):
    server = deployment(workers=4, args=ACCESS_LOG)
    run = uuid.uuid4().hex[:8]

    def client(number: int) -> dict[str, int]:
        """Send views (a quarter as pixels) and, between them, read the cached stats."""
        acked = dict.fromkeys(VIDEOS, 0)
        with requests.Session() as session:
            for n in range(40):
                video = VIDEOS[(number + n) % len(VIDEOS)]
                headers = browser(f"{run}-{number}-{n}")
                if n % 4 == 3:
                    response = session.get(f"{server.url}/api/analytics/pixel/{video}.gif", headers=headers,
                                           timeout=60)
                else:
                    response = session.post(f"{server.url}/api/analytics/view/{video}", headers=headers, timeout=60)
                assert response.status_code == 200, response.text[:200]
                if n % 4 != 3:
                    assert response.json()["data"]["counted"] is True
                acked[video] += 1
                if n % 5 == 0:
                    assert session.get(f"{server.url}/api/analytics/stats/{video}", timeout=60).status_code == 200
        return acked

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(client, range(16)))
    acked = {video: sum(answer[video] for answer in answers) for video in VIDEOS}
    assert sum(acked.values()) == 16 * 40

    for video, count in acked.items():
        for _ in range(4):  # new connections, spread over the workers, each answering from Redis or the database
            stats = requests.get(f"{server.url}/api/analytics/stats/{video}", timeout=10,
                                 headers={"Connection": "close"}).json()["data"]
            assert (stats["viewsToday"], stats["viewsMonth"], stats["viewsTotal"]) == (count, count, count)
            assert stats["uniqueViewersToday"] == count
    engine = sa.create_engine(postgres_url)
    with engine.connect() as connection:
        counters = dict(connection.execute(sa.text("SELECT id, views_total FROM videos")).all())
        logs = dict(connection.execute(sa.text("SELECT video_id, count(*) FROM video_view_logs GROUP BY video_id")).all())
        daily = dict(connection.execute(sa.text("SELECT video_id, sum(views) FROM daily_views GROUP BY video_id")).all())
        summary = connection.execute(sa.text("SELECT sum(views) FROM daily_summary")).scalar_one()
    engine.dispose()
    assert counters == acked
    assert logs == acked
    assert {video: int(total) for video, total in daily.items()} == acked
    assert int(summary) == sum(acked.values())
    answered = [line.split() for line in server.output().splitlines() if line.startswith("access ")]
    assert len({pid for _, pid, status, path in answered if path.startswith("/api/analytics/view/")}) >= 2, \
        "the views reached more than one worker"
    assert "Traceback" not in server.output()


class Connection:
    """One kept-alive HTTP connection, and so one worker, of the server."""

    def __init__(self, server: Server):
        self.server = server
        self.http = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.pid = None
        self.get("/healthz")  # a worker has accepted the connection once it answers

    def request(self, method: str, path: str, headers: dict | None = None) -> dict:
        self.http.request(method, path, headers=headers or {})
        response = self.http.getresponse()
        body = json.loads(response.read())
        assert response.status == 200, body
        # Still the same connection: the answer came from the worker this object names.
        pid = serving_pid(self.server, self.http.sock)
        assert self.pid in (None, pid)
        self.pid = pid
        return body

    def get(self, path: str) -> dict:
        return self.request("GET", path)

    def stats(self, video: str) -> dict:
        return self.get(f"/api/analytics/stats/{video}")["data"]


def test_a_view_in_one_worker_is_in_the_next_cached_read_of_another(deployment, redis_prefix):
    """README: a tracked view makes the cached answer stale at once, in every worker (well within STATS_CACHE_SECONDS)."""
    server = deployment(workers=3, args=("--keep-alive", "60"))
    connections: dict[int, Connection] = {}
    for _ in range(60):  # the kernel hands new connections to whichever worker accepts first
        connection = Connection(server)
        if connection.pid in connections:
            connection.http.close()
        else:
            connections[connection.pid] = connection
        if len(connections) == 3:
            break
    assert len(connections) >= 2, "connections reached only one worker"
    cache = redis.Redis.from_url(REDIS_URL)
    expected = 0
    for tracker in connections.values():
        for reader in connections.values():
            if reader is tracker:
                continue
            before = reader.stats("alpha")
            assert before["viewsTotal"] == expected
            assert list(cache.scan_iter(match=f"{redis_prefix}*")), "the read left an entry in Redis"
            assert reader.stats("alpha") == before  # a second read, answered from the cache
            expected += 1
            tracked = tracker.request("POST", "/api/analytics/view/alpha",
                                      browser(f"{tracker.pid}-{reader.pid}"))["data"]
            assert (tracked["counted"], tracked["viewsTotal"]) == (True, expected)
            after = reader.stats("alpha")
            assert (after["viewsTotal"], after["viewsToday"], after["uniqueViewersToday"]) == (expected,) * 3
    cache.close()
    for connection in connections.values():
        connection.http.close()
