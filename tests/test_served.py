"""The real server under concurrent load: every acknowledged view is counted exactly once."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import pytest
import requests
import sqlalchemy as sa

from conftest import ADMIN_TOKEN, BROWSER_UA, REDIS_URL
from served import ROOT, Server, free_port

VIDEOS = ["alpha", "beta", "gamma"]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def viewer(name: str) -> dict:
    """Headers of a distinct viewer in a browser: the filters stay on in these tests."""
    return {"User-Agent": BROWSER_UA, "X-Viewtally-Session": name}


def settings(database_url: str) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": "served-test",
        "RATELIMIT_ENABLED": "false",
        "SCHEDULER_ENABLED": "false",
    }


@pytest.fixture
def serve(tmp_path):
    with ExitStack() as stack:  # stops every server, even when one fails to stop

        def start(database_url, extra=None, **options):
            server = Server(tmp_path, {**settings(database_url), **(extra or {})}, **options)
            stack.callback(server.stop)
            return server

        yield start


def hammer(url: str, clients: int, views_each: int) -> dict[str, int]:
    """Send views from several client threads; return how many were acknowledged per video."""

    def one_client(number: int) -> dict[str, int]:
        acked = dict.fromkeys(VIDEOS, 0)
        with requests.Session() as session:
            for n in range(views_each):
                video = VIDEOS[(number + n) % len(VIDEOS)]
                headers = viewer(f"client-{number}-view-{n}")
                if n % 4 == 3:
                    response = session.get(f"{url}/api/analytics/pixel/{video}.gif", headers=headers, timeout=30)
                else:
                    response = session.post(f"{url}/api/analytics/view/{video}", headers=headers, timeout=30)
                if response.status_code == 200:
                    acked[video] += 1
                else:
                    raise AssertionError(f"{response.status_code}: {response.text[:200]}")
        return acked

    totals = dict.fromkeys(VIDEOS, 0)
    with ThreadPoolExecutor(clients) as pool:
        for acked in pool.map(one_client, range(clients)):
            for video, count in acked.items():
                totals[video] += count
    return totals


def assert_counted_exactly_once(server, database_url: str, acked: dict[str, int]) -> None:
    for video, count in acked.items():
        stats = requests.get(f"{server.url}/api/analytics/stats/{video}", timeout=10).json()["data"]
        assert (stats["viewsToday"], stats["viewsMonth"], stats["viewsTotal"]) == (count, count, count)
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        counters = dict(connection.execute(sa.text("SELECT id, views_total FROM videos")).all())
        logs = dict(connection.execute(sa.text("SELECT video_id, count(*) FROM video_view_logs GROUP BY video_id")).all())
        daily = dict(connection.execute(sa.text("SELECT video_id, sum(views) FROM daily_views GROUP BY video_id")).all())
    engine.dispose()
    assert counters == acked
    assert logs == acked
    assert {video: int(total) for video, total in daily.items()} == acked


def register(server) -> None:
    for video in VIDEOS:
        response = requests.post(f"{server.url}/api/videos", json={"id": video, "title": video.title()},
                                 headers=ADMIN, timeout=10)
        assert response.status_code == 201, response.text


def test_threads_of_one_process_count_every_view_once(serve, tmp_path):
    url = f"sqlite:///{tmp_path}/served.db"
    server = serve(url, workers=1, threads=8)
    register(server)
    acked = hammer(server.url, clients=8, views_each=120)
    assert sum(acked.values()) == 960
    assert_counted_exactly_once(server, url, acked)


def test_several_worker_processes_on_one_sqlite_file(serve, tmp_path):
    """Four workers start together on a new file (racing to create tables) and then share it."""
    url = f"sqlite:///{tmp_path}/served.db"
    server = serve(url, workers=4, threads=4)
    register(server)
    acked = hammer(server.url, clients=12, views_each=80)
    assert_counted_exactly_once(server, url, acked)
    assert "database is locked" not in server.output()
    assert "Traceback" not in server.output()


def test_several_worker_processes_on_postgresql(serve, postgres_url):
    server = serve(postgres_url, workers=3, threads=4)
    register(server)
    acked = hammer(server.url, clients=8, views_each=80)
    assert_counted_exactly_once(server, postgres_url, acked)
    assert "Traceback" not in server.output()


def test_a_chunked_body_over_the_limit_is_413_without_being_read_by_the_view(serve, tmp_path):
    server = serve(f"sqlite:///{tmp_path}/served.db")
    register(server)
    chunk = b"x" * 4096
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(
            b"POST /api/analytics/view/alpha HTTP/1.1\r\nHost: localhost\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        for _ in range(5):
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        connection.sendall(b"0\r\n\r\n")
        answer = b""
        while data := connection.recv(65536):
            answer += data
    assert answer.startswith(b"HTTP/1.1 413")
    assert b'"code":"payload_too_large"' in answer.replace(b" ", b"")
    stats = requests.get(f"{server.url}/api/analytics/stats/alpha", timeout=10).json()["data"]
    assert stats["viewsTotal"] == 0


def raw_chunked_post(server, path: str, body: bytes) -> bytes:
    """Send a chunked POST written by hand, close our side, and return the whole answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: localhost\r\n".encode()
            + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body
        )
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while data := connection.recv(65536):
            answer += data
    return answer


