"""Public counters: a video's views in all, as a badge or JSON, for any site to show; they count nothing."""

import re

import pytest

from conftest import add_video, run_sql


def test_the_badge_shows_views_in_all_with_thousands_separators(app, client):
    add_video(app)
    add_video(app, "other", "Other")
    run_sql(app, "UPDATE videos SET views_total = 1234 WHERE id = 'intro'")
    response = client.get("/api/analytics/counter/intro.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert svg.startswith("<svg") and 'aria-label="1,234 views"' in svg and ">1,234 views</text>" in svg
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers.getlist("Access-Control-Allow-Origin") == ["*"]
    # The badge is as wide as its text, so a long count is not cut off.
    widths = [int(re.search(r'width="(\d+)"', client.get(f"/api/analytics/counter/{video}.svg").text).group(1))
              for video in ("intro", "other")]
    assert widths[0] > widths[1]


def test_one_view_is_one_view(app, client):
    add_video(app)
    client.post("/api/analytics/view/intro")
    assert ">1 view</text>" in client.get("/api/analytics/counter/intro.svg").text


def test_the_json_counter_answers_in_the_envelope(app, client):
    add_video(app)
    client.post("/api/analytics/view/intro")
    response = client.get("/api/analytics/counter/intro.json")
    assert response.json == {"success": True, "data": {"videoId": "intro", "viewsTotal": 1}}
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers.getlist("Access-Control-Allow-Origin") == ["*"]


def test_reading_a_counter_counts_nothing(app, client):
    add_video(app)
    for suffix in ("svg", "json", "svg"):
        assert client.get(f"/api/analytics/counter/intro.{suffix}").status_code == 200
    assert client.get("/api/analytics/stats/intro").json["data"]["viewsTotal"] == 0


@pytest.mark.parametrize("suffix", ["svg", "json"])
def test_unknown_and_malformed_videos(client, suffix):
    missing = client.get(f"/api/analytics/counter/nope.{suffix}")
    assert (missing.status_code, missing.json["code"]) == (404, "video_not_found")
    assert "Cache-Control" not in missing.headers
    bad = client.get(f"/api/analytics/counter/no.pe.{suffix}")
    assert (bad.status_code, bad.json["code"]) == (400, "invalid_video_id")


@pytest.mark.parametrize("suffix", ["svg", "json"])
def test_public_counters_off_are_404s(make_app, suffix):
    app = make_app(PUBLIC_COUNTERS=False)
    add_video(app)
    response = app.test_client().get(f"/api/analytics/counter/intro.{suffix}")
    assert (response.status_code, response.json["code"]) == (404, "not_found")


def test_counters_share_the_stats_rate_limit(make_app):
    app = make_app(STATS_RATE_LIMIT="3 per minute")
    add_video(app)
    client = app.test_client()
    answers = [client.get(path).status_code for path in (
        "/api/analytics/stats/intro", "/api/analytics/counter/intro.svg", "/api/analytics/counter/intro.json",
        "/api/analytics/counter/intro.svg")]
    assert answers == [200, 200, 200, 429]
