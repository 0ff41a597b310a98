"""The stats cache: fresh after every view and reset, even racing them; Redis or memory."""

import random

import pytest

from analytics import extensions
from analytics.extensions import cache
from analytics.services import stats_cache, views
from analytics.services.resets import reset_daily
from conftest import ADMIN_TOKEN, REDIS_URL, add_video, run_sql, viewer

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(params=["SimpleCache", "RedisCache"])
def app(request, make_app):
    if request.param == "SimpleCache":
        return make_app(CACHE_TYPE="SimpleCache")
    prefix = request.getfixturevalue("redis_prefix")
    return make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=prefix)


def test_stats_are_served_from_the_cache(app, clock):
    add_video(app)
    with app.app_context():
        views.track_view("intro", clock, viewer())
        assert views.get_stats("intro", clock).views_total == 1
        run_sql(app, "UPDATE videos SET views_total = 50")
        assert views.get_stats("intro", clock).views_total == 1
        views.track_view("intro", clock, viewer())
        assert views.get_stats("intro", clock).views_total == 51


def test_a_read_racing_a_view_never_leaves_the_old_count_cached(app, clock):
    """The reader loads the row, a view commits, then the reader stores what it loaded."""
    add_video(app)
    with app.app_context():

        def load_then_a_view_commits():
            row = views._load_counters("intro")
            views.track_view("intro", clock, viewer())
            return row

        raced = stats_cache.fetch("intro", load_then_a_view_commits)
        assert raced.views_total == 0  # that reader saw the old row, as it must
        assert views.get_stats("intro", clock).views_total == 1


def test_a_read_racing_a_reset_never_leaves_the_old_count_cached(app, clock):
    from analytics.services import resets

    add_video(app)
    with app.app_context():
        views.track_view("intro", clock, viewer())

        def load_then_a_reset_commits():
            row = views._load_counters("intro")
            resets.reset_daily(clock)
            return row

        stats_cache.fetch("intro", load_then_a_reset_commits)
        assert views.get_stats("intro", clock).views_today == 0


def test_the_redis_cache_holds_entries_under_the_prefix(make_app, redis_prefix):
    import redis

    app = make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=redis_prefix)
    add_video(app)
    app.test_client().get("/api/analytics/stats/intro")
    keys = {key.decode() for key in redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{redis_prefix}*")}
    assert f"{redis_prefix}stats:intro" in keys


def test_a_dead_cache_backend_costs_speed_not_answers(make_app):
    app = make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL="redis://127.0.0.1:1/0")
    add_video(app)
    client = app.test_client()
    assert client.post("/api/analytics/view/intro").status_code == 200
    response = client.get("/api/analytics/stats/intro")
    assert response.status_code == 200
    assert response.json["data"]["viewsTotal"] == 1


def test_two_processes_sharing_redis_see_each_others_views(make_app, redis_prefix):
    """Two apps stand for two workers: a view tracked by one is seen by the other at once."""
    settings = dict(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=redis_prefix)
    one = make_app(**settings)
    other = make_app(**settings)
    add_video(one)
    assert other.test_client().get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == 0
    one.test_client().post("/api/analytics/view/intro")
    assert other.test_client().get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == 1


def test_rate_limits_in_redis_are_shared_between_processes(make_app, redis_prefix):
    import redis

    settings = dict(RATELIMIT_STORAGE_URI=REDIS_URL, TRACK_RATE_LIMIT="3 per minute")
    one = make_app(**settings)
    other = make_app(**settings)
    add_video(one)
    address = f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"  # this test's own client
    clients = [app.test_client() for app in (one, other, one, other)]
    for client in clients:
        client.environ_base["REMOTE_ADDR"] = address
    with one.test_request_context(environ_base={"REMOTE_ADDR": address}):
        client_key = extensions.client_key()
    try:
        statuses = [client.post("/api/analytics/view/intro").status_code for client in clients]
        assert statuses == [200, 200, 200, 429]
        server = redis.Redis.from_url(REDIS_URL)
        assert list(server.scan_iter(match=f"*{client_key}*")), "counted in Redis"
        assert not list(server.scan_iter(match=f"*{address}*")), "Redis holds a hash of the address, never it"
    finally:
        server = redis.Redis.from_url(REDIS_URL)
        for key in server.scan_iter(match=f"*{client_key}*"):
            server.delete(key)