@pytest.mark.parametrize("body", [
    pytest.param(b"zz\r\nhello\r\n0\r\n\r\n", id="bad-chunk-size"),
    pytest.param(b"64\r\nonly ten b", id="cut-off"),
    pytest.param(b"5\r\nhelloXX0\r\n\r\n", id="missing-terminator"),
])
def test_a_malformed_chunked_body_is_400_and_counts_nothing(serve, tmp_path, body):
    server = serve(f"sqlite:///{tmp_path}/served.db")
    register(server)
    answer = raw_chunked_post(server, "/api/analytics/view/alpha", body)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b'"code":"bad_request"' in answer.replace(b" ", b"")
    stats = requests.get(f"{server.url}/api/analytics/stats/alpha", timeout=10).json()["data"]
    assert stats["viewsTotal"] == 0
    assert "Traceback" not in server.output()


def test_a_small_chunked_body_still_reaches_the_view(serve, tmp_path):
    server = serve(f"sqlite:///{tmp_path}/served.db")

    def body():
        yield b'{"id": "chunked", '
        yield b'"title": "Sent in chunks"}'

    response = requests.post(f"{server.url}/api/videos", data=body(), headers={**ADMIN, "Content-Type": "application/json"},
                             timeout=10)
    assert response.status_code == 201, response.text
    assert response.json()["data"]["title"] == "Sent in chunks"


