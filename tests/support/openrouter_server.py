"""A loopback stand-in for OpenRouter's `GET /api/v1/models`, with scriptable faults.

    server = OpenRouterServer().start()          # or the `openrouter_server` pytest fixture
    server.serve_snapshot("models-2025-12-02.json")
    server.enqueue(Respond.error(503), Respond.error(429, retry_after="1"))
    fetch_catalog(server.base_url)                # 503, then 429, then the snapshot
    assert server.request_count == 3

Each request takes the next fault from the queue; once the queue is empty every request
gets the default response (the snapshot, or what `serve_json` / `serve_body` set). Faults:

- `Respond(status, body, headers)` (`Respond.json(...)`, `Respond.error(...)`,
  `Respond.html(...)`): any status, headers and body.
- `ResetMidBody(after_bytes)`: headers and part of the body, then a TCP reset.
- `CutBody(after_bytes)`: a Content-Length larger than what is sent, then a clean close.
- `Delay(seconds, then)`: wait before answering (to trip a read timeout), then answer with
  `then` (default: the default response).
- `Trickle(chunk_bytes, interval_s)`: the default body sent slowly, chunk by chunk.
- `BadGzip(truncated)`: `Content-Encoding: gzip` over a body that is not gzip, or (with
  `truncated`) the default body gzipped and cut short, with a matching Content-Length.

Requests are recorded (`.requests`: method, path, headers) so tests can check the Bearer
header, the User-Agent and that exactly one GET reached the server. Any path other than
`/api/v1/models` gets a 404 in OpenRouter's error shape (and is recorded too).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MODELS_PATH = "/api/v1/models"
FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "openrouter"
SNAPSHOTS = ("models-2025-05-23.json", "models-2025-12-02.json")
EXTRA_SNAPSHOTS_ENV_VAR = "SYNC_MODELS_FIXTURES_DIR"
#: The optional folder of more snapshots beside the repository.
EXTRA_SNAPSHOTS_BESIDE = Path("..", "shared", "fixtures", "openrouter")
NO_EXTRA_SNAPSHOTS = (
    f"no extra OpenRouter snapshots: set {EXTRA_SNAPSHOTS_ENV_VAR} to a folder of "
    f"models-*.json (or put them in {EXTRA_SNAPSHOTS_BESIDE} beside the repository)"
)


def extra_snapshots_dir() -> Path | None:
    """Where more snapshots may live (optional): `$SYNC_MODELS_FIXTURES_DIR`, else
    `EXTRA_SNAPSHOTS_BESIDE` (relative to the repository), if it exists.

    The only place the tests look outside the repository.
    """
    override = os.environ.get(EXTRA_SNAPSHOTS_ENV_VAR)
    if override:
        return Path(override)
    beside = FIXTURES_DIR.parents[2] / EXTRA_SNAPSHOTS_BESIDE
    return beside if beside.is_dir() else None


def extra_snapshots() -> list[Path]:
    """The `models-*.json` files of `extra_snapshots_dir()`, sorted; none without it."""
    folder = extra_snapshots_dir()
    return sorted(folder.glob("models-*.json")) if folder is not None else []


def snapshot_path(name: str | Path) -> Path:
    """A snapshot of the project's own (tests/fixtures/openrouter) by file name
    (`models-2025-12-02.json`) or stem (`models-2025-12-02`); a Path is taken as it is."""
    if isinstance(name, Path):
        path = name
    else:
        path = FIXTURES_DIR / (name if name.endswith(".json") else f"{name}.json")
    if not path.is_file():
        raise FileNotFoundError(f"no OpenRouter snapshot {path}")
    return path


def load_snapshot(name: str | Path) -> dict[str, Any]:
    """A snapshot's parsed JSON (`{"data": [...]}`)."""
    loaded: dict[str, Any] = json.loads(snapshot_path(name).read_bytes())
    return loaded


def describe_snapshot(name: str | Path) -> str:
    """One line for a generated report saying which data it ran on: the snapshot's path
    (relative to the repository when inside it), its model count and the start of its sha256."""
    path = snapshot_path(name)
    body = path.read_bytes()
    repo = FIXTURES_DIR.parents[2]
    shown = path.relative_to(repo) if path.is_relative_to(repo) else path
    count = len(json.loads(body)["data"])
    return f"`{shown}` ({count} models, sha256 {hashlib.sha256(body).hexdigest()[:12]})"


def openrouter_error_body(status: int, message: str) -> dict[str, Any]:
    """OpenRouter's error shape: `{"error": {"code": status, "message": ...}}`."""
    return {"error": {"code": status, "message": message}}


def unused_loopback_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (for "connection refused")."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v1"


