"""Start and drive the local Convex-compatible backend (local_backend/) from tests."""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import queue
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

REPO_ROOT = Path(__file__).resolve().parents[2]
MAIN = REPO_ROOT / "local_backend" / "src" / "main.ts"
FIXTURE_FUNCTIONS = REPO_ROOT / "local_backend" / "fixtures" / "convex"

_FAULT_KEYS = {
    "latency_ms": "latencyMs",
    "drop_after_messages": "dropAfterMessages",
    "http_error_status": "httpErrorStatus",
    "fail_functions": "failFunctions",
}
_running: set[subprocess.Popen[bytes]] = set()


class LocalBackendError(RuntimeError):
    """The backend did not start, or a control call failed."""


class LocalBackend:
    """A running backend process: its URL, admin key, and the loopback control endpoint."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, admin_key: str):
        self.process = process
        self.url = url
        self.admin_key = admin_key
        self._http = httpx.Client(base_url=url, timeout=10.0)

    def __repr__(self) -> str:  # the admin key stays out of reprs and tracebacks
        return f"LocalBackend(url={self.url!r}, pid={self.process.pid})"

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Set faults (latency_ms, drop_after_messages, http_error_status, fail_functions)."""
        body = {_FAULT_KEYS.get(key, key): value for key, value in faults.items()}
        return self._control("POST", "/_test/faults", body)

    def reset(self) -> None:
        """Drop every document and clear every fault."""
        self._control("POST", "/_test/reset", {})

    def stats(self, *, collect_garbage: bool = False) -> dict[str, Any]:
        """Counters: mutations committed, sockets ever opened, open sockets, rss and heapUsed
        bytes (heapUsed after a full GC with `collect_garbage`)."""
        path = "/_test/stats?gc=1" if collect_garbage else "/_test/stats"
        return self._control("GET", path, None)

    def stop(self) -> None:
        """Stop the process (see `_terminate`: stdin closed, then terminate, then kill)."""
        self._http.close()
        _terminate(self.process)

    def _control(self, method: str, path: str, body: Any) -> dict[str, Any]:
        response = self._http.request(method, path, json=body)
        if response.status_code != 200:
            raise LocalBackendError(f"{method} {path}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result


def tsx_command(*arguments: str) -> list[str]:
    """`node --import tsx ARGS`: one node process that loads TypeScript, the same on every OS
    (`node_modules/.bin/tsx` is a shell script, and on Windows a `.cmd` wrapper whose stop
    would not reach node). Run it from REPO_ROOT, where `tsx` resolves."""
    node = shutil.which("node")
    if node is None:
        raise LocalBackendError("node is not on PATH (the local backend needs Node 20)")
    return [node, "--import", "tsx", *arguments]


def backend_command(*arguments: str) -> list[str]:
    """The command that runs the backend with `arguments`."""
    return tsx_command(str(MAIN), *arguments)


@contextlib.contextmanager
def start_local_backend(
    latency_ms: int = 0,
    *,
    functions_dir: Path | None = None,
    admin_key: str | None = None,
    extra_args: tuple[str, ...] = (),
    startup_timeout_s: float = 30.0,
) -> Iterator[LocalBackend]:
    """Start the backend on a free port, wait for its `ready` line, always stop it after."""
    key = admin_key or "local|" + secrets.token_hex(16)
    # --stop-on-stdin-eof: if this Python process dies (even by SIGKILL) the pipe closes and
    # the backend stops, so no orphan outlives a killed test run.
    command = backend_command("--port", "0", "--stop-on-stdin-eof")
    if functions_dir is not None:
        command += ["--functions-dir", str(functions_dir)]
    if latency_ms:
        command += ["--latency-ms", str(latency_ms)]
    command += list(extra_args)
    handle, log_name = tempfile.mkstemp(prefix="local-backend-", suffix=".log")
    os.close(handle)  # an open handle would keep Windows from deleting the log after
    log = Path(log_name)
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            # The key goes through the environment, not argv, where `ps` would show it.
            env={**os.environ, "LOCAL_BACKEND_ADMIN_KEY": key},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            # Its own session on POSIX (ignored elsewhere): a Ctrl-C in the test's terminal
            # reaches the test run, which stops the backend, not the backend directly.
            start_new_session=True,
        )
    _running.add(process)
    backend: LocalBackend | None = None
    try:
        url = _read_ready_line(process, startup_timeout_s, log)
        backend = LocalBackend(process, url, key)
        yield backend
    finally:
        if backend is not None:
            backend.stop()
        else:
            _terminate(process)
        log.unlink(missing_ok=True)


