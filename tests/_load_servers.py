"""Real local HTTP servers for the load-tester tests (and bench/loadtest.py).

Each runs ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive) on 127.0.0.1, port 0, in a thread.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    answer: Callable[[_Server], int]
    started: float
    first: float | None = None
    lock: threading.Lock


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else the body waits 40 ms for the ACK of the head
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.server.lock:
            if self.server.first is None:
                self.server.first = time.monotonic()
        status = self.server.answer(self.server)
        if status == 0:  # a dead server: drop the connection without an answer
            self.close_connection = True
            return
        payload = b'{"ok": true, "echo": %d}' % len(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve  # noqa: N815 (http.server names them so)
    do_POST = _serve  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(answer: Callable[[_Server], int]) -> Iterator[str]:
    """Run a server whose handler calls ``answer(server)`` for the status; yield its URL."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.answer = answer
    server.started = time.monotonic()
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/predict"
    finally:
        server.shutdown()
        server.server_close()


def fixed_delay(seconds: float) -> Callable[[_Server], int]:
    def answer(server: _Server) -> int:
        time.sleep(seconds)
        return 200

    return answer


def stalling(
    stall: float, every: float, *, first_at: float, base: float = 0.0
) -> Callable[[_Server], int]:
    """Freeze for ``stall`` s once every ``every`` s, the first ``first_at`` s after the first
    request: a request that arrives during a stall is held until it ends."""

    def answer(server: _Server) -> int:
        now = time.monotonic()
        assert server.first is not None
        phase = (now - server.first - first_at) % every
        if now - server.first >= first_at and phase < stall:
            time.sleep(stall - phase)
        elif base:
            time.sleep(base)
        return 200

    return answer


def failing_after(seconds: float, status: int = 503) -> Callable[[_Server], int]:
    """200 for ``seconds`` after the first request, then ``status``."""

    def answer(server: _Server) -> int:
        assert server.first is not None
        return 200 if time.monotonic() - server.first < seconds else status

    return answer


def dying_after(seconds: float) -> Callable[[_Server], int]:
    """200 for ``seconds`` after the first request; then every connection is dropped
    unanswered and the listening socket closed (new connections are refused)."""

    def answer(server: _Server) -> int:
        assert server.first is not None
        if time.monotonic() - server.first < seconds:
            return 200
        server.socket.close()
        return 0

    return answer


def slow_at_first(slow: float, for_seconds: float) -> Callable[[_Server], int]:
    """``slow`` seconds per request for the first ``for_seconds``, then at once."""

    def answer(server: _Server) -> int:
        assert server.first is not None
        if time.monotonic() - server.first < for_seconds:
            time.sleep(slow)
        return 200

    return answer


def unused_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