def wait_until(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def scheduler_health(server) -> dict:
    return requests.get(f"{server.url}/healthz", timeout=10).json()["scheduler"]


def test_each_worker_runs_one_scheduler_thread_and_one_runs_the_jobs(serve, tmp_path):
    server = serve(f"sqlite:///{tmp_path}/served.db", extra={"SCHEDULER_ENABLED": "true"}, workers=2, threads=2)
    # The catch-up runs in the lease holder's thread, just after it starts; the second worker may still boot.
    assert wait_until(lambda: scheduler_health(server)["jobs"]["daily_reset"]["lastRun"] is not None)
    assert wait_until(lambda: server.output().count("scheduler started") == 2)
    health = scheduler_health(server)
    assert health["running"] is True
    assert health["jobs"]["daily_reset"]["lastRun"]["trigger"] == "catch-up"
    for _ in range(10):  # more requests must not start more schedulers
        requests.get(f"{server.url}/healthz", timeout=10)
    output = server.output()
    assert output.count("scheduler started") == 2
    assert output.count("scheduler lease taken") == 1
    assert "SimpleCache" in output  # the warning about per-process caches


def test_four_workers_on_postgresql_run_each_job_once(serve, postgres_url):
    server = serve(postgres_url, extra={"SCHEDULER_ENABLED": "true"}, workers=4, threads=2)
    assert wait_until(lambda: server.output().count("scheduler started") == 4)
    assert wait_until(lambda: all(job["lastRun"] for job in scheduler_health(server)["jobs"].values()))
    time.sleep(1)  # every thread has tried the lease by now: each tries at once when it starts
    output = server.output()
    for job in ("daily_reset", "monthly_reset", "purge"):
        assert output.count(f"{job} (") == 1, output
        assert output.count(f"{job} (catch-up)") == 1
    assert output.count("scheduler lease taken") == 1
    holders = {scheduler_health(server)["leaseHolder"] for _ in range(12)}  # new connections, other workers
    assert len(holders) == 1 and None not in holders


def test_when_the_runner_is_killed_another_worker_takes_over_and_runs_the_jobs(serve, postgres_url):
    server = serve(postgres_url, extra={"SCHEDULER_ENABLED": "true", "SCHEDULER_LEASE_SECONDS": "3"},
                   workers=3, threads=2)
    assert wait_until(lambda: all(job["lastRun"] for job in scheduler_health(server)["jobs"].values()))
    holder = scheduler_health(server)["leaseHolder"]
    pid = int(holder.split(":")[1])
    assert pid != server.process.pid  # a worker, not gunicorn's arbiter
    os.kill(pid, signal.SIGKILL)
    # The lease lapses within 3 s; the others look every second, and the first to see it takes it.
    assert wait_until(lambda: (scheduler_health(server)["leaseHolder"] or holder) != holder, timeout=15)
    successor = scheduler_health(server)["leaseHolder"]
    assert int(successor.split(":")[1]) != pid
    assert wait_until(lambda: scheduler_health(server)["jobs"]["purge"]["lastRun"]["trigger"] != "catch-up"
                      or server.output().count("purge (") == 2, timeout=10)
    output = server.output()
    assert output.count("scheduler lease taken") == 2, output
    assert output.count("purge (") == 2  # the first holder's catch-up, then its successor's
    assert f"scheduler lease taken by {successor}" in output


def test_workers_sharing_redis_show_a_viewer_their_own_view(serve, tmp_path, redis_prefix):
    """Several workers with the cache in Redis: every read after a view includes it."""
    server = serve(
        f"sqlite:///{tmp_path}/served.db",
        extra={"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": REDIS_URL, "CACHE_KEY_PREFIX": redis_prefix},
        workers=3, threads=2,
    )
    register(server)
    for expected in range(1, 31):
        response = requests.post(f"{server.url}/api/analytics/view/alpha", headers=viewer(f"v{expected}"), timeout=10)
        assert response.json()["data"]["counted"] is True
        for _ in range(3):  # new connections land on different workers
            stats = requests.get(f"{server.url}/api/analytics/stats/alpha", timeout=10).json()["data"]
            assert stats["viewsTotal"] == expected


def test_workers_sharing_redis_share_one_rate_limit(serve, tmp_path, redis_prefix):
    """Two workers, limits in Redis: the limit holds for the server, not for each worker."""
    server = serve(
        f"sqlite:///{tmp_path}/served.db",
        extra={"RATELIMIT_ENABLED": "true", "RATELIMIT_STORAGE_URI": REDIS_URL,
               "RATELIMIT_KEY_PREFIX": redis_prefix.rstrip(":"), "TRACK_RATE_LIMIT": "20 per minute"},
        # Sync workers, each busy with one connection at a time (gunicorn.conf.py's gevent worker
        # would take the next connections beside the held one, and now and then took them all).
        workers=2, threads=None, args=("--worker-class", "sync", "--access-logfile", "-",
                                       "--access-logformat", "access %(p)s %(s)s %(U)s"),
    )
    register(server)
    path = "/api/analytics/view/alpha"

    def view():
        headers = {**viewer(str(time.monotonic())), "Connection": "close"}
        return requests.post(f"{server.url}{path}", headers=headers, timeout=10).status_code

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as held:
        # Half a request keeps one worker waiting, so the next views all reach the other.
        held.sendall(f"POST {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: {BROWSER_UA}\r\n".encode())
        time.sleep(0.3)
        statuses = [view() for _ in range(10)]
        held.sendall(b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        assert held.recv(65536).startswith(b"HTTP/1.1 200")
    statuses += [view() for _ in range(20)]
    assert statuses == [200] * 19 + [429] * 11
    answered = [line.split() for line in server.output().splitlines() if line.startswith("access ")]
    pids = {pid for _, pid, status, url in answered if url == path and status == "200"}
    assert len(pids) == 2, "both workers counted views under the one limit"
    stats = requests.get(f"{server.url}/api/analytics/stats/alpha", timeout=10).json()["data"]
    assert stats["viewsTotal"] == 20


def test_the_dev_server_with_its_reloader_runs_one_scheduler(tmp_path):
    """`flask run --reload` runs the app in a watcher and a serving child: only the child schedules."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FLASK_")}
    env.update({f"FLASK_{key}": value for key, value in settings(f"sqlite:///{tmp_path}/dev.db").items()})
    env.update(FLASK_SCHEDULER_ENABLED="true", VIEWTALLY_INSTANCE_PATH=str(tmp_path / "instance"))
    with open(tmp_path / "dev.log", "w+") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "run", "--reload", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                        break
                except (requests.ConnectionError, requests.Timeout):
                    time.sleep(0.1)
            for _ in range(5):
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
            assert health["scheduler"]["running"] is True
        finally:
            os.killpg(process.pid, signal.SIGTERM)  # the watcher and its serving child
            process.wait(15)
        log.seek(0)
        output = log.read()
    assert output.count("scheduler started") == 1, output


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_simultaneous_identical_views_in_three_workers_count_once(serve, tmp_path, request, backend):
    """24 copies of one viewer's view, fired together at 3 worker processes: the database counts one."""
    url = f"sqlite:///{tmp_path}/served.db" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    server = serve(url, workers=3, threads=8,
                   args=("--access-logfile", "-", "--access-logformat", "access %(p)s %(s)s %(U)s"))
    register(server)
    gate = threading.Barrier(24)

    def same_view(_):
        gate.wait(timeout=30)
        response = requests.post(f"{server.url}/api/analytics/view/alpha", timeout=30,
                                 headers={"User-Agent": BROWSER_UA, "Connection": "close"})
        assert response.status_code == 200, response.text
        return response.json()["data"]

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(same_view, range(24)))
    assert sorted(answer.get("reason", "counted") for answer in answers) == ["counted"] + ["duplicate"] * 23
    stats = requests.get(f"{server.url}/api/analytics/stats/alpha", timeout=10).json()["data"]
    assert (stats["viewsTotal"], stats["uniqueViewersToday"]) == (1, 1)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        one = lambda sql: connection.execute(sa.text(sql)).one()  # noqa: E731
        assert one("SELECT views_total, views_today, uniques_today FROM videos WHERE id = 'alpha'") == (1, 1, 1)
        assert one("SELECT count(*) FROM video_view_logs") == (1,)
        assert one("SELECT sum(views), sum(unique_viewers) FROM daily_views") == (1, 1)
        assert one("SELECT sum(duplicate), sum(unique_viewers) FROM daily_summary") == (23, 1)
    engine.dispose()
    answered = [line.split() for line in server.output().splitlines() if line.startswith("access ")]
    assert len({pid for _, pid, _, path in answered if path == "/api/analytics/view/alpha"}) >= 2, \
        "the views reached more than one worker"
    assert "Traceback" not in server.output()


def test_no_client_address_user_agent_or_referrer_reaches_the_logs_or_instance(serve, tmp_path):
    """Served as `make run` serves (access log on stdout), behind one trusted proxy."""
    server = serve("sqlite:///analytics.db", extra={"TRUSTED_PROXIES": "1", "RATELIMIT_ENABLED": "true",
                                                    "TRACK_RATE_LIMIT": "8 per minute"},
                   args=("--access-logfile", "-"))
    register(server)
    address, agent = "203.0.113.77", f"{BROWSER_UA} PrivacyMarker/1.0"
    headers = {"X-Forwarded-For": address, "User-Agent": agent,
               "Referer": "https://video-site.example/watch?secret=1"}
    answers = [
        requests.post(f"{server.url}/api/analytics/view/alpha?from=video-site.example", headers=headers, timeout=10),
        requests.post(f"{server.url}/api/analytics/view/alpha", headers=headers, timeout=10),  # a repeat
        requests.get(f"{server.url}/api/analytics/pixel/beta.gif", headers=headers, timeout=10),
        requests.post(f"{server.url}/api/analytics/view/gamma", headers={**headers, "Sec-Purpose": "prefetch"},
                      timeout=10),
        requests.post(f"{server.url}/api/analytics/view/nope", headers=headers, timeout=10),
        requests.post(f"{server.url}/api/analytics/view/alpha", headers={**headers, "X-Viewtally-Session": ""},
                      timeout=10),
        requests.get(f"{server.url}/dashboard?q=video-site.example", headers=headers, timeout=10),
    ]
    answers += [requests.post(f"{server.url}/api/analytics/view/beta", headers=headers, timeout=10)
                for _ in range(6)]  # past the rate limit
    assert [answer.status_code for answer in answers][:7] == [200, 200, 200, 200, 404, 400, 200]
    assert answers[-1].status_code == 429
    assert answers[0].json()["data"]["counted"] is True
    server.stop()
    output = (tmp_path / "gunicorn.log").read_text()
    assert "POST /api/analytics/view/alpha" in output  # the access log is there, without who sent it
    instance_files = [path for path in (tmp_path / "instance").rglob("*") if path.is_file()]
    assert any(path.name == "analytics.db" for path in instance_files)
    haystacks = {"server output": output.encode()}
    haystacks.update({str(path): path.read_bytes() for path in instance_files})
    for name, data in haystacks.items():
        for needle in (address.encode(), bytes([203, 0, 113, 77]), b"PrivacyMarker", b"/watch", b"secret=1"):
            assert needle not in data, f"{needle!r} found in {name}"
    # The embedding site is kept (where the video is watched), as its scheme and host alone.
    assert b"video-site.example" not in haystacks["server output"]
    assert any(b"https://video-site.example" in data for name, data in haystacks.items() if "analytics.db" in name)
