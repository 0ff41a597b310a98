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


def register(server, video_id: str, title: str) -> None:
    response = requests.post(f"{server.url}/api/videos", json={"id": video_id, "title": title},
                             headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
    assert response.status_code == 201, response.text


def view(server, video_id: str, times: int) -> None:
    for _ in range(times):
        assert requests.post(f"{server.url}/api/analytics/view/{video_id}", timeout=10).status_code == 200


def test_the_dashboard_reads_sorts_searches_and_refreshes(browser, server):
    register(server, "behind", "Behind the scenes")
    view(server, "trailer", 3)
    view(server, "behind", 5)
    page = browser.new_page()
    page.goto(server.url)  # / leads to the dashboard
    assert page.url == f"{server.url}/dashboard"
    assert page.locator("[data-total=today]").inner_text() == "8"
    assert page.locator("svg rect").count() == 30
    rows = lambda: page.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.videoId)")  # noqa: E731
    assert rows() == ["behind", "trailer"]

    view(server, "trailer", 4)  # trailer now leads today, and the page has not reloaded yet
    page.get_by_role("link", name="Today").click()
    assert rows() == ["trailer", "behind"]
    assert page.locator("tr[data-video-id=trailer] [data-count=viewsToday]").inner_text() == "7"

    page.get_by_role("searchbox").fill("SCENES")
    page.get_by_role("button", name="Search").click()
    assert rows() == ["behind"]
    assert "q=SCENES" in page.url and "sort=views_today" in page.url

    view(server, "behind", 1)  # the script refreshes the numbers in place every 30 s
    page.evaluate("window.viewtallyDashboard.refresh()")
    page.wait_for_function("document.querySelector('[data-total=today]').textContent === '13'", timeout=10_000)
    assert page.locator("tr[data-video-id=behind] [data-count=viewsToday]").inner_text() == "6"
    page.get_by_role("link", name="Behind the scenes").click()
    assert page.locator("h1").inner_text() == "Behind the scenes"
    assert page.locator("[data-count=viewsTotal]").inner_text() == "6"
    page.close()


def test_the_dashboard_works_without_javascript_on_a_dark_phone(browser, server):
    register(server, "a-video-with-a-rather-long-identifier-for-a-narrow-screen", "Long id")
    view(server, "trailer", 2)
    context = browser.new_context(java_script_enabled=False, color_scheme="dark",
                                  viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(f"{server.url}/dashboard")
    assert page.locator("[data-total=today]").inner_text() == "2"
    assert page.locator("tbody tr").count() == 2
    assert page.locator("svg rect").count() == 30
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(20, 24, 31)"
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing runs off the side
    page.get_by_role("link", name="Today").click()  # sorting is a plain link
    assert "sort=views_today" in page.url
    context.close()
