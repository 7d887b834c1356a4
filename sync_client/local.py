"""`--local`: run the project's local Convex-compatible backend for the length of one sync."""

from __future__ import annotations

import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sync_client.errors import ConfigError, ConvexUnavailableError

_READY = re.compile(r"^ready (http://127\.0\.0\.1:\d+)\s*$")
_STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class LocalSecret:
    """An admin key generated for this run; hidden like `settings.Secret`."""

    _value: str

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__


@dataclass(frozen=True)
class LocalBackendHandle:
    """Where the running local backend listens, and its admin key."""

    url: str
    admin_key: LocalSecret


def project_root() -> Path:
    """The checkout this package lives in (it holds package.json and local_backend/)."""
    return Path(__file__).resolve().parents[1]


def _check_node(root: Path) -> str:
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        raise ConfigError(
            "--local needs Node.js and npm, which are not on PATH",
            hint="install Node.js 20+, or sync into a deployment by setting CONVEX_URL",
        )
    if not (root / "package.json").is_file() or not (root / "local_backend").is_dir():
        raise ConfigError(
            f"--local needs the project checkout (package.json, local_backend/) at {root}",
            hint="install the package editable from a clone (`pip install -e .` there, then "
            "`npm ci`): --local runs the backend of the checkout the package is installed from",
        )
    if not (root / "node_modules").is_dir():
        raise ConfigError(
            f"--local needs the Node dependencies in {root / 'node_modules'}",
            hint=f"run `npm ci` in {root}",
        )
    return npm


def _drain(stream: IO[bytes], sink: deque[str]) -> None:
    for line in stream:
        sink.append(line.decode(errors="replace").rstrip("\n"))


def _discard(fd: int) -> None:
    while os.read(fd, 65536):
        pass


@contextmanager
def run_local_backend(*, startup_timeout_s: float = 60.0) -> Iterator[LocalBackendHandle]:
    """Start `npm run local-backend` on a free port with a random admin key; stop it after."""
    root = project_root()
    npm = _check_node(root)
    admin_key = LocalSecret("local|" + secrets.token_hex(24))
    # The key goes through the environment, not argv, where `ps` would show it. The backend
    # stops when its stdin closes, which happens even if this process is killed outright.
    process = subprocess.Popen(
        [npm, "run", "--silent", "local-backend", "--", "--port", "0", "--stop-on-stdin-eof"],
        cwd=root,
        env={**os.environ, "LOCAL_BACKEND_ADMIN_KEY": admin_key.reveal()},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stdout is not None and process.stderr is not None
    stderr_tail: deque[str] = deque(maxlen=20)
    threading.Thread(target=_drain, args=(process.stderr, stderr_tail), daemon=True).start()
    try:
        stdout_fd = process.stdout.fileno()
        url = _wait_until_ready(process, stdout_fd, startup_timeout_s, stderr_tail)
        # Keep reading so a chatty backend never blocks on a full pipe.
        threading.Thread(target=_discard, args=(stdout_fd,), daemon=True).start()
        yield LocalBackendHandle(url=url, admin_key=admin_key)
    finally:
        _stop(process)


def _wait_until_ready(
    process: subprocess.Popen[bytes], stdout_fd: int, timeout_s: float, stderr_tail: deque[str]
) -> str:
    """Read stdout (unbuffered, so no line hides in a buffer) until the `ready URL` line."""
    deadline = time.monotonic() + timeout_s
    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(stdout_fd, selectors.EVENT_READ)
        while (remaining := deadline - time.monotonic()) > 0:
            if not selector.select(remaining):
                break
            chunk = os.read(stdout_fd, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                match = _READY.match(line.decode(errors="replace").strip())
                if match:
                    return match.group(1)
    process.poll()
    time.sleep(0.1)  # let the stderr reader catch the last lines
    detail = " | ".join(stderr_tail) or "no output"
    state = f"exited with {process.returncode}" if process.returncode is not None else "timed out"
    raise ConvexUnavailableError(
        f"the local backend did not start ({state}): {detail}",
        hint="run `npm ci`, then try `npm run local-backend -- --port 0` to see why",
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        process.wait()
