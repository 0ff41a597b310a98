"""The stats cache: fresh after every view and reset, even racing them; Redis or memory."""

import random

import pytest

from analytics.services import stats_cache, views
from conftest import REDIS_URL, add_video, run_sql


@pytest.fixture(params=["SimpleCache", "RedisCache"])
def app(request, make_app):
    if request.param == "SimpleCache":
        return make_app(CACHE_TYPE="SimpleCache")
    prefix = request.getfixturevalue("redis_prefix")
    return make_app(CACHE_TYPE="RedisCache", CACHE_REDIS_URL=REDIS_URL, CACHE_KEY_PREFIX=prefix)


def test_stats_are_served_from_the_cache(app, clock):
    add_video(app)
    with app.app_context():
        views.track_view("intro", clock)
        assert views.get_stats("intro", clock).views_total == 1
        run_sql(app, "UPDATE videos SET views_total = 50")
        assert views.get_stats("intro", clock).views_total == 1
        views.track_view("intro", clock)
        assert views.get_stats("intro", clock).views_total == 51


def test_a_read_racing_a_view_never_leaves_the_old_count_cached(app, clock):
    """The reader loads the row, a view commits, then the reader stores what it loaded."""
    add_video(app)
    with app.app_context():

        def load_then_a_view_commits():
            row = views._load_counters("intro")
            views.track_view("intro", clock)
            return row

        raced = stats_cache.fetch("intro", load_then_a_view_commits)
        assert raced.views_total == 0  # that reader saw the old row, as it must
        assert views.get_stats("intro", clock).views_total == 1


def test_a_read_racing_a_reset_never_leaves_the_old_count_cached(app, clock):
    from analytics.services import resets

    add_video(app)
    with app.app_context():
        views.track_view("intro", clock)

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
    try:
        statuses = [client.post("/api/analytics/view/intro").status_code for client in clients]
        assert statuses == [200, 200, 200, 429]
        assert list(redis.Redis.from_url(REDIS_URL).scan_iter(match=f"*{address}*")), "counted in Redis"
    finally:
        server = redis.Redis.from_url(REDIS_URL)
        for key in server.scan_iter(match=f"*{address}*"):
            server.delete(key)
