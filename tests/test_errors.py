"""The error handlers: no failure reaches a client as a stack trace."""

import pytest
import sqlalchemy as sa

from analytics.database import write_transaction
from conftest import add_video


def crash():
    raise RuntimeError("secret internals")


def conflict():
    with write_transaction() as connection:
        connection.execute(sa.text("INSERT INTO videos (id, title, created_at, views_today, views_month, "
                                   "views_total, period_day, period_month) SELECT id, title, created_at, 0, 0, 0, "
                                   "period_day, period_month FROM videos"))


@pytest.fixture
def app(make_app):
    app = make_app()
    for prefix in ("/api", ""):
        app.add_url_rule(f"{prefix}/crash", f"crash{prefix}", crash)
    app.add_url_rule("/api/conflict", "conflict", conflict)
    return app


def test_an_unexpected_error_under_api_is_a_500_envelope(client, caplog):
    response = client.get("/api/crash")
    assert response.status_code == 500
    assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert response.json["code"] == "internal_error"
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert "secret internals" in caplog.text  # but the log has it


def test_an_unexpected_error_on_a_page_is_a_friendly_500_page(client):
    response = client.get("/crash")
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    assert response.headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_an_integrity_error_is_a_409_envelope(app, client):
    add_video(app)
    response = client.get("/api/conflict")
    assert (response.status_code, response.json["code"]) == (409, "conflict")
