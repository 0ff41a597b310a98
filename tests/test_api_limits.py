"""Body size and rate limits, on every route."""

import re

import pytest

from analytics.web.api.responses import PIXEL_GIF
from conftest import add_video, rows

ROUTES = [
    ("POST", "/api/analytics/view/intro"),
    ("GET", "/api/analytics/pixel/intro.gif"),
    ("GET", "/api/analytics/stats/intro"),
    ("GET", "/api/analytics/stats/intro/daily"),
    ("POST", "/api/analytics/reset/daily"),
    ("POST", "/api/analytics/reset/monthly"),
    ("POST", "/api/videos"),
    ("GET", "/api/videos"),
    ("GET", "/healthz"),
    ("POST", "/api/no-such-route"),
]


@pytest.mark.parametrize("method, path", ROUTES)
def test_a_body_over_16_kib_is_413_on_every_route(app, client, admin, method, path):
    add_video(app)
    response = client.open(path, method=method, data=b"x" * (16 * 1024 + 1), headers=admin)
    assert response.status_code == 413
    assert response.json["code"] == "payload_too_large"
    assert response.json["success"] is False
    assert rows(app, "SELECT views_total FROM videos") == [(0,)]


def test_a_body_of_exactly_16_kib_is_accepted(app, client):
    add_video(app)
    response = client.post("/api/analytics/view/intro", data=b"x" * (16 * 1024))
    assert response.status_code == 200


def test_an_html_route_answers_413_as_a_page(client):
    response = client.post("/somewhere", data=b"x" * 20000)
    assert response.status_code == 413
    assert response.mimetype == "text/html"


@pytest.fixture
def limited(make_app):
    app = make_app(TRACK_RATE_LIMIT="3 per minute", STATS_RATE_LIMIT="2 per minute")
    add_video(app)
    return app


def test_tracking_over_the_limit_is_429_with_retry_after(limited):
    client = limited.test_client()
    statuses = [client.post("/api/analytics/view/intro").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.post("/api/analytics/view/intro")
    assert response.json["code"] == "rate_limited"
    assert response.json["success"] is False
    assert 0 < int(response.headers["Retry-After"]) <= 60
    wait = int(re.search(r"try again in (\d+) seconds", response.json["error"]).group(1))
    assert abs(wait - int(response.headers["Retry-After"])) <= 1
    assert rows(limited, "SELECT views_total FROM videos") == [(3,)]


def test_the_post_and_the_pixel_share_one_budget(limited):
    client = limited.test_client()
    client.post("/api/analytics/view/intro")
    client.get("/api/analytics/pixel/intro.gif")
    client.post("/api/analytics/view/intro")
    pixel = client.get("/api/analytics/pixel/intro.gif")
    assert pixel.status_code == 429
    assert pixel.data == PIXEL_GIF
    assert "Retry-After" in pixel.headers


def test_stats_have_their_own_budget(limited):
    client = limited.test_client()
    for _ in range(3):
        client.post("/api/analytics/view/intro")
    assert client.get("/api/analytics/stats/intro").status_code == 200
    assert client.get("/api/analytics/stats/intro/daily").status_code == 200
    assert client.get("/api/analytics/stats/intro").status_code == 429


def test_limits_are_per_client_address(limited):
    one = limited.test_client()
    other = limited.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    for _ in range(3):
        one.post("/api/analytics/view/intro")
    assert one.post("/api/analytics/view/intro").status_code == 429
    assert other.post("/api/analytics/view/intro").status_code == 200


def test_a_forged_forwarded_for_header_gains_nothing_by_default(limited):
    client = limited.test_client()
    statuses = [
        client.post("/api/analytics/view/intro", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
        for n in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]


def test_behind_a_trusted_proxy_only_the_hop_it_added_counts(make_app):
    app = make_app(TRACK_RATE_LIMIT="2 per minute", TRUSTED_PROXIES=1)
    add_video(app)
    client = app.test_client()

    def view(forwarded):
        return client.post("/api/analytics/view/intro", headers={"X-Forwarded-For": forwarded}).status_code

    # The proxy appends the real peer last; whatever the client put before it is ignored.
    assert [view(f"10.9.9.{n}, 203.0.113.5") for n in range(3)] == [200, 200, 429]
    assert view("203.0.113.6") == 200


def test_rate_limits_can_be_switched_off(make_app):
    app = make_app(RATELIMIT_ENABLED=False, TRACK_RATE_LIMIT="1 per minute")
    add_video(app)
    client = app.test_client()
    assert [client.post("/api/analytics/view/intro").status_code for _ in range(3)] == [200, 200, 200]
