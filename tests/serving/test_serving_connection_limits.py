"""Slow, huge or too many connections, with raw sockets against a real server:
header size limit (431), header read timeout (slowloris), connection limit
(503) and keep-alive timeout."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

pytestmark = pytest.mark.integration

MAX_HEADER_BYTES = 16 * 1024
HEADER_TIMEOUT = 1.0
KEEP_ALIVE_TIMEOUT = 1.0
MAX_CONNECTIONS = 8


def address(server) -> tuple[str, int]:
    parts = urlsplit(server.url)
    return parts.hostname, parts.port


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def read_until_closed(sock: socket.socket, timeout: float) -> tuple[bytes, float]:
    """What the server sends until it closes the connection, and how long that
    took; raises TimeoutError if it is still open after `timeout` seconds."""
    started = time.monotonic()
    received = b""
    while time.monotonic() - started < timeout:
        sock.settimeout(max(0.01, timeout - (time.monotonic() - started)))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            return received, time.monotonic() - started
        if not chunk:
            return received, time.monotonic() - started
        received += chunk
    raise TimeoutError(f"connection still open after {timeout}s (got {received[:80]!r})")


@pytest.fixture(scope="module")
def server(start_server, stock_model):
    env = {
        "MLCADENCE_SERVING_MAX_HEADER_BYTES": str(MAX_HEADER_BYTES),
        "MLCADENCE_SERVING_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "MLCADENCE_SERVING_KEEP_ALIVE_TIMEOUT": str(KEEP_ALIVE_TIMEOUT),
    }
    return start_server(["-m", str(stock_model)], env)


def test_header_under_the_limit_is_served(server):
    response = httpx.get(server.url + "/ping", headers={"X-Padding": "a" * (MAX_HEADER_BYTES // 2)})
    assert response.status_code == 200


def test_oversized_header_gets_431_without_growing_memory(server):
    before = rss_bytes(server.proc.pid)
    received = b""
    with socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: test\r\nX-Big: ")
        chunk = b"a" * (1024 * 1024)
        try:
            for _ in range(64):  # a 64 MiB header value
                sock.sendall(chunk)
        except OSError:
            pass  # the server stopped reading: what it should do
        try:
            received, _ = read_until_closed(sock, timeout=30)
        except OSError:
            pass
    assert received == b"" or received.startswith(b"HTTP/1.1 431"), received[:200]
    if received:
        assert b"MLCADENCE_SERVING_MAX_HEADER_BYTES" in received
    assert rss_bytes(server.proc.pid) - before < 16 * 1024 * 1024
    assert httpx.get(server.url + "/ping").status_code == 200


def test_oversized_request_line_gets_431(server):
    with socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(
            b"GET /ping?" + b"q" * (2 * MAX_HEADER_BYTES) + b" HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        received, _ = read_until_closed(sock, timeout=10)
    assert received.startswith(b"HTTP/1.1 431"), received[:200]


def test_partial_headers_are_closed_after_the_header_timeout(server):
    with socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: test\r\n")
        started = time.monotonic()
        closed_after = None
        while time.monotonic() - started < HEADER_TIMEOUT + 5:
            try:  # one more header line every 0.2 s: never finishing
                sock.sendall(b"X-Slow: 1\r\n")
                _, waited = read_until_closed(sock, timeout=0.2)
            except TimeoutError:
                continue
            except OSError:
                pass
            closed_after = time.monotonic() - started
            break
    assert closed_after is not None, "a connection trickling headers was never closed"
    assert closed_after < HEADER_TIMEOUT + 2


def test_silent_connection_is_closed_after_the_header_timeout(server):
    with socket.create_connection(address(server), timeout=10) as sock:
        _, waited = read_until_closed(sock, timeout=HEADER_TIMEOUT + 4)
    assert waited < HEADER_TIMEOUT + 2


def test_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(server):
    with socket.create_connection(address(server), timeout=10) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: test\r\n\r\n")
        response = b""
        while b"\r\n\r\n" not in response:
            response += sock.recv(65536)
        assert response.startswith(b"HTTP/1.1 200")
        _, waited = read_until_closed(sock, timeout=KEEP_ALIVE_TIMEOUT + 4)
    assert waited < KEEP_ALIVE_TIMEOUT + 1.5


@pytest.fixture(scope="module")
def small_server(start_server, stock_model):
    env = {
        "MLCADENCE_SERVING_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "MLCADENCE_SERVING_HEADER_TIMEOUT": "30",
    }
    return start_server(["-m", str(stock_model)], env)


def test_connections_beyond_the_limit_get_503_quickly(small_server):
    held = []
    try:
        for _ in range(MAX_CONNECTIONS):
            sock = socket.create_connection(address(small_server), timeout=10)
            sock.sendall(b"GET /ping HTTP/1.1\r\nHost: test\r\n")  # and never finish
            held.append(sock)
        time.sleep(0.3)
        started = time.monotonic()
        with socket.create_connection(address(small_server), timeout=5) as extra:
            try:
                extra.sendall(b"GET /ping HTTP/1.1\r\nHost: test\r\n\r\n")
                received, _ = read_until_closed(extra, timeout=3)
            except (ConnectionResetError, BrokenPipeError):
                received = b""
        assert time.monotonic() - started < 2
        assert received == b"" or received.startswith(b"HTTP/1.1 503"), received[:200]
        if received:
            assert b"MLCADENCE_SERVING_MAX_CONNECTIONS" in received
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 5  # closing them frees the slots
    while time.monotonic() < deadline:
        try:
            if httpx.get(small_server.url + "/ping", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("the server did not accept connections again")
