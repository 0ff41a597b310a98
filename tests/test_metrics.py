"""GET /metrics: who may scrape, the deployment's figures from the database, each process's from its instruments."""

import http.client
import os
import re
from array import array
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from analytics import scheduler
from analytics.request_times import WIDTH, RequestTimes
from conftest import ADMIN_TOKEN, BROWSER_UA, START, add_video, run_sql
from served import Server, serving_pid

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
VIEW_ROUTE = "/api/analytics/view/<video_id>"
STATS_ROUTE = "/api/analytics/stats/<video_id>"


def parse(text: str) -> dict[tuple, float]:
    """Parse a Prometheus text answer into {(sample name, sorted labels): value}; a malformed one raises."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(client, headers=ADMIN) -> dict[tuple, float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain")
    return parse(response.get_data(as_text=True))


def value(samples: dict, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def views(samples: dict) -> dict[str, float]:
    return {dict(labels)["outcome"]: count for (name, labels), count in samples.items()
            if name == "viewtally_views_total"}


def requests_seen(samples: dict, route: str, method: str, status: str) -> float:
    return samples.get(("viewtally_request_duration_seconds_count",
                        tuple(sorted({"route": route, "method": method, "status": status}.items()))), 0)


# --- Who may scrape ---

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"},
                                     {"Authorization": ADMIN_TOKEN}, {"Authorization": f"Basic {ADMIN_TOKEN}"}])
def test_metrics_without_the_admin_token_are_401_in_the_envelope(client, headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_metrics_with_the_admin_token_are_200(client):
    assert value(scrape(client), "viewtally_database_up") == 1


def test_wrong_tokens_on_metrics_count_toward_the_login_limit(make_app):
    client = make_app(LOGIN_RATE_LIMIT="2 per minute").test_client()
    wrong = {"Authorization": "Bearer wrong-token-0123456789"}
    assert [client.get("/metrics", headers=wrong).status_code for _ in range(3)] == [401, 401, 429]


def test_metrics_public_answers_anyone(make_app):
    client = make_app(METRICS_PUBLIC=True).test_client()
    assert value(scrape(client, headers={}), "viewtally_database_up") == 1


def test_metrics_public_is_off_by_default(app):
    assert app.config["METRICS_PUBLIC"] is False


# --- The deployment's figures, from the database ---

def test_views_by_outcome_after_real_views(make_app, backend_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url, DEDUP_WINDOW_SECONDS=3600, BOT_FILTER=True)
    add_video(app)
    client = app.test_client()
    browser = {"User-Agent": BROWSER_UA}
    assert views(scrape(client)) == dict.fromkeys(["counted", "duplicate", "bot", "prefetch", "excluded", "origin"], 0)
    assert client.post("/api/analytics/view/intro", headers=browser).json["data"]["counted"] is True
    assert client.post("/api/analytics/view/intro", headers=browser).json["data"]["reason"] == "duplicate"
    assert client.post("/api/analytics/view/intro", headers={"User-Agent": BOT_UA}).json["data"]["reason"] == "bot"
    prefetch = client.post("/api/analytics/view/intro", headers={**browser, "Sec-Purpose": "prefetch"})
    assert prefetch.json["data"]["reason"] == "prefetch"
    assert client.get("/api/analytics/pixel/intro.gif",
                      headers={**browser, "X-Viewtally-Session": "another-viewer"}).status_code == 200
    assert views(scrape(client)) == {"counted": 2, "duplicate": 1, "bot": 1, "prefetch": 1, "excluded": 0, "origin": 0}


def test_excluded_views_and_counts_across_days_and_resets_only_grow(make_app):
    app = make_app(IGNORE_IPS="127.0.0.1")
    clock = app.extensions["viewtally.clock"]
    add_video(app)
    client = app.test_client()
    assert client.post("/api/analytics/view/intro").json["data"]["reason"] == "excluded"
    office = {"REMOTE_ADDR": "198.51.100.7"}
    client.post("/api/analytics/view/intro", headers={"User-Agent": BROWSER_UA}, environ_base=office)
    clock.advance(days=1)
    scheduler.ResetScheduler(app).catch_up()  # yesterday's counters are zeroed; the running totals are not
    client.post("/api/analytics/view/intro", headers={"User-Agent": BROWSER_UA}, environ_base=office)
    assert views(scrape(client)) == {"counted": 2, "duplicate": 0, "bot": 0, "prefetch": 0, "excluded": 1, "origin": 0}


def test_two_apps_on_one_database_scrape_the_same_views_but_only_their_own_requests(make_app):
    """Two apps stand for two workers: the database's figures are the deployment's, the latencies each one's."""
    one, other = make_app(), make_app()
    add_video(one)
    for _ in range(3):
        one.test_client().post("/api/analytics/view/intro")
    assert views(scrape(other.test_client()))["counted"] == 3
    assert requests_seen(scrape(one.test_client()), VIEW_ROUTE, "POST", "2xx") == 3
    assert requests_seen(scrape(other.test_client()), VIEW_ROUTE, "POST", "2xx") == 0


