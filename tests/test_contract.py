"""The OpenAPI contract: it lists exactly the routes there are, and a live server keeps it."""

import json
import re

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from analytics.web.api.openapi import document
from conftest import ADMIN_TOKEN
from served import Server

SKIPPED_METHODS = {"OPTIONS", "HEAD"}  # answered by Flask for every route; HEAD is listed where it differs


def _openapi_path(rule) -> str:
    path = rule.rule
    for argument in rule.arguments:
        path = path.replace(f"<{argument}>", f"{{{argument}}}")
    return path


def _routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api") or rule.rule == "/healthz":
            routes |= {(_openapi_path(rule), method.lower()) for method in rule.methods - SKIPPED_METHODS}
    return routes


def test_every_route_has_an_operation_and_every_operation_a_route(app):
    operations = {(path, method) for path, item in document()["paths"].items()
                  for method in item if method != "parameters"}
    assert operations - {(path, "head") for path, _ in operations} == _routes(app)
    assert ("/api/analytics/pixel/{video_id}.gif", "head") in operations


def test_every_operation_documents_its_path_parameters(app):
    for path, item in document()["paths"].items():
        named = {parameter["name"] for parameter in item.get("parameters", [])}
        assert named == set(re.findall(r"{(\w+)}", path)), path


def test_the_document_and_the_page_are_served(client):
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200
    assert spec.json["openapi"] == "3.1.0"
    assert spec.json["components"]["schemas"]["NewVideo"]["additionalProperties"] is False
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "POST /api/videos" in html and 'href="/api/openapi.json"' in html
    # The Content-Security-Policy allows no inline script or style, and nothing comes from a CDN.
    assert "<script" not in html and "<style" not in html and " style=" not in html and "//cdn" not in html


# --- A live server fuzzed with its own contract (schemathesis) ---

# Every check schemathesis has (no 5xx, documented status, content type, headers and body; schema-violating
# requests refused; wrong methods 405) but one: "printable characters" (titles, q, session ids) has no
# JSON Schema pattern, so a string the schema allows may rightly be refused.
SKIPPED_CHECKS = [positive_data_acceptance]
# A fixed number of examples per operation, derandomized: the same requests in every run.
FUZZ = settings(max_examples=50, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """gunicorn on a fresh SQLite file, no rate limits, with one video registered."""
    folder = tmp_path_factory.mktemp("contract")
    server = Server(folder, {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/analytics.db", "ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": "contract-secret-key-0123456789", "RATELIMIT_ENABLED": "false", "SCHEDULER_ENABLED": "false",
        "CACHE_TYPE": "SimpleCache", "RATELIMIT_STORAGE_URI": "memory://",
    }, threads=4)
    try:
        created = requests.post(f"{server.url}/api/videos", json={"id": "intro-2026", "title": "Our 2026 intro"},
                                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
        assert created.status_code == 201, created.text
        yield server
    finally:
        server.stop()


# The contract as the code holds it; the live server must serve exactly this (checked below).
contract = schemathesis.openapi.from_dict(document())


def test_the_live_server_serves_the_contract(live_server):
    served = requests.get(f"{live_server.url}/api/openapi.json", timeout=10)
    assert served.json() == json.loads(json.dumps(document()))


@contract.parametrize()
@FUZZ
def test_the_live_api_keeps_its_contract_without_the_token(case, live_server):
    case.call_and_validate(base_url=live_server.url, timeout=10, excluded_checks=SKIPPED_CHECKS)


@contract.parametrize()
@FUZZ
def test_the_live_api_keeps_its_contract_with_the_token(case, live_server):
    case.call_and_validate(base_url=live_server.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                           timeout=10, excluded_checks=SKIPPED_CHECKS)
