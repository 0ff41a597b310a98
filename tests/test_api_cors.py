"""Browsers on other sites may read the public endpoints, never the admin ones."""

import pytest

from conftest import add_video

PUBLIC = [
    ("POST", "/api/analytics/view/intro"),
    ("GET", "/api/analytics/pixel/intro.gif"),
    ("GET", "/api/analytics/stats/intro"),
    ("GET", "/api/analytics/stats/intro/daily"),
    ("GET", "/api/videos"),
    ("GET", "/api/analytics/stats/missing"),
]


@pytest.mark.parametrize("method, path", PUBLIC)
def test_public_endpoints_allow_any_origin_by_default(app, client, method, path):
    add_video(app)
    response = client.open(path, method=method, headers={"Origin": "https://videos.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("path", ["/api/analytics/reset/daily", "/api/videos"])
def test_admin_endpoints_never_allow_other_origins(client, admin, path):
    response = client.post(path, headers={**admin, "Origin": "https://videos.example"}, json={})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_list_of_origins_is_matched_exactly(make_app):
    app = make_app(CORS_ORIGINS="https://a.example, https://b.example")
    add_video(app)
    client = app.test_client()
    allowed = client.get("/api/analytics/stats/intro", headers={"Origin": "https://b.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://b.example"
    assert "Origin" in allowed.headers["Vary"]
    other = client.get("/api/analytics/stats/intro", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_an_empty_list_turns_cross_origin_reads_off(make_app):
    app = make_app(CORS_ORIGINS="")
    add_video(app)
    response = app.test_client().get("/api/analytics/stats/intro", headers={"Origin": "https://a.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("path, method", [("/api/analytics/view/intro", "POST"), ("/api/analytics/stats/intro", "GET")])
def test_a_preflight_is_answered_for_allowed_origins(make_app, path, method):
    app = make_app(CORS_ORIGINS="https://videos.example")
    add_video(app)
    asking = {"Origin": "https://videos.example", "Access-Control-Request-Method": method,
              "Access-Control-Request-Headers": "content-type"}
    response = app.test_client().options(path, headers=asking)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://videos.example"
    assert method in response.headers["Access-Control-Allow-Methods"]
    # a player on another site may send JSON and name its viewer
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type, X-Viewtally-Session"
    assert response.headers["Access-Control-Max-Age"] == "86400"
    other = app.test_client().options(path, headers={**asking, "Origin": "https://elsewhere.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Methods" not in other.headers