def test_job_figures_after_runs_that_succeed_and_fail(make_app, backend_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=backend_url)
    clock = app.extensions["viewtally.clock"]
    client = app.test_client()
    never = scrape(client)
    for job in scheduler.JOBS:
        assert value(never, "viewtally_job_last_success_timestamp_seconds", job=job) == 0
        assert value(never, "viewtally_job_failures_total", job=job) == 0
    runner = scheduler.ResetScheduler(app)  # not started: the test drives its ticks
    assert runner.catch_up() == ["daily_reset", "monthly_reset", "purge", "period_sums"]
    caught_up = scrape(client)
    for job in scheduler.JOBS:
        assert value(caught_up, "viewtally_job_last_success_timestamp_seconds", job=job) == START.timestamp()
    clock.set(datetime(2026, 3, 15, 0, 0, tzinfo=timezone.utc))
    run_sql(app, "ALTER TABLE videos RENAME TO videos_away")  # the reset cannot reach its table
    assert runner.tick() == ["daily_reset", "purge", "period_sums"]
    clock.advance(minutes=1)
    assert runner.tick() == ["daily_reset"]
    failing = scrape(client)
    assert value(failing, "viewtally_job_failures_total", job="daily_reset") == 2
    assert value(failing, "viewtally_job_last_success_timestamp_seconds", job="daily_reset") == START.timestamp()
    assert value(failing, "viewtally_job_failures_total", job="purge") == 0
    assert value(failing, "viewtally_job_last_success_timestamp_seconds", job="purge") == \
        datetime(2026, 3, 15, 0, 0, tzinfo=timezone.utc).timestamp()
    run_sql(app, "ALTER TABLE videos_away RENAME TO videos")
    clock.advance(minutes=1)
    assert runner.tick() == ["daily_reset"]
    recovered = scrape(client)
    assert value(recovered, "viewtally_job_last_success_timestamp_seconds", job="daily_reset") == \
        clock.now().timestamp()
    assert value(recovered, "viewtally_job_failures_total", job="daily_reset") == 2  # a counter: never goes down


def test_job_runs_from_an_earlier_release_gain_the_columns_and_their_last_success(make_app):
    old = make_app()
    scheduler.ResetScheduler(old).catch_up()
    run_sql(old, "ALTER TABLE job_runs DROP COLUMN succeeded_at")
    run_sql(old, "ALTER TABLE job_runs DROP COLUMN failures")
    samples = scrape(make_app().test_client())  # the new release, on the same file
    for job in scheduler.JOBS:
        assert value(samples, "viewtally_job_last_success_timestamp_seconds", job=job) == START.timestamp()
        assert value(samples, "viewtally_job_failures_total", job=job) == 0


def test_a_database_that_cannot_be_read_still_answers_the_process_figures(app, client):
    run_sql(app, "DROP TABLE daily_summary")
    samples = scrape(client)
    assert value(samples, "viewtally_database_up") == 0
    assert not views(samples)
    assert value(samples, "viewtally_database_errors_total", kind="OperationalError") == 1


# --- Each process's figures: latency, database and cache errors ---