# --- faults ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Respond:
    """Answer with exactly this status, these headers and this body."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Respond:
        return cls(
            status,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        *,
        retry_after: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Respond:
        """An OpenRouter-style error; `retry_after` is sent verbatim as `Retry-After`."""
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = retry_after
        return cls.json(openrouter_error_body(status, message or f"error {status}"), status, extra)

    @classmethod
    def html(cls, status: int = 200, title: str = "Cloudflare") -> Respond:
        page = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>oops</body></html>"
        return cls(status, page.encode(), {"Content-Type": "text/html"})


@dataclass(frozen=True)
class ResetMidBody:
    """Send the headers and `after_bytes` of the default body, then reset the connection."""

    after_bytes: int = 1024


@dataclass(frozen=True)
class CutBody:
    """Announce the full Content-Length, send `after_bytes` of the body, then close cleanly."""

    after_bytes: int = 1024


@dataclass(frozen=True)
class Delay:
    """Wait `seconds` before answering with `then` (None: the default response)."""

    seconds: float
    then: Respond | None = None


@dataclass(frozen=True)
class Trickle:
    """Send the default body `chunk_bytes` at a time, `interval_s` apart."""

    chunk_bytes: int = 1024
    interval_s: float = 0.1


@dataclass(frozen=True)
class BadGzip:
    """Declare `Content-Encoding: gzip` and send garbage, or the default body gzipped and
    cut at half its compressed length (`truncated`); the connection itself stays sound."""

    truncated: bool = False


Fault = Respond | ResetMidBody | CutBody | Delay | Trickle | BadGzip


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-cased names

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


# --- the server ------------------------------------------------------------------------------


class OpenRouterServer:
    """The loopback server; see the module docstring. Thread-safe; use as a context manager."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._host = host
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._default = Respond.json({"data": []})
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> OpenRouterServer:
        handler = _make_handler(self)
        httpd = ThreadingHTTPServer((self._host, 0), handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False  # a Delay fault must not hold up stop()
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> OpenRouterServer:
        return self if self._httpd is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # where

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return int(self._httpd.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What OPENROUTER_BASE_URL should be: `http://127.0.0.1:<port>/api/v1`."""
        return f"{self.origin}/api/v1"

    # what to serve

    def serve_snapshot(self, name: str | Path) -> OpenRouterServer:
        """Serve a snapshot (as `snapshot_path` finds it) by default."""
        body = snapshot_path(name).read_bytes()
        return self.serve_body(body)

    def serve_json(self, payload: Any) -> OpenRouterServer:
        return self.serve_body(json.dumps(payload).encode())

    def serve_body(
        self, body: bytes, content_type: str = "application/json", status: int = 200
    ) -> OpenRouterServer:
        with self._lock:
            self._default = Respond(status, body, {"Content-Type": content_type})
        return self

    def enqueue(self, *faults: Fault) -> OpenRouterServer:
        """Answer the next requests with these faults, in order, before the default response."""
        with self._lock:
            self._faults.extend(faults)
        return self

    def reset(self) -> None:
        """Forget queued faults and recorded requests (the default response stays)."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()

    # what happened

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self._requests)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    # used by the handler

    def _next(self, request: RecordedRequest) -> tuple[Fault | None, Respond]:
        with self._lock:
            self._requests.append(request)
            fault = self._faults.popleft() if self._faults else None
            return fault, self._default

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops first; False if it stopped."""
        return not self._stopping.wait(seconds)


def _make_handler(server: OpenRouterServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeOpenRouter/1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self._handle()

        def do_POST(self) -> None:
            self._handle()

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            request = RecordedRequest(
                self.command,
                self.path,
                {name.lower(): value for name, value in self.headers.items()},
            )
            fault, default = server._next(request)
            if self.path.split("?", 1)[0] != MODELS_PATH:
                self._send(Respond.error(404, f"no route for {self.path}"))
                return
            if fault is None or isinstance(fault, Respond):
                self._send(fault or default)
            elif isinstance(fault, Delay):
                if server._sleep(fault.seconds):
                    self._send(fault.then or default)
            elif isinstance(fault, ResetMidBody | CutBody):
                self._send_partial(default, fault)
            elif isinstance(fault, BadGzip):
                self._send(_bad_gzip(default, fault))
            else:
                self._trickle(default, fault)

        def _start(self, response: Respond, content_length: int) -> None:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(content_length))
            self.end_headers()

        def _send(self, response: Respond) -> None:
            self._start(response, len(response.body))
            self.wfile.write(response.body)

        def _send_partial(self, response: Respond, fault: ResetMidBody | CutBody) -> None:
            self._start(response, len(response.body))
            self.wfile.write(response.body[: fault.after_bytes])
            self.wfile.flush()
            self.close_connection = True
            if isinstance(fault, ResetMidBody):
                # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()

        def _trickle(self, response: Respond, fault: Trickle) -> None:
            self._start(response, len(response.body))
            for offset in range(0, len(response.body), fault.chunk_bytes):
                self.wfile.write(response.body[offset : offset + fault.chunk_bytes])
                self.wfile.flush()
                if not server._sleep(fault.interval_s):
                    return

        def handle_one_request(self) -> None:
            try:
                super().handle_one_request()
            except (ConnectionError, OSError):
                self.close_connection = True  # the client went away; nothing to do

    return Handler


def _bad_gzip(response: Respond, fault: BadGzip) -> Respond:
    if fault.truncated:
        compressed = gzip.compress(response.body)
        body = compressed[: len(compressed) // 2]
    else:
        body = b"\x1f\x8b this is not a gzip stream " * 64
    return Respond(response.status, body, {**response.headers, "Content-Encoding": "gzip"})


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll `predicate()` until true or `timeout_s` passes (for checks on the server thread)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())
