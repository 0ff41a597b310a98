"""A real browser on a video site's page: the pixel counts, fetch reads the counts, errors are pages."""

import http.server
import os
import shutil
import threading
from functools import partial

import pytest
import requests

from conftest import ADMIN_TOKEN
from served import Server, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail("Chromium is not installed (make test installs it); REQUIRE_SERVICES=1 forbids skipping")
        pytest.skip("Chromium is not installed (make test installs it with apt)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path):
    server = Server(tmp_path, {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/browser.db", "ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": "browser-test", "SCHEDULER_ENABLED": "false",
    }, threads=4)
    try:
        response = requests.post(f"{server.url}/api/videos", json={"id": "trailer", "title": "Trailer"},
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
        assert response.status_code == 201
        yield server
    finally:
        server.stop()


@pytest.fixture
def video_site(tmp_path, server):
    """A page on another origin that embeds the pixel and shows the counts, as a player would."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "watch.html").write_text(f"""<!doctype html>
<html><body>
  <img id="pixel" src="{server.url}/api/analytics/pixel/trailer.gif" width="1" height="1" alt="">
  <p>Views: <span id="views">…</span></p>
  <script>
    document.getElementById("pixel").addEventListener("load", () =>
      fetch("{server.url}/api/analytics/stats/trailer")
        .then((r) => r.json())
        .then(({{ data }}) => {{ document.getElementById("views").textContent = data.viewsTotal; }}));
  </script>
</body></html>""")
    port = free_port()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}/watch.html"
    httpd.shutdown()
    httpd.server_close()


def test_a_page_with_the_pixel_counts_its_view_and_shows_the_count(browser, server, video_site):
    page = browser.new_page()
    page.goto(video_site)
    page.wait_for_function("document.getElementById('views').textContent === '1'", timeout=10_000)
    assert page.evaluate("document.getElementById('pixel').naturalWidth") == 1
    page.reload()
    page.wait_for_function("document.getElementById('views').textContent === '2'", timeout=10_000)
    stats = requests.get(f"{server.url}/api/analytics/stats/trailer", timeout=10).json()["data"]
    assert stats["viewsTotal"] == 2
    page.close()


def test_a_missing_page_is_a_friendly_page_in_the_browser(browser, server, tmp_path):
    page = browser.new_page()
    response = page.goto(f"{server.url}/no/such/page")
    assert response.status == 404
    assert page.title() == "404 · Viewtally"
    assert page.locator("h1").inner_text() == "404"
    assert "Nothing is at GET /no/such/page" in page.locator("main").inner_text()
    assert page.locator("link[rel=stylesheet]").count() == 1
    background = page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor")
    assert background == "rgb(29, 36, 48)"  # the stylesheet was served and applied
    page.screenshot(path=str(tmp_path / "not-found.png"))
    page.close()
