"""The admin endpoints: resets and registering videos; listing videos."""

import pytest

from conftest import ADMIN_TOKEN, add_video, rows


@pytest.mark.parametrize("path", ["/api/analytics/reset/daily", "/api/analytics/reset/monthly"])
@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer wrong", f"Basic {ADMIN_TOKEN}", f"Bearer {ADMIN_TOKEN}x",
     f"Bearer {ADMIN_TOKEN[:-1]}", ADMIN_TOKEN],
)
def test_resets_refuse_a_missing_or_wrong_token(app, client, path, authorization):
    add_video(app)
    client.post("/api/analytics/view/intro")
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = client.post(path, headers=headers)
    assert response.status_code == 401
    assert response.json["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert rows(app, "SELECT views_today, views_month FROM videos") == [(1, 1)]


def test_daily_reset_answers_the_number_of_videos(app, client, admin):
    for video_id in ("a", "b", "c"):
        add_video(app, video_id)
    client.post("/api/analytics/view/a")
    response = client.post("/api/analytics/reset/daily", headers=admin)
    assert response.status_code == 200
    assert response.json == {"success": True, "data": {"message": "Reset daily views for 3 videos", "count": 3}}
    assert client.get("/api/analytics/stats/a").json["data"] == {
        "videoId": "a", "viewsToday": 0, "viewsMonth": 1, "viewsTotal": 1, "uniqueViewersToday": 0,
        "watchSecondsToday": 0.0, "watchSecondsMonth": 0.0, "completionsToday": 0,
    }


def test_monthly_reset_answers_the_number_of_videos(app, client, admin):
    add_video(app, "a")
    client.post("/api/analytics/view/a")
    response = client.post("/api/analytics/reset/monthly", headers=admin)
    assert response.json["data"] == {"message": "Reset monthly views for 1 videos", "count": 1}
    assert client.get("/api/analytics/stats/a").json["data"] == {
        "videoId": "a", "viewsToday": 0, "viewsMonth": 0, "viewsTotal": 1, "uniqueViewersToday": 0,
        "watchSecondsToday": 0.0, "watchSecondsMonth": 0.0, "completionsToday": 0,
    }


def test_the_bearer_scheme_is_case_insensitive(client, admin):
    response = client.post("/api/analytics/reset/daily", headers={"Authorization": f"bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200


def test_registering_a_video(client, admin, clock):
    response = client.post("/api/videos", json={"id": "launch-2026", "title": "  Launch  "}, headers=admin)
    assert response.status_code == 201
    assert response.json == {
        "success": True,
        "data": {
            "id": "launch-2026", "title": "Launch", "createdAt": "2026-03-14T15:00:00Z",
            "viewsToday": 0, "viewsMonth": 0, "viewsTotal": 0,
        },
    }
    assert client.post("/api/analytics/view/launch-2026").status_code == 200


def test_registering_needs_the_token(client):
    response = client.post("/api/videos", json={"id": "a", "title": "A"})
    assert response.status_code == 401


def test_registering_an_existing_id_is_409(app, client, admin):
    add_video(app, "a", "First")
    response = client.post("/api/videos", json={"id": "a", "title": "Second"}, headers=admin)
    assert (response.status_code, response.json["code"]) == (409, "video_exists")
    assert rows(app, "SELECT title FROM videos") == [("First",)]


@pytest.mark.parametrize(
    "body, code",
    [
        ({"title": "No id"}, "invalid_video_id"),
        ({"id": "", "title": "Empty"}, "invalid_video_id"),
        ({"id": "has space", "title": "T"}, "invalid_video_id"),
        ({"id": 42, "title": "T"}, "invalid_video_id"),
        ({"id": "a" * 65, "title": "T"}, "invalid_video_id"),
        ({"id": "ok"}, "invalid_title"),
        ({"id": "ok", "title": "   "}, "invalid_title"),
        ({"id": "ok", "title": "x" * 201}, "invalid_title"),
        ({"id": "ok", "title": ["list"]}, "invalid_title"),
        ({"id": "ok", "title": "nul\u0000byte"}, "invalid_title"),
        ({"id": "ok", "title": "two\nlines"}, "invalid_title"),
        (["id", "title"], "invalid_json"),
        ("just a string", "invalid_json"),
    ],
)
def test_registering_refuses_bad_fields(app, client, admin, body, code):
    response = client.post("/api/videos", json=body, headers=admin)
    assert response.status_code == 400
    assert response.json["code"] == code
    assert rows(app, "SELECT count(*) FROM videos") == [(0,)]


@pytest.mark.parametrize(
    "data, content_type",
    [("{not json", "application/json"), ('{"id": "a", "title": "A"}', "text/plain"), ("", "application/json")],
)
def test_registering_refuses_a_body_that_is_not_json(client, admin, data, content_type):
    response = client.post("/api/videos", data=data, content_type=content_type, headers=admin)
    assert (response.status_code, response.json["code"]) == (400, "invalid_json")


def test_listing_videos_pages_and_sorts(app, client, clock):
    for index, video_id in enumerate(["a", "b", "c", "d", "e"]):
        add_video(app, video_id, f"Video {video_id}")
        clock.advance(minutes=1)
        for _ in range(index):
            client.post(f"/api/analytics/view/{video_id}")
    first = client.get("/api/videos?per_page=2").json["data"]
    assert [item["id"] for item in first["items"]] == ["e", "d"]
    assert (first["page"], first["perPage"], first["total"], first["pages"]) == (1, 2, 5, 3)
    last = client.get("/api/videos?per_page=2&page=3").json["data"]
    assert [item["id"] for item in last["items"]] == ["a"]
    assert client.get("/api/videos?page=4&per_page=2").json["data"]["items"] == []
    newest = client.get("/api/videos?sort=created_at").json["data"]["items"]
    assert [item["id"] for item in newest] == ["e", "d", "c", "b", "a"]
    assert newest[0] == {
        "id": "e", "title": "Video e", "createdAt": "2026-03-14T15:04:00Z",
        "viewsToday": 4, "viewsMonth": 4, "viewsTotal": 4,
    }


def test_listing_sorts_by_current_counts_not_stale_ones(app, client, clock, admin):
    add_video(app, "old")
    add_video(app, "new")
    for _ in range(5):
        client.post("/api/analytics/view/old")
    clock.advance(days=1)  # no reset ran: old's raw counter still says 5
    client.post("/api/analytics/view/new")
    today = client.get("/api/videos?sort=views_today").json["data"]["items"]
    assert [(item["id"], item["viewsToday"]) for item in today] == [("new", 1), ("old", 0)]


@pytest.mark.parametrize(
    "query, code",
    [("page=0", "invalid_page"), ("page=x", "invalid_page"), ("per_page=0", "invalid_per_page"),
     ("per_page=101", "invalid_per_page"), ("sort=title", "invalid_sort"), ("sort=", "invalid_sort"),
     ("q=" + "x" * 101, "invalid_q"), ("q=a%00b", "invalid_q")],
)
def test_listing_refuses_bad_parameters(client, query, code):
    response = client.get(f"/api/videos?{query}")
    assert (response.status_code, response.json["code"]) == (400, code)


def test_listing_searches_titles_and_ids(app, client):
    add_video(app, "intro-2026", "Launch trailer")
    add_video(app, "behind", "Behind the scenes")
    response = client.get("/api/videos?q=TRAIL")
    assert [item["id"] for item in response.json["data"]["items"]] == ["intro-2026"]
    assert response.json["data"]["total"] == 1
    assert client.get("/api/videos?q=behind").json["data"]["total"] == 1
    assert client.get("/api/videos?q=zzz").json["data"]["items"] == []


def test_absurdly_nested_json_is_a_400_not_a_crash(client, admin):
    body = "[" * 5000 + "]" * 5000  # deeper than Python's recursion limit, within 16 KiB
    response = client.post("/api/videos", data=body, content_type="application/json", headers=admin)
    assert (response.status_code, response.json["code"]) == (400, "invalid_json")


@pytest.mark.parametrize("body, field", [
    ({"id": "ok", "titel": "Typo"}, "titel"),
    ({"id": "ok", "title": "T", "extra": 1}, "extra"),
])
def test_registering_refuses_an_unknown_field_by_name(app, client, admin, body, field):
    response = client.post("/api/videos", json=body, headers=admin)
    assert (response.status_code, response.json["code"]) == (400, "unknown_field")
    assert repr(field) in response.json["error"]
    assert rows(app, "SELECT count(*) FROM videos") == [(0,)]
