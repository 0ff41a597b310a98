"""Slow and stalled clients against the server `make run` starts: nobody else waits for them."""

import socket
import time
from contextlib import ExitStack

import pytest
import requests

from conftest import ADMIN_TOKEN, BROWSER_UA
from served import Server

STALLED = 100
# What another client may wait for an answer while the stalled ones hang on.
PROMPT = 1.0
HALF_A_REQUEST = (b"POST /api/analytics/view/alpha HTTP/1.1\r\nHost: localhost\r\n"
                  b"User-Agent: " + BROWSER_UA.encode()[:20])


@pytest.fixture
def server(tmp_path):
    """gunicorn as `make run` starts it: every worker setting from gunicorn.conf.py."""
    settings = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/served.db",
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "SECRET_KEY": "slow-clients-test",
        "RATELIMIT_ENABLED": "false",
        "SCHEDULER_ENABLED": "false",
    }
    served = Server(tmp_path, settings, workers=None, threads=None, args=("--access-logfile", "-"))
    try:
        response = requests.post(f"{served.url}/api/videos", json={"id": "alpha", "title": "Alpha"},
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
        assert response.status_code == 201, response.text
        yield served
    finally:
        served.stop()


def stall(stack: ExitStack, server, count: int, opening: bytes) -> list[socket.socket]:
    """Open `count` connections that each send `opening` and then nothing more."""
    sockets = []
    for _ in range(count):
        connection = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        connection.sendall(opening)
        sockets.append(connection)
    return sockets


def answered_promptly(server, number: int) -> None:
    """Health, a counted view and a stats read each answer within PROMPT seconds."""
    viewer = {"User-Agent": BROWSER_UA, "X-Viewtally-Session": f"prompt-{number}"}
    checks = [("get", "/healthz", {}), ("post", "/api/analytics/view/alpha", viewer),
              ("get", "/api/analytics/stats/alpha", {})]
    for method, path, headers in checks:
        started = time.monotonic()
        # A request stuck behind the stalled clients fails here, with ReadTimeout.
        response = requests.request(method, f"{server.url}{path}", headers=headers, timeout=PROMPT)
        assert response.status_code == 200, (path, response.text)
        assert time.monotonic() - started < PROMPT, path


def views_total(server) -> int:
    return requests.get(f"{server.url}/api/analytics/stats/alpha", timeout=10).json()["data"]["viewsTotal"]


def test_a_hundred_half_sent_requests_delay_no_one(server):
    with ExitStack() as stack:
        stalled = stall(stack, server, STALLED, HALF_A_REQUEST)
        for number in range(3):
            answered_promptly(server, number)
        # The server hangs up on a request head that does not arrive (gunicorn.conf.py's keepalive).
        for connection in stalled:
            assert connection.recv(1024) == b""
    answered_promptly(server, 3)
    assert views_total(server) == 4
    assert "Traceback" not in server.output()


def test_a_hundred_idle_connections_delay_no_one(server):
    with ExitStack() as stack:
        stall(stack, server, STALLED, b"")
        answered_promptly(server, 0)
    answered_promptly(server, 1)


def test_bodies_trickled_byte_by_byte_are_answered_and_delay_no_one(server):
    tricklers = 20
    bodies = [b'{"session": "viewer %02d on a very slow connection"}' % number for number in range(tricklers)]
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.create_connection(("127.0.0.1", server.port), timeout=30))
                   for _ in bodies]
        for connection, body in zip(sockets, bodies):
            connection.sendall(
                b"POST /api/analytics/view/alpha HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                b"User-Agent: " + BROWSER_UA.encode() + b"\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        # Seven seconds per body: longer than a request head may take (gunicorn.conf.py's keepalive).
        for position in range(len(bodies[0])):
            for connection, body in zip(sockets, bodies):
                connection.sendall(body[position:position + 1])
            if position % 10 == 0:
                answered_promptly(server, position)
            time.sleep(0.15)
        for connection in sockets:
            answer = b""
            while data := connection.recv(65536):
                answer += data
            assert answer.startswith(b"HTTP/1.1 200"), answer[:300]
            assert b'"counted":true' in answer.replace(b" ", b"")
    assert views_total(server) == tricklers + len(range(0, len(bodies[0]), 10))


def test_stalled_bodies_delay_no_one_and_count_nothing(server):
    head = (b"POST /api/analytics/view/alpha HTTP/1.1\r\nHost: localhost\r\nUser-Agent: "
            + BROWSER_UA.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"ref")
    with ExitStack() as stack:
        stall(stack, server, STALLED, head)
        for number in range(3):
            answered_promptly(server, number)
    # Their connections are gone: the server drops the half-read bodies and counts none of them.
    answered_promptly(server, 3)
    assert views_total(server) == 4
