"""Admin sessions that really end, wrong tokens limited on every door, and no weak ADMIN_TOKEN."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics import config
from analytics.config import ConfigError
from conftest import ADMIN_TOKEN, add_video, rows
from test_admin import csrf_of, log_in

ROOT = Path(__file__).resolve().parent.parent


def expires_of(response) -> str:
    return next(part for part in response.headers["Set-Cookie"].split("; ") if part.startswith("Expires="))


def test_a_cookie_copied_before_logout_opens_nothing(app):
    add_video(app)
    client = app.test_client()
    client.post("/api/analytics/view/intro")
    form_token = log_in(client)
    copied = client.get_cookie("session").value
    assert rows(app, "SELECT count(*) FROM admin_sessions") == [(1,)]
    client.post("/admin/logout", data={"csrf_token": form_token})
    assert rows(app, "SELECT count(*) FROM admin_sessions") == [(0,)]
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/admin")
    assert (response.status_code, response.headers["Location"]) == (302, "/admin/login?next=/admin")
    reset = thief.post("/admin/reset/daily", data={"csrf_token": form_token})
    assert reset.status_code == 302 and reset.headers["Location"].startswith("/admin/login")
    assert rows(app, "SELECT views_today FROM videos") == [(1,)]


def test_logging_out_ends_only_that_login(app):
    first, second = app.test_client(), app.test_client()
    token = log_in(first)
    log_in(second)
    first.post("/admin/logout", data={"csrf_token": token})
    assert (first.get("/admin").status_code, second.get("/admin").status_code) == (302, 200)


def test_the_server_refuses_a_login_older_than_the_lifetime(make_app):
    app = make_app(PERMANENT_SESSION_LIFETIME=3600)
    clock = app.extensions["viewtally.clock"]
    client = app.test_client()
    log_in(client)
    clock.advance(seconds=3599)
    assert client.get("/admin").status_code == 200
    clock.advance(seconds=1)  # the browser kept the cookie; the server does not take it
    assert client.get("/admin").status_code == 302
    log_in(app.test_client())  # a new login clears the expired row away
    assert rows(app, "SELECT count(*) FROM admin_sessions") == [(1,)]


def test_the_cookie_expires_a_fixed_time_after_login(make_app):
    app = make_app(PERMANENT_SESSION_LIFETIME=3600)
    client = app.test_client()
    token = csrf_of(client.get("/admin/login"))
    login = client.post("/admin/login", data={"csrf_token": token, "token": ADMIN_TOKEN})
    time.sleep(1.1)  # Expires counts whole seconds: a sliding expiry would now be a later one
    later = [client.get("/admin"), client.post("/admin/videos", data={"csrf_token": csrf_of(client.get("/admin")),
                                                                       "id": "intro", "title": "Intro"})]
    written = [response for response in later if "Set-Cookie" in response.headers]
    assert written  # the flash message rewrote the cookie
    assert {expires_of(response) for response in written} == {expires_of(login)}


ADMIN_DOORS = [
    ("POST", "/api/analytics/reset/daily"),
    ("POST", "/api/analytics/reset/monthly"),
    ("POST", "/api/videos"),
    ("GET", "/api/videos"),
    ("GET", "/api/analytics/totals"),
]


@pytest.mark.parametrize("method, path", ADMIN_DOORS)
def test_wrong_tokens_are_limited_on_every_route_that_checks_the_token(make_app, method, path):
    client = make_app(DASHBOARD_PUBLIC=False, LOGIN_RATE_LIMIT="10 per minute").test_client()
    answers = [client.open(path, method=method, headers={"Authorization": f"Bearer guess-{n:02}-0123456789"})
               for n in range(30)]
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) <= 10 and statuses.count(429) == 30 - statuses.count(401)
    assert all(0 < int(answer.headers["Retry-After"]) <= 60 for answer in answers if answer.status_code == 429)


def test_a_public_dashboard_is_read_whatever_was_guessed_elsewhere(make_app):
    client = make_app(LOGIN_RATE_LIMIT="2 per minute").test_client()
    for n in range(3):
        client.post("/api/analytics/reset/daily", headers={"Authorization": f"Bearer guess-{n}"})
    assert client.get("/api/videos").status_code == 200


def test_an_admin_cookie_does_not_open_the_api_writes(app):
    """The API is exempt from CSRF because it takes bearer tokens only."""
    client = app.test_client()
    log_in(client)
    assert client.post("/api/videos", json={"id": "intro", "title": "Intro"}).status_code == 401
    assert rows(app, "SELECT count(*) FROM videos") == [(0,)]


@pytest.mark.parametrize("token, refused", [("admin", True), ("x" * 15, True), ("x" * 16, False), ("", False)])
def test_an_admin_token_shorter_than_16_characters_is_refused(instance, token, refused):
    from flask import Flask

    app = Flask("sessions_test", instance_path=str(instance))
    if refused:
        with pytest.raises(ConfigError, match="ADMIN_TOKEN must be at least 16 characters") as error:
            config.load(app, {"ADMIN_TOKEN": token})
        assert token not in str(error.value).replace("ADMIN_TOKEN", "")
    else:
        config.load(app, {"ADMIN_TOKEN": token})  # empty: generated at start, as before


def test_a_flask_command_with_a_short_admin_token_says_so_in_one_line(instance):
    env = {**os.environ, "FLASK_ADMIN_TOKEN": "admin"}
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "videos", "list"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("Error: ADMIN_TOKEN must be at least 16 characters")
    assert "Traceback" not in done.stderr


def test_logging_in_again_ends_the_login_before(app):
    client = app.test_client()
    log_in(client)
    copied = client.get_cookie("session").value
    log_in(client)
    assert rows(app, "SELECT count(*) FROM admin_sessions") == [(1,)]
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/admin").status_code == 302


def test_requests_without_a_token_use_none_of_the_wrong_token_budget(make_app):
    """A private dashboard's refreshes after its login ended must not lock the admin out."""
    app = make_app(DASHBOARD_PUBLIC=False, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    assert [client.get("/api/analytics/totals").status_code for _ in range(6)] == [401] * 6
    assert client.get("/api/videos", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).status_code == 200
    log_in(client)
    assert client.get("/admin").status_code == 200


@pytest.mark.parametrize("token", [" " * 16, " " + "x" * 20, "x" * 20 + "\t"])
def test_an_admin_token_with_surrounding_blanks_is_refused(instance, token):
    from flask import Flask

    app = Flask("sessions_test", instance_path=str(instance))
    with pytest.raises(ConfigError, match="ADMIN_TOKEN must not begin or end with blanks"):
        config.load(app, {"ADMIN_TOKEN": token})


def test_a_form_token_lasts_as_long_as_the_login(app, clock):
    add_video(app)
    client = app.test_client()
    form_token = log_in(client)
    clock.advance(hours=3)  # the app's clock; Flask-WTF's own limit would use the wall clock
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None
    assert client.post("/admin/reset/daily", data={"csrf_token": form_token}).status_code == 302


def test_logins_work_on_postgresql(make_app, postgres_url):
    app = make_app(SQLALCHEMY_DATABASE_URI=postgres_url)
    client = app.test_client()
    form_token = log_in(client)
    assert client.get("/admin").status_code == 200
    copied = client.get_cookie("session").value
    client.post("/admin/logout", data={"csrf_token": form_token})
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/admin").status_code == 302