def test_a_cache_that_refuses_writes_never_hides_a_viewers_own_view(make_app, redis_prefix, caplog):
    """Redis that still serves reads but refuses writes (full, read-only): the view shows at once."""
    import redis

    server = redis.Redis.from_url(REDIS_URL)
    user = f"{redis_prefix.rstrip(':')}-user"
    server.acl_setuser(user, enabled=True, nopass=True, keys=[f"{redis_prefix}*"], categories=["+@all"])
    try:
        url = REDIS_URL.replace("redis://", f"redis://{user}:any@")
        app = make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=url, CACHE_KEY_PREFIX=redis_prefix)
        add_video(app)
        client = app.test_client()
        assert client.get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == 0
        assert server.exists(f"{redis_prefix}stats:intro"), "the entry is cached"
        server.acl_setuser(user, enabled=True, categories=["-@write"])  # reads still pass
        for expected in (1, 2):
            assert client.post("/api/analytics/view/intro").status_code == 200
            assert client.get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == expected
        assert server.exists(f"{redis_prefix}stats:intro"), "the stale entry is still in Redis"
        assert sum("stats cache bypassed" in r.getMessage() for r in caplog.records) == 1
    finally:
        server.acl_deluser(user)


def test_no_cache_lifetime_means_no_cache_traffic(make_app, redis_prefix):
    import redis

    app = make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=redis_prefix,
                   STATS_CACHE_SECONDS=0)
    add_video(app)
    client = app.test_client()
    client.post("/api/analytics/view/intro")
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == 1
    assert client.post("/api/analytics/reset/daily", headers=ADMIN_HEADERS).status_code == 200
    assert list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{redis_prefix}*")) == []


def test_a_scheduled_reset_keeps_the_cache_and_the_numbers_stay_true(app, clock):
    add_video(app)
    client = app.test_client()
    client.post("/api/analytics/view/intro")
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsToday"] == 1
    run_sql(app, "UPDATE videos SET views_total = 50")  # only a read of the database would show this
    clock.advance(days=1)
    with app.app_context():
        assert reset_daily(clock, stale_only=True) == 1
    data = client.get("/api/analytics/stats/intro").json["data"]
    # nothing to forget: the cached entry still serves, and its stale counters read 0 today
    assert (data["viewsToday"], data["viewsTotal"]) == (0, 1)
    with app.app_context():
        reset_daily(clock)  # a manual reset forgets every entry
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == 50


def test_in_process_tokens_stay_bounded_and_never_serve_a_stale_entry(make_app, clock, monkeypatch):
    """SimpleCache's tokens are a dict in the worker; past its limit it starts over, and entries go stale."""
    monkeypatch.setattr(stats_cache.LocalTokens, "LIMIT", 3)
    app = make_app(CACHE_TYPE="SimpleCache")
    for video in ("a", "b", "c", "d", "e"):
        add_video(app, video)
    client = app.test_client()
    assert client.get("/api/analytics/stats/a").json["data"]["viewsTotal"] == 0
    for video in ("a", "b", "c", "d"):  # the fourth starts the dict over
        client.post(f"/api/analytics/view/{video}")
    tokens = app.extensions["viewtally.stats_cache_tokens"]
    assert len(tokens._state[1]) <= 3
    assert client.get("/api/analytics/stats/a").json["data"]["viewsTotal"] == 1
    run_sql(app, "UPDATE videos SET views_total = 7 WHERE id = 'a'")
    assert client.get("/api/analytics/stats/a").json["data"]["viewsTotal"] == 1  # served from the cache
    client.post("/api/analytics/view/d")  # a video already listed: the dict does not start over
    assert client.get("/api/analytics/stats/a").json["data"]["viewsTotal"] == 1
    for video in ("b", "c", "e"):  # the third new one finds the dict full
        client.post(f"/api/analytics/view/{video}")
    assert client.get("/api/analytics/stats/a").json["data"]["viewsTotal"] == 7  # the new epoch made it stale
