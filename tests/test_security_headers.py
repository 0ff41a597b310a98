"""Absolute URLs on PUBLIC_URL, forwarded headers believed only as configured, security headers on pages."""

import re
from html import unescape
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from conftest import ADMIN_TOKEN, add_video
from served import Server

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = "https://stats.example.com"
EVIL = {"Host": "evil.example"}


@pytest.fixture
def public_app(make_app):
    app = make_app(PUBLIC_URL=PUBLIC + "/")
    add_video(app)
    return app


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/videos/intro", "/demo"])
def test_with_public_url_the_host_header_never_reaches_a_page(public_app, path):
    page = public_app.test_client().get(path, headers=EVIL).get_data(as_text=True)
    assert "evil.example" not in page


def test_with_public_url_the_snippets_name_it(public_app):
    page = public_app.test_client().get("/dashboard/videos/intro", headers=EVIL).get_data(as_text=True)
    assert f'src="{PUBLIC}/static/track.js"' in unescape(page)
    assert f"{PUBLIC}/api/analytics/pixel/intro.gif" in page


def test_with_public_url_the_empty_state_curl_names_it(make_app):
    page = make_app(PUBLIC_URL=PUBLIC).test_client().get("/dashboard", headers=EVIL).get_data(as_text=True)
    assert f"curl -X POST {PUBLIC}/api/videos" in page


def test_without_public_url_the_request_host_is_used_as_before(app, client):
    add_video(app)
    page = client.get("/dashboard/videos/intro").get_data(as_text=True)
    assert "http://localhost/static/track.js" in unescape(page)


@pytest.mark.parametrize("value", [
    "stats.example.com", "ftp://stats.example.com", "https://stats.example.com/viewtally",
    "https://stats.example.com?x=1", "https://user@stats.example.com", "https://", "https://stats.example.com:port",
])
def test_a_public_url_that_is_not_a_bare_address_is_refused_at_start(make_app, value):
    from analytics.config import ConfigError

    with pytest.raises(ConfigError, match="PUBLIC_URL"):
        make_app(PUBLIC_URL=value)


def test_an_empty_public_url_means_none(make_app):
    assert make_app(PUBLIC_URL="").config["PUBLIC_URL"] is None


HTML_PAGES = ["/dashboard", "/dashboard/videos/intro", "/demo", "/admin/login", "/no-such-page"]


@pytest.mark.parametrize("path", HTML_PAGES)
def test_every_html_page_carries_the_security_headers(app, client, path):
    add_video(app)
    response = client.get(path)
    assert response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers


def test_the_admin_page_carries_them_after_login(client):
    from test_admin import log_in

    log_in(client)
    response = client.get("/admin")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_redirect_carries_nosniff_once(client):
    response = client.get("/api//videos")  # werkzeug merges the slashes with a redirect
    assert response.status_code == 308
    assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]


def test_hsts_is_sent_over_https_only(app, client):
    add_video(app)
    assert "Strict-Transport-Security" not in client.get("/dashboard").headers
    secure = client.get("/dashboard", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    answer = client.get("/api/analytics/stats/intro", base_url="https://localhost")
    assert answer.headers.getlist("Strict-Transport-Security") == ["max-age=31536000"]
    assert answer.headers.getlist("X-Content-Type-Options") == ["nosniff"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/static/track.js"),
    ("GET", "/api/analytics/pixel/intro.gif"),
    ("GET", "/api/analytics/stats/intro"),
    ("POST", "/api/analytics/view/intro"),
])
def test_what_other_sites_load_gets_no_page_policy(app, client, method, path):
    add_video(app)
    with client.open(path, method=method) as response:  # a file response: close it
        assert response.status_code == 200
        assert "Content-Security-Policy" not in response.headers
        assert "X-Frame-Options" not in response.headers
        assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"<style", re.I), "a <style> element"),
]


@pytest.mark.parametrize("template", sorted(p.relative_to(ROOT) for p in (ROOT / "templates").rglob("*.html")),
                         ids=str)
def test_no_template_holds_what_the_policy_blocks(template):
    # Snippets shown to the user are escaped text ('<script src=…' inside {{ … }}); markup is what counts.
    text = (ROOT / template).read_text()
    for pattern, what in INLINE:
        assert not pattern.search(text), f"{template} has {what}"


@pytest.fixture
def serve(tmp_path):
    """Start one real gunicorn (with this folder's gunicorn.conf.py) holding the video "intro"."""
    with ExitStack() as stack:

        def start(**settings):
            server = Server(tmp_path, {
                "SQLALCHEMY_DATABASE_URI": "sqlite:///served.db", "ADMIN_TOKEN": ADMIN_TOKEN,
                "SECRET_KEY": "served-test", "SCHEDULER_ENABLED": "false", **settings,
            }, threads=2)
            stack.callback(server.stop)
            requests.post(f"{server.url}/api/videos", json={"id": "intro", "title": "Intro"},
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10).raise_for_status()
            return server

        yield start


def test_gunicorn_believes_no_forwarded_proto_without_trusted_proxies(serve):
    server = serve(TRUSTED_PROXIES=0)
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Ssl": "on", "X-Forwarded-Protocol": "ssl"}
    response = requests.get(f"{server.url}/dashboard/videos/intro", headers=forged, timeout=10)
    assert response.status_code == 200
    assert f'{server.url}/static/track.js' in unescape(response.text)
    assert "https://" not in response.text
    assert "Strict-Transport-Security" not in response.headers


def test_with_one_trusted_proxy_its_forwarded_proto_is_believed(serve):
    server = serve(TRUSTED_PROXIES=1)
    response = requests.get(f"{server.url}/dashboard/videos/intro", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert f"https://127.0.0.1:{server.port}/static/track.js" in unescape(response.text)
    assert "Strict-Transport-Security" in response.headers