def test_latency_is_labelled_by_route_rule_method_and_status_class(app, client):
    add_video(app)
    client.get("/api/analytics/stats/intro")
    client.get("/api/analytics/stats/intro")
    client.get("/api/analytics/stats/unknown-video")
    client.get("/no/such/page/12345")
    client.open("/api/analytics/stats/intro", method="BREW")
    samples = scrape(client)
    assert requests_seen(samples, STATS_ROUTE, "GET", "2xx") == 2
    assert requests_seen(samples, STATS_ROUTE, "GET", "4xx") == 1
    assert requests_seen(samples, "unmatched", "GET", "4xx") == 1
    assert requests_seen(samples, "unmatched", "other", "4xx") == 1  # a method no route has
    labels = {value for (_, pairs) in samples for _, value in pairs}
    assert not {"intro", "unknown-video", "BREW"} & labels and not any("12345" in label for label in labels)
    ok = {"route": STATS_ROUTE, "method": "GET", "status": "2xx"}
    buckets = sorted((float(dict(pairs)["le"]), count) for (name, pairs), count in samples.items()
                     if name == "viewtally_request_duration_seconds_bucket" and dict(pairs).items() >= ok.items())
    assert [count for _, count in buckets] == sorted(count for _, count in buckets)  # cumulative
    assert buckets[-1] == (float("inf"), 2)
    assert 0 < value(samples, "viewtally_request_duration_seconds_sum", **ok) < 10


def test_the_scrape_itself_is_timed_at_the_next_one(client):
    scrape(client)
    assert requests_seen(scrape(client), "/metrics", "GET", "2xx") == 1


def test_the_usual_error_series_are_listed_at_zero_before_any_error(app, client):
    samples = scrape(client)
    assert value(samples, "viewtally_database_errors_total", kind="OperationalError") == 0
    assert value(samples, "viewtally_cache_errors_total", operation="read") == 0
    assert value(samples, "viewtally_cache_errors_total", operation="write") == 0


def test_database_errors_are_counted_by_kind(app, client):
    add_video(app)
    run_sql(app, "DROP TABLE videos")
    assert client.get("/api/analytics/stats/intro").status_code == 503  # the driver's cursor (prepared.py)
    assert client.get("/api/videos").status_code == 503  # SQLAlchemy's engine
    assert value(scrape(client), "viewtally_database_errors_total", kind="OperationalError") == 2


def test_cache_errors_are_counted_and_the_answers_come_from_the_database(make_app):
    app = make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL="redis://127.0.0.1:1/0")
    add_video(app)
    client = app.test_client()
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == 0
    assert value(scrape(client), "viewtally_cache_errors_total", operation="read") == 1
    assert client.post("/api/analytics/view/intro").status_code == 200
    # The view's new token, then the delete of the entry it could not make stale; then the cache is bypassed.
    assert value(scrape(client), "viewtally_cache_errors_total", operation="write") == 2
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == 1


def test_a_table_in_a_folder_adds_up_the_tables_of_other_processes_with_the_same_routes(app, tmp_path):
    times = RequestTimes(app, str(tmp_path))
    times.observe(STATS_ROUTE, "GET", "2", 0.003)
    [own] = tmp_path.glob(f"request_times_{times.digest}_{os.getpid()}.bin")
    other = array("d", [0.0]) * len(times.table)  # a worker that answered two requests, one slow
    row = times.rows[(STATS_ROUTE, "GET", "2")]
    other[row + 2], other[row + 9], other[row + WIDTH - 1] = 1, 1, 0.004 + 0.9
    (tmp_path / f"request_times_{times.digest}_999999.bin").write_bytes(other.tobytes())
    (tmp_path / "request_times_0123456789ab_999998.bin").write_bytes(other.tobytes())  # other routes: left out
    [family] = times.collect()
    samples = {(sample.name, sample.labels.get("le")): sample.value for sample in family.samples
               if sample.labels.get("route") == STATS_ROUTE}
    assert samples[(f"{family.name}_count", None)] == 3
    assert samples[(f"{family.name}_sum", None)] == pytest.approx(0.907)
    assert (samples[(f"{family.name}_bucket", "0.0025")], samples[(f"{family.name}_bucket", "0.005")],
            samples[(f"{family.name}_bucket", "0.5")], samples[(f"{family.name}_bucket", "1.0")]) == (0, 2, 2, 3)
    assert own.stat().st_size == 8 * len(times.table)


