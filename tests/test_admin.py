"""The admin page, server-side: login, CSRF, confirmed resets, adding and importing videos, status."""

import html
import io
import re
from datetime import datetime, timezone

import pytest

from analytics.services import job_runs
from conftest import ADMIN_TOKEN, add_video, rows


def csrf_of(response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', response.get_data(as_text=True)).group(1)


def text_of(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def log_in(client) -> str:
    """Log in through the form; return the session's CSRF token."""
    token = csrf_of(client.get("/admin/login"))
    response = client.post("/admin/login", data={"csrf_token": token, "token": ADMIN_TOKEN})
    assert response.status_code == 302
    return csrf_of(client.get("/admin"))


@pytest.fixture
def admin_client(client):
    client.csrf = log_in(client)
    return client


def test_the_admin_page_needs_a_login(client):
    response = client.get("/admin")
    assert (response.status_code, response.headers["Location"]) == (302, "/admin/login?next=/admin")
    form = client.get("/admin/login").get_data(as_text=True)
    assert 'name="token"' in form and re.search(r'<input type="hidden" name="csrf_token" value="[^"]{20,}">', form)


def test_a_wrong_token_says_so_without_a_hint(client):
    token = csrf_of(client.get("/admin/login"))
    response = client.post("/admin/login", data={"csrf_token": token, "token": ADMIN_TOKEN[:-1]})
    assert response.status_code == 401
    assert "That is not the admin token." in text_of(response)
    assert client.get("/admin").status_code == 302


def test_a_login_without_the_csrf_token_is_refused(client):
    client.get("/admin/login")
    response = client.post("/admin/login", data={"token": ADMIN_TOKEN})
    assert response.status_code == 400
    assert "expired or was not sent from this site" in text_of(response)
    assert client.get("/admin").status_code == 302


def test_a_login_whose_method_is_spelled_in_lower_case_still_needs_the_csrf_token(client):
    """Werkzeug routes `post` as POST; the CSRF check must see it the same way."""
    client.get("/admin/login")
    response = client.post("/admin/login", data={"token": ADMIN_TOKEN}, environ_overrides={"REQUEST_METHOD": "post"})
    assert response.status_code == 400
    assert client.get("/admin").status_code == 302


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(app):
    for base, secure in (("http://localhost", False), ("https://localhost", True)):
        client = app.test_client()
        token = csrf_of(client.get("/admin/login", base_url=base))
        # Over https Flask-WTF also wants the Referer a browser sends for a same-origin form.
        response = client.post("/admin/login", base_url=base, headers={"Referer": f"{base}/admin/login"},
                               data={"csrf_token": token, "token": ADMIN_TOKEN})
        cookie = response.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert ("Secure" in cookie) is secure
        assert ADMIN_TOKEN not in cookie


@pytest.mark.parametrize("target, landing", [
    ("/dashboard?sort=views_today", "/dashboard?sort=views_today"),
    ("//evil.example/", "/admin"),
    ("https://evil.example/", "/admin"),
    ("/\t/evil.example", "/admin"),  # a browser drops the tab and reads //evil.example
    ("/\\evil.example", "/admin"),
    ("/\n/x", "/admin"),  # a newline must not break the header either
    ("/\r\nSet-Cookie: x=1", "/admin"),
])
def test_after_login_the_admin_goes_back_only_to_this_site(client, target, landing):
    token = csrf_of(client.get("/admin/login"))
    response = client.post("/admin/login", query_string={"next": target},
                           data={"csrf_token": token, "token": ADMIN_TOKEN})
    assert response.headers["Location"] == landing


def test_login_attempts_are_rate_limited_with_a_page_that_says_when(make_app):
    client = make_app(LOGIN_RATE_LIMIT="2 per minute").test_client()
    token = csrf_of(client.get("/admin/login"))
    statuses = [client.post("/admin/login", data={"csrf_token": token, "token": "nope"}).status_code
                for _ in range(3)]
    assert statuses == [401, 401, 429]
    response = client.post("/admin/login", data={"csrf_token": token, "token": ADMIN_TOKEN})
    assert response.status_code == 429 and response.mimetype == "text/html"
    wait = int(re.search(r"try again in (\d+) seconds", text_of(response)).group(1))
    assert 0 < wait <= 60 and abs(wait - int(response.headers["Retry-After"])) <= 1
    assert client.get("/admin/login").status_code == 200  # only posting is limited


def test_guessing_the_token_is_limited_across_the_form_and_the_api(make_app):
    client = make_app(LOGIN_RATE_LIMIT="3 per minute").test_client()
    right = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert client.post("/api/analytics/reset/daily", headers=right).status_code == 200  # costs nothing
    token = csrf_of(client.get("/admin/login"))
    assert client.post("/admin/login", data={"csrf_token": token, "token": "guess-1"}).status_code == 401
    statuses = [client.post("/api/analytics/reset/daily", headers={"Authorization": f"Bearer guess-{n}"}).status_code
                for n in range(2, 4)]
    assert statuses == [401, 401]
    refused = client.post("/api/analytics/reset/daily", headers={"Authorization": "Bearer guess-4"})
    assert (refused.status_code, refused.json["code"]) == (429, "rate_limited")
    assert client.post("/admin/login", data={"csrf_token": token, "token": ADMIN_TOKEN}).status_code == 429


def test_a_new_admin_token_ends_the_sessions_made_with_the_old_one(make_app):
    client = make_app().test_client()
    log_in(client)
    cookie = client.get_cookie("session").value
    assert client.get("/admin").status_code == 200
    rotated = make_app(ADMIN_TOKEN="a-brand-new-admin-token-0123456789").test_client()
    rotated.set_cookie("session", cookie)
    assert rotated.get("/admin").status_code == 302


def test_the_session_cookie_expires(app):
    client = app.test_client()
    token = csrf_of(client.get("/admin/login"))
    cookie = client.post("/admin/login", data={"csrf_token": token, "token": ADMIN_TOKEN}).headers["Set-Cookie"]
    assert "Expires=" in cookie


def test_logging_out_takes_a_form_post(admin_client):
    page = admin_client.get("/admin/logout")
    assert page.status_code == 200 and "Log out?" in text_of(page)
    assert admin_client.get("/admin").status_code == 200  # a link or an <img> cannot log the admin out
    assert admin_client.post("/admin/logout").status_code == 400
    assert admin_client.get("/admin").status_code == 200


def test_logging_out_without_a_session_just_shows_the_login(client):
    assert client.post("/admin/logout").headers["Location"] == "/admin/login"
    assert client.get("/admin/logout").headers["Location"] == "/admin/login"


def test_logging_out_ends_the_session(admin_client):
    response = admin_client.post("/admin/logout", data={"csrf_token": admin_client.csrf})
    assert response.headers["Location"] == "/admin/login"
    assert "You are logged out." in text_of(admin_client.get("/admin/login"))
    assert admin_client.get("/admin").status_code == 302


@pytest.mark.parametrize("period, column, what", [
    ("daily", "views_today", "today's counters"), ("monthly", "views_month", "this month's counters"),
])
def test_a_reset_asks_first_then_zeroes_and_says_how_many(app, admin_client, period, column, what):
    add_video(app, "a")
    add_video(app, "b")
    admin_client.post("/api/analytics/view/a")
    confirm = admin_client.get(f"/admin/reset/{period}")
    assert confirm.status_code == 200
    assert f"Reset {what}?" in text_of(confirm) and "all 2 videos" in text_of(confirm)
    assert rows(app, f"SELECT sum({column}) FROM videos") == [(1,)]  # asking changed nothing
    done = admin_client.post(f"/admin/reset/{period}", data={"csrf_token": admin_client.csrf})
    assert done.headers["Location"] == "/admin"
    assert f"Reset {period} views for 2 videos." in text_of(admin_client.get("/admin"))
    assert rows(app, f"SELECT sum({column}), sum(views_total) FROM videos") == [(0, 1)]


def test_a_reset_without_the_csrf_token_changes_nothing(app, admin_client):
    add_video(app)
    admin_client.post("/api/analytics/view/intro")
    for data in ({}, {"csrf_token": "forged"}):
        assert admin_client.post("/admin/reset/daily", data=data).status_code == 400
    assert rows(app, "SELECT views_today FROM videos") == [(1,)]


@pytest.mark.parametrize("path", ["/admin/videos", "/admin/import"])
def test_forms_without_the_csrf_token_change_nothing(app, admin_client, path):
    for token in (None, "forged"):
        data = {"id": "sneaky", "title": "Sneaky", "file": (io.BytesIO(b"sneaky,Sneaky\n"), "v.csv")}
        if token:
            data["csrf_token"] = token
        assert admin_client.post(path, data=data, content_type="multipart/form-data").status_code == 400
    assert rows(app, "SELECT count(*) FROM videos") == [(0,)]


def test_resets_and_forms_need_the_login(app, client):
    add_video(app)
    client.post("/api/analytics/view/intro")
    token = csrf_of(client.get("/admin/login"))
    for path in ("/admin/reset/daily", "/admin/videos", "/admin/import"):
        response = client.post(path, data={"csrf_token": token, "id": "x", "title": "X"})
        assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login")
    assert rows(app, "SELECT id, views_today FROM videos") == [("intro", 1)]


def test_an_unknown_reset_is_a_404_page(admin_client):
    assert admin_client.get("/admin/reset/weekly").status_code == 404


def test_adding_a_video_validates_and_says_what_is_wrong(app, admin_client):
    done = admin_client.post("/admin/videos", data={"csrf_token": admin_client.csrf, "id": "intro", "title": "Intro"})
    assert done.headers["Location"] == "/admin"
    after = admin_client.get("/admin")
    assert "Added “Intro” ( intro ): its page has the snippet to embed." in text_of(after)
    assert '<a href="/dashboard/videos/intro">intro</a>' in after.get_data(as_text=True)
    bad_id = admin_client.post("/admin/videos", data={"csrf_token": admin_client.csrf, "id": "no pe", "title": "X"})
    assert bad_id.status_code == 400 and "Invalid video id" in text_of(bad_id)
    assert 'value="no pe"' in bad_id.get_data(as_text=True)  # the form keeps what was typed
    twice = admin_client.post("/admin/videos", data={"csrf_token": admin_client.csrf, "id": "intro", "title": "Again"})
    assert twice.status_code == 409 and "intro" in text_of(twice)
    assert rows(app, "SELECT id, title FROM videos") == [("intro", "Intro")]


def test_a_title_in_the_flash_message_is_escaped(admin_client):
    admin_client.post("/admin/videos", data={"csrf_token": admin_client.csrf, "id": "x", "title": "<b>bold</b>"})
    html = admin_client.get("/admin").get_data(as_text=True)
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_reloading_a_form_address_leads_back_to_the_admin_page(admin_client):
    for path in ("/admin/videos", "/admin/import"):
        response = admin_client.get(path)
        assert (response.status_code, response.headers["Location"]) == (302, "/admin")


def upload(client, content: bytes, name="videos.csv"):
    return client.post("/admin/import", content_type="multipart/form-data",
                       data={"csrf_token": client.csrf, "file": (io.BytesIO(content), name)})


def test_importing_a_csv_reports_added_skipped_and_bad_rows(app, admin_client):
    add_video(app, "old", "Already here")
    response = upload(admin_client, b"id,title\nold,Again\nnew-1,New one\nbad id,Nope\nnew-2,Second\n")
    assert response.status_code == 200
    page = text_of(response)
    assert "Added 2, skipped 1 existing, 1 bad rows." in page
    assert "line 4: " in page
    assert rows(app, "SELECT id FROM videos ORDER BY id") == [("new-1",), ("new-2",), ("old",)]


def test_a_csv_row_too_long_to_read_is_a_bad_row(app, admin_client):
    response = upload(admin_client, b"ok-1,First\nbig," + b"a" * 200_000 + b"\nok-2,Second\n")
    assert response.status_code == 200
    page = text_of(response)
    assert "Added 2, skipped 0 existing, 1 bad rows." in page and "line 2: not a CSV row" in page


def test_only_a_logged_in_admin_may_send_a_large_upload(client):
    token = csrf_of(client.get("/admin/login"))
    big = b"x" * (20 * 1024)
    response = client.post("/admin/import", content_type="multipart/form-data",
                           data={"csrf_token": token, "file": (io.BytesIO(big), "videos.csv")})
    assert response.status_code == 413


def test_a_csv_larger_than_other_bodies_may_be_imported(app, admin_client):
    content = "".join(f"video-{n:05},Video number {n}\n" for n in range(2000)).encode()
    assert len(content) > 16 * 1024
    assert "Added 2000" in text_of(upload(admin_client, content))


@pytest.mark.parametrize("content, words", [(b"id,title\nok,Caf\xe9\n", "line 2 is not UTF-8"), (None, "Choose a CSV")])
def test_a_bad_upload_gets_a_clear_message(app, admin_client, content, words):
    if content is None:
        response = admin_client.post("/admin/import", data={"csrf_token": admin_client.csrf})
    else:
        response = upload(admin_client, content)
    assert response.status_code == 400
    assert words in text_of(response)
    assert rows(app, "SELECT count(*) FROM videos") == [(0,)]


def test_the_status_panel_shows_jobs_counts_and_size_with_failures_in_red(app, admin_client):
    add_video(app)
    admin_client.post("/api/analytics/view/intro")
    with app.app_context():
        job_runs.record("daily_reset", {"ran_at": datetime(2026, 3, 14, 0, 0, tzinfo=timezone.utc),
                                        "trigger": "schedule", "outcome": "error", "count": None,
                                        "error": "OperationalError: database is locked"})
        job_runs.record("monthly_reset", {"ran_at": datetime(2026, 3, 1, 0, 0, tzinfo=timezone.utc),
                                          "trigger": "catch-up", "outcome": "ok", "count": 1, "error": None})
    response = admin_client.get("/admin")
    html, page = response.get_data(as_text=True), text_of(response)
    assert re.search(r'<tr class="failed">\s*<th>Daily reset</th>', html)
    assert "failed : OperationalError: database is locked" in page
    assert "last run 2026-03-01 00:00 UTC (catch-up): ok, 1 videos" in page
    assert "Videos 1" in page and "View log rows 1" in page
    assert "Viewer hashes 2," in page  # the viewer's row for the video, and among the day's viewers
    assert re.search(r"Database size [\d.]+ kB", page)


def test_a_private_dashboard_needs_the_login_and_so_do_its_lists(make_app):
    app = make_app(DASHBOARD_PUBLIC=False)
    add_video(app)
    client = app.test_client()
    for path in ("/dashboard", "/dashboard/videos/intro", "/demo"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/admin/login?next=")
    for path in ("/api/videos", "/api/analytics/totals"):  # what the dashboard shows, in JSON
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    assert client.get("/api/analytics/stats/intro").status_code == 200  # players still read their counts
    log_in(client)
    for path in ("/dashboard", "/api/videos", "/api/analytics/totals"):
        assert client.get(path).status_code == 200


def test_the_status_panel_tells_times_in_the_configured_zone(make_app):
    app = make_app(TIMEZONE="Europe/Paris")
    with app.app_context():
        job_runs.record("daily_reset", {"ran_at": datetime(2026, 3, 13, 23, 0, tzinfo=timezone.utc),
                                        "trigger": "schedule", "outcome": "ok", "count": 0, "error": None})
    client = app.test_client()
    log_in(client)
    assert "last run 2026-03-14 00:00 CET (schedule)" in text_of(client.get("/admin"))


@pytest.mark.parametrize("days, retention", [(400, "Log retention 400 days; older rows are purged hourly"),
                                             (0, "Log retention forever (LOG_RETENTION_DAYS is 0)")])
def test_the_status_panel_shows_the_last_purge_and_the_retention(make_app, days, retention):
    app = make_app(LOG_RETENTION_DAYS=days)
    client = app.test_client()
    log_in(client)
    assert "Purge not run yet" in text_of(client.get("/admin"))
    with app.app_context():
        job_runs.record("purge", {"ran_at": datetime(2026, 3, 14, 14, 0, tzinfo=timezone.utc), "trigger": "schedule",
                                  "outcome": "ok", "count": 12345, "error": None})
    page = text_of(client.get("/admin"))
    assert "Purge last run 2026-03-14 14:00 UTC (schedule): ok, 12,345 expired rows deleted" in page
    assert retention in page
    with app.app_context():
        job_runs.record("purge", {"ran_at": datetime(2026, 3, 14, 15, 0, tzinfo=timezone.utc), "trigger": "schedule",
                                  "outcome": "error", "count": None, "error": "OperationalError: disk I/O error"})
    response = client.get("/admin")
    assert re.search(r'<tr class="failed">\s*<th>Purge</th>', response.get_data(as_text=True))
    assert "failed : OperationalError: disk I/O error" in text_of(response)
