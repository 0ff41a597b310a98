"""Routing that remembers (analytics/routing.py): the same answers as routing each time."""

from flask import request

from analytics import routing
from conftest import ADMIN_TOKEN, add_video


def test_a_held_route_still_hands_each_path_its_own_values(app, client):
    add_video(app, "first", "First")
    add_video(app, "second", "Second")
    for _ in range(2):  # the second time round, both paths are held
        assert client.get("/api/analytics/stats/first").json["data"]["videoId"] == "first"
        assert client.get("/api/analytics/stats/second").json["data"]["videoId"] == "second"
    assert ("", "/api/analytics/stats/first", "GET", False) in app.routed


def test_the_method_is_part_of_the_route(app, client):
    add_video(app)
    assert client.get("/api/analytics/stats/intro").status_code == 200
    refused = client.post("/api/analytics/stats/intro")
    assert (refused.status_code, refused.json["code"]) == (405, "method_not_allowed")
    # One path, two endpoints by method: each method keeps its own.
    for _ in range(2):
        for method, endpoint in (("GET", "admin.logout_page"), ("POST", "admin.logout")):
            with app.test_request_context("/admin/logout", method=method):
                assert request.url_rule.endpoint == endpoint


def test_a_view_may_change_its_values_without_changing_the_held_ones(app):
    for _ in range(2):  # first as routed, then as held
        with app.test_request_context("/api/analytics/stats/intro"):
            assert request.view_args == {"video_id": "intro"}
            assert request.url_rule.endpoint == "api.stats"
            request.view_args["video_id"] = "changed"
    with app.test_request_context("/api/analytics/stats/intro"):
        assert request.view_args == {"video_id": "intro"}


def test_errors_and_redirects_are_routed_afresh(app, client):
    add_video(app)
    client.get("/api/analytics/stats/intro")
    held = dict(app.routed)
    assert client.get("/api/analytics/nowhere").status_code == 404
    assert client.get("/api//analytics/stats/intro").status_code == 308  # werkzeug merges the slashes
    assert client.delete("/api/analytics/stats/intro").status_code == 405
    assert app.routed == held
    assert client.get("/api/analytics/nowhere").status_code == 404


def test_held_routes_are_bounded(app, client, monkeypatch):
    monkeypatch.setattr(routing, "ROUTES_HELD", 3)
    for number in range(10):
        assert client.get(f"/api/analytics/stats/v{number}").status_code == 404  # routed, then not found
        assert len(app.routed) <= 3
    long_path = "/api/analytics/stats/" + "y" * (routing.PATH_HELD_MAX)
    assert client.get(long_path).status_code == 400  # routed each time, and refused as an id
    assert not any(key[1] == long_path for key in app.routed)


def test_the_admin_api_routes_as_before(app, client):
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for _ in range(2):
        created = client.post("/api/videos", json={"id": "clip", "title": "Clip"}, headers=headers)
        assert created.status_code in (201, 409)
        assert client.get("/api/videos").status_code == 200