def _read_ready_line(process: subprocess.Popen[bytes], timeout_s: float, log: Path) -> str:
    """The URL of the backend's first stdout line, `ready http://127.0.0.1:PORT`. A thread reads
    the line (a pipe cannot be polled on Windows); the wait is bounded here."""
    assert process.stdout is not None
    lines: queue.Queue[bytes] = queue.Queue()
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        try:
            raw = lines.get(timeout=max(0.0, min(remaining, 0.2)))
            break
        except queue.Empty:
            if remaining <= 0 or process.poll() is not None:
                reason = "timed out" if remaining <= 0 else f"exited with {process.returncode}"
                raise LocalBackendError(
                    f"local backend {reason} before ready:\n{_tail(log)}"
                ) from None
    line = raw.decode(errors="replace").strip()
    if not line.startswith("ready http://127.0.0.1:"):
        raise LocalBackendError(f"unexpected first line {line!r}:\n{_tail(log)}")
    return line.split(" ", 1)[1].strip()


def _tail(log: Path) -> str:
    if not log.exists():
        return ""
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-30:])


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """Stop the backend the same way on every OS: close its stdin (it runs with
    --stop-on-stdin-eof, so it stops cleanly, exit 0), terminate it if it still runs 5 s later
    (SIGTERM, or TerminateProcess on Windows), kill it 5 s after that. Then its children
    (esbuild's service), which leave by themselves once node's pipe closes, or are killed after
    5 s more; psutil finds them on every OS, no process group is needed."""
    _running.discard(process)
    children: list[psutil.Process] = []
    if process.poll() is None:
        with contextlib.suppress(psutil.Error):
            children = psutil.Process(process.pid).children(recursive=True)
        stdin = process.stdin
        for stop in (stdin.close if stdin else None, process.terminate, process.kill):
            with contextlib.suppress(OSError):  # a pipe or a process already gone
                if stop is not None:
                    stop()
            try:
                process.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
    _gone, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    for pipe in (process.stdin, process.stdout):
        if pipe is not None:
            pipe.close()


@atexit.register
def _stop_leftovers() -> None:
    for process in list(_running):
        _terminate(process)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the main thread after `seconds` (the Convex SDK has no timeout).

    The SDK checks for signals about once a second, so allow a second of slack.
    """

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class RawSyncSocket:
    """A bare WebSocket client for protocol-level checks the SDK would hide (it reconnects)."""

    def __init__(self, url: str, timeout_s: float = 5.0):
        parts = urlsplit(url)
        self._sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout_s)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        request = (
            f"GET /api/1.0/sync HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self._sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self._sock.recv(1)
            if not chunk:
                raise ConnectionError("closed during handshake")
            head += chunk
        self.status = int(head.split(b" ", 2)[1])
        self._buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message).encode()
        mask = secrets.token_bytes(4)
        header = bytes([0x81])
        if len(payload) < 126:
            header += bytes([0x80 | len(payload)])
        elif len(payload) < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self._sock.sendall(header + mask + masked)

    def receive(self) -> dict[str, Any] | None:
        """The next text message as JSON, or None when the server closed the socket."""
        first, second = self._read(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack(">H", self._read(2))[0]
        elif length == 127:
            length = struct.unpack(">Q", self._read(8))[0]
        payload = self._read(length)
        opcode = first & 0x0F
        if opcode == 0x8:
            return None
        if opcode != 0x1:
            return self.receive()
        message: dict[str, Any] = json.loads(payload)
        return message

    def close(self) -> None:
        self._sock.close()

    def _read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("socket closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data