def test_a_table_left_by_a_dead_process_with_this_pid_is_carried_on(app, tmp_path):
    first = RequestTimes(app, str(tmp_path))
    first.observe(STATS_ROUTE, "GET", "2", 0.003)
    again = RequestTimes(app, str(tmp_path))  # the same pid, as a new worker may get
    again.observe(STATS_ROUTE, "GET", "2", 0.003)
    row = again.rows[(STATS_ROUTE, "GET", "2")]
    assert again.totals()[row + 2] == 2  # the 5 ms bucket holds both
    assert again.totals()[row + WIDTH - 1] == pytest.approx(0.006)


# --- A real server: several gunicorn workers, one scrape ---

SERVED = {"ADMIN_TOKEN": ADMIN_TOKEN, "SECRET_KEY": "served-metrics-test", "RATELIMIT_ENABLED": "false",
          "SCHEDULER_ENABLED": "false"}


class Worker:
    """One kept-alive connection, and so one worker process, of a served app."""

    def __init__(self, server: Server):
        self.server = server
        self.http = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.pid = self.send("GET", "/healthz")

    def send(self, method: str, path: str, headers: dict | None = None) -> int:
        """Send a request, check it succeeded, and return the pid of the worker that answered."""
        self.http.request(method, path, headers=headers or {})
        response = self.http.getresponse()
        assert response.status == 200, response.read()
        response.read()
        return serving_pid(self.server, self.http.sock)


def connections_to_workers(server: Server, wanted: int) -> list[Worker]:
    """Open connections until `wanted` distinct workers hold one (the kernel picks the worker)."""
    found: dict[int, Worker] = {}
    for _ in range(60):
        worker = Worker(server)
        if worker.pid in found:
            worker.http.close()
        else:
            found[worker.pid] = worker
        if len(found) == wanted:
            break
    return list(found.values())


def served_scrape(server: Server) -> dict[tuple, float]:
    response = requests.get(f"{server.url}/metrics", headers=ADMIN, timeout=10)
    assert response.status_code == 200, response.text
    return parse(response.text)


def send_views(workers: list[Worker], each: int) -> int:
    sent = 0
    for worker in workers:
        for n in range(each):
            headers = {"User-Agent": BROWSER_UA, "X-Viewtally-Session": f"{worker.pid}-{n}"}
            assert worker.send("POST", "/api/analytics/view/intro", headers) == worker.pid
            sent += 1
    return sent


def test_views_sent_to_several_workers_all_appear_in_one_scrape(tmp_path):
    server = Server(tmp_path, {**SERVED, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/served.db"}, workers=3)
    workers = []
    try:
        requests.post(f"{server.url}/api/videos", json={"id": "intro", "title": "Intro"}, headers=ADMIN, timeout=10)
        workers = connections_to_workers(server, 3)
        assert len(workers) >= 2, "connections reached only one worker"
        sent = send_views(workers, 4)
        samples = served_scrape(server)  # answered by one worker, with every worker's figures
        assert views(samples)["counted"] == sent
        assert requests_seen(samples, VIEW_ROUTE, "POST", "2xx") == sent
        assert requests_seen(samples, "/healthz", "GET", "2xx") >= len(workers)
        folder = Path(re.search(r"Metrics of the workers in (\S+)", server.output()).group(1))
        assert folder.is_dir()
    finally:
        for worker in workers:
            worker.http.close()
        server.stop()
    assert not folder.exists(), "the folder gunicorn made for the metrics is removed at exit"


def test_a_restarted_server_starts_its_latencies_afresh_but_not_the_views(tmp_path, monkeypatch):
    folder = tmp_path / "metrics"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    settings = {**SERVED, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/served.db"}
    server = Server(tmp_path, settings, workers=2)
    workers = []
    try:
        requests.post(f"{server.url}/api/videos", json={"id": "intro", "title": "Intro"}, headers=ADMIN, timeout=10)
        workers = connections_to_workers(server, 2)
        sent = send_views(workers, 3)
        assert requests_seen(served_scrape(server), VIEW_ROUTE, "POST", "2xx") == sent
    finally:
        for worker in workers:
            worker.http.close()
        server.stop()
    assert list(folder.glob("request_times_*.bin")), "a folder named by the environment is kept, files and all"
    server = Server(tmp_path, settings, workers=2)
    try:
        samples = served_scrape(server)
        assert views(samples)["counted"] == sent  # the database's, across restarts
        assert requests_seen(samples, VIEW_ROUTE, "POST", "2xx") == 0  # the last run's files were removed
    finally:
        server.stop()
