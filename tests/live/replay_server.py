"""A local HTTP server that answers ccxt's REST calls from recorded venue responses, for offline tests.

The server listens on 127.0.0.1 at a random port (``ThreadingHTTPServer``), so tests never reach the
internet. A route is a method, a path and the recorded JSON body to send back; a route may also require
query parameters (order-insensitive, a subset of the request's) or, for POST, keys of the JSON body
(Hyperliquid's ``POST /info`` is told apart by its ``type``). Signing parameters that change with every
request (``timestamp``, ``signature``, ``recvWindow``) never take part in matching.

Failures can be injected per route or for every request, once, a few times or until cleared:

- ``timeout``: the server waits ``delay_s`` before answering, longer than the client's timeout;
- ``status``: an HTTP error status (429, 503, 401 ...) with an optional body;
- ``reset``: a 200 header announcing a longer body than is sent, then the connection closes
  mid-stream.

Every request is recorded (method, path, query, JSON body) so that tests can count calls per path.
``point(exchange)`` rewrites a ccxt exchange's ``urls['api']`` so that its requests come here.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

__all__ = ["Failure", "RecordedRequest", "ReplayServer", "load_json"]

#: Query parameters that differ on every signed request and so never decide a match.
_VOLATILE_QUERY = frozenset({"timestamp", "signature", "recvWindow"})


def load_json(path: Any) -> Any:
    """Return the JSON value stored at ``path`` (a recorded response)."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


@dataclass(frozen=True, slots=True)
class Failure:
    """An injected failure: ``kind`` is 'timeout' (wait ``delay_s`` seconds), 'status' or 'reset'."""

    kind: Literal["timeout", "status", "reset"]
    status: int = 503
    delay_s: float = 0.0
    body: str = ""


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the server received: the query as a mapping, the body parsed as JSON (or None)."""

    method: str
    path: str
    query: Mapping[str, str]
    json_body: Any


@dataclass(slots=True)
class _Route:
    method: str
    path: str
    body: Any
    query: Mapping[str, str] | None = None
    json_match: Mapping[str, Any] | None = None

    def matches(self, method: str, path: str, query: Mapping[str, str], json_body: Any) -> bool:
        if method != self.method or path != self.path:
            return False
        if self.query is not None and any(query.get(key) != value for key, value in self.query.items()):
            return False
        if self.json_match is not None:
            if not isinstance(json_body, dict):
                return False
            return all(json_body.get(key) == value for key, value in self.json_match.items())
        return True

    @property
    def specificity(self) -> int:
        return len(self.query or {}) + len(self.json_match or {})


@dataclass(slots=True)
class _Injected:
    failure: Failure
    remaining: int | None  # None: until cleared
    method: str | None = None
    path: str | None = None
    json_match: Mapping[str, Any] | None = None

    def applies(self, method: str, path: str, json_body: Any) -> bool:
        if self.method is not None and method != self.method:
            return False
        if self.path is not None and path != self.path:
            return False
        if self.json_match is not None:
            return isinstance(json_body, dict) and all(json_body.get(k) == v for k, v in self.json_match.items())
        return True


@dataclass(slots=True)
class _State:
    routes: list[_Route] = field(default_factory=list)
    failures: list[_Injected] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    """Answers one request from the shared state (attached to the server as ``replay_state``)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet: requests are recorded in the state instead of printed."""

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def do_DELETE(self) -> None:
        self._answer("DELETE")

    def _answer(self, method: str) -> None:
        state: _State = self.server.replay_state  # type: ignore[attr-defined]
        split = urlsplit(self.path)
        query = {k: v for k, v in parse_qsl(split.query, keep_blank_values=True) if k not in _VOLATILE_QUERY}
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        try:
            json_body = json.loads(raw_body) if raw_body else None
        except ValueError:
            json_body = None
        with state.lock:
            state.requests.append(RecordedRequest(method, split.path, query, json_body))
            failure = self._take_failure(state, method, split.path, json_body)
            candidates = [r for r in state.routes if r.matches(method, split.path, query, json_body)]
            route = max(candidates, key=lambda r: r.specificity) if candidates else None
        if failure is not None and failure.kind == "timeout":
            if state.stopping.wait(failure.delay_s):
                return
        elif failure is not None and failure.kind == "status":
            self._send(failure.status, failure.body.encode())
            return
        if route is None:
            message = {"error": f"no recorded response for {method} {split.path}"}
            self._send(404, json.dumps(message).encode())
            return
        payload = json.dumps(route.body).encode()
        if failure is not None and failure.kind == "reset":
            self._reset_midstream(payload)
            return
        self._send(200, payload)

    @staticmethod
    def _take_failure(state: _State, method: str, path: str, json_body: Any) -> Failure | None:
        for injected in state.failures:
            if injected.applies(method, path, json_body):
                if injected.remaining is not None:
                    injected.remaining -= 1
                    if injected.remaining <= 0:
                        state.failures.remove(injected)
                return injected.failure
        return None

    def _send(self, status: int, payload: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client gave up (it timed out): nothing left to answer
            self.close_connection = True

    def _reset_midstream(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload) + 1024))
        self.end_headers()
        self.wfile.write(payload[: max(1, len(payload) // 2)])
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


class ReplayServer:
    """Serve recorded venue responses on 127.0.0.1 (random port); use as a context manager."""

    def __init__(self) -> None:
        self._state = _State()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.replay_state = self._state  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="replay-server", daemon=True
        )

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving, wake any request held by an injected timeout, and release the port."""
        self._state.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        """Return 'http://127.0.0.1:<port>'."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        query: Mapping[str, str] | None = None,
        json_match: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer ``method path`` (with the given query / JSON keys) with ``body``; replaces an equal route."""
        route = _Route(method, path, body, dict(query) if query else None, dict(json_match) if json_match else None)
        with self._state.lock:
            self._state.routes = [
                r
                for r in self._state.routes
                if (r.method, r.path, r.query, r.json_match)
                != (route.method, route.path, route.query, route.json_match)
            ]
            self._state.routes.append(route)

    def fail(
        self,
        failure: Failure,
        *,
        method: str | None = None,
        path: str | None = None,
        json_match: Mapping[str, Any] | None = None,
        times: int | None = 1,
    ) -> None:
        """Inject ``failure`` into the next ``times`` matching requests (None: until cleared).

        With no ``method``, ``path`` or ``json_match``, every request matches.
        """
        with self._state.lock:
            self._state.failures.append(_Injected(failure, times, method, path, json_match))

    def clear_failures(self) -> None:
        """Remove every injected failure."""
        with self._state.lock:
            self._state.failures.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Return a copy of the requests received so far, oldest first."""
        with self._state.lock:
            return list(self._state.requests)

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Return how many requests matched ``method`` and ``path`` (None matches any)."""
        return sum(
            1 for r in self.requests if (method is None or r.method == method) and (path is None or r.path == path)
        )

    def point(self, exchange: Any) -> None:
        """Rewrite every URL in ``exchange.urls['api']`` to this server, keeping each URL's path."""
        exchange.urls["api"] = self._rewrite(exchange.urls["api"])

    def _rewrite(self, urls: Any) -> Any:
        if isinstance(urls, dict):
            return {key: self._rewrite(value) for key, value in urls.items()}
        if isinstance(urls, str):
            base = urlsplit(self.base_url)
            parts = urlsplit(urls)
            return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))
        return urls
