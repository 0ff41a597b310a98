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
    assert response.headers.getlist("Access-Control-Allow-Origin") == ["*"]


@pytest.mark.parametrize("path", ["/api/analytics/reset/daily", "/api/videos"])
def test_admin_endpoints_never_allow_other_origins(client, admin, path):
    response = client.post(path, headers={**admin, "Origin": "https://videos.example"}, json={})
    assert "Access-Control-Allow-Origin" not in response.headers


# Listed in any case: a browser sends scheme and host in lower case, and they match.
@pytest.mark.parametrize("listed", ["https://a.example, https://b.example", "https://A.example, https://B.Example"])
def test_a_list_of_origins_is_matched_exactly(make_app, listed):
    app = make_app(CORS_ORIGINS=listed)
    add_video(app)
    client = app.test_client()
    allowed = client.get("/api/analytics/stats/intro", headers={"Origin": "https://b.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://b.example"
    assert "Origin" in allowed.headers["Vary"]
    other = client.get("/api/analytics/stats/intro", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"], "a shared cache must not hand this answer to a listed origin"


def test_an_empty_list_turns_cross_origin_reads_off(make_app):
    app = make_app(CORS_ORIGINS="")
    add_video(app)
    response = app.test_client().get("/api/analytics/stats/intro", headers={"Origin": "https://a.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


def allowed_headers(response) -> set[str]:
    return {name.strip().lower() for name in response.headers.get("Access-Control-Allow-Headers", "").split(",")} - {""}


@pytest.mark.parametrize("path, method", [
    ("/api/analytics/view/intro", "POST"),
    ("/api/analytics/pixel/intro.gif", "GET"),
    ("/api/analytics/stats/intro", "GET"),
    ("/api/analytics/stats/intro/daily", "GET"),
    ("/api/videos", "GET"),
])
def test_a_preflight_is_answered_for_allowed_origins(make_app, path, method):
    app = make_app(CORS_ORIGINS="https://videos.example")
    add_video(app)
    asking = {"Origin": "https://videos.example", "Access-Control-Request-Method": method,
              "Access-Control-Request-Headers": "content-type, x-viewtally-session"}
    response = app.test_client().options(path, headers=asking)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://videos.example"
    assert method in response.headers["Access-Control-Allow-Methods"]
    # a player on another site may send JSON and name its viewer (Flask-CORS echoes what was asked)
    assert allowed_headers(response) == {"content-type", "x-viewtally-session"}
    assert response.headers["Access-Control-Max-Age"] == "86400"
    other = app.test_client().options(path, headers={**asking, "Origin": "https://elsewhere.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Methods" not in other.headers


def test_a_preflight_is_answered_for_any_origin_by_default(client):
    asking = {"Origin": "https://videos.example", "Access-Control-Request-Method": "POST"}
    response = client.options("/api/analytics/view/intro", headers=asking)
    assert response.status_code == 200
    assert response.headers.getlist("Access-Control-Allow-Origin") == ["*"]
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_a_preflight_allows_no_other_header(client):
    asking = {"Origin": "https://videos.example", "Access-Control-Request-Method": "GET",
              "Access-Control-Request-Headers": "authorization, x-viewtally-session"}
    response = client.options("/api/videos", headers=asking)
    assert allowed_headers(response) == {"x-viewtally-session"}


@pytest.mark.parametrize("path, method", [
    ("/api/videos", "POST"),
    ("/api/analytics/view/intro", "GET"),
])
def test_a_preflight_allows_only_the_public_method(client, path, method):
    asking = {"Origin": "https://videos.example", "Access-Control-Request-Method": method}
    response = client.options(path, headers=asking)
    assert method not in response.headers.get("Access-Control-Allow-Methods", "")
    assert "Access-Control-Max-Age" not in response.headers
    assert "Access-Control-Allow-Origin" not in response.headers  # not even the origin: no allowance at all


@pytest.mark.parametrize("path", ["/api/analytics/reset/daily", "/api/analytics/reset/monthly", "/api/analytics/totals"])
def test_a_preflight_on_other_endpoints_gets_no_allowance(client, path):
    asking = {"Origin": "https://videos.example", "Access-Control-Request-Method": "POST"}
    response = client.options(path, headers=asking)
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


@pytest.mark.parametrize("body", [{}, {"id": "intro", "title": "Intro"}])
def test_the_admin_post_on_the_public_list_path_never_answers_other_origins(app, client, admin, body):
    add_video(app)
    response = client.post("/api/videos", headers={**admin, "Origin": "https://videos.example"}, json=body)
    assert response.status_code in (201, 400, 409)
    assert "Access-Control-Allow-Origin" not in response.headers


def test_an_error_of_a_public_endpoint_is_readable_by_other_origins(client):
    response = client.get("/api/videos?per_page=0", headers={"Origin": "https://videos.example"})
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_with_a_list_a_request_without_origin_names_none(make_app):
    app = make_app(CORS_ORIGINS="https://a.example https://b.example")
    add_video(app)
    response = app.test_client().get("/api/analytics/stats/intro")
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("value", ["https://*.example.com", "https://a.example/path", "a.example", "* https://a.example"])
def test_an_origin_that_is_not_plain_is_refused_at_start(make_app, value):
    from analytics.config import ConfigError

    with pytest.raises(ConfigError, match="CORS_ORIGINS"):
        make_app(CORS_ORIGINS=value)
