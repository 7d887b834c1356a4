"""`--local`: run the project's local Convex-compatible backend for the length of one sync.

From a clone (editable install) the backend runs from the clone, with its `node_modules`.
From an installed package it runs from a per-user cache folder: on first use the packaged
backend is copied there and its Node dependencies installed with `npm ci` (pinned by the
packaged lock file), then reused until the package changes.

One design on every OS: Node is started directly (`node --import tsx`, no npm or shell in
between, so the child is the backend itself), the admin key goes through its environment,
and it is stopped by closing its stdin (`--stop-on-stdin-eof`), which also happens when this
process dies outright; a backend that does not stop within a grace period is killed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import re
import secrets
import shutil
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import IO

from sync_client.bundled import checkout_root, is_checkout, project_files
from sync_client.errors import ConfigError, ConvexUnavailableError

_READY = re.compile(r"^ready (http://127\.0\.0\.1:\d+)\s*$")
_STOP_GRACE_S = 5.0
_NPM_CI_TIMEOUT_S = 600.0
#: Set to use another cache folder (tests, or a machine whose home is read-only).
CACHE_DIR_VARIABLE = "SYNC_MODELS_CACHE_DIR"
#: What the cache copies of the packaged files: the backend, the functions it serves, npm's files.
_BACKEND_PARTS = ("package.json", "package-lock.json", "local_backend/src", "convex")
_COMPLETE_MARKER = ".installed"

Progress = Callable[[str], None]


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


def user_cache_dir() -> Path:
    """This user's cache folder for sync-models (`SYNC_MODELS_CACHE_DIR` overrides it)."""
    override = os.environ.get(CACHE_DIR_VARIABLE)
    if override:
        return Path(override)
    if sys.platform == "win32":
        local_app_data = os.environ.get("LOCALAPPDATA")
        base = Path(local_app_data) if local_app_data else Path.home() / "AppData" / "Local"
        return base / "sync-models" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "sync-models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "sync-models"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ConfigError(
            f"--local needs Node.js 20+ and npm, and `{name}` is not on PATH",
            hint="install Node.js 20+, or sync into a deployment by setting CONVEX_URL",
        )
    return found


def _files_under(root: Traversable, relative: str) -> Iterator[tuple[str, Traversable]]:
    """(path relative to the project, file) for `relative` and everything under it, sorted."""
    node = root.joinpath(*relative.split("/"))
    if node.is_file():
        yield relative, node
        return
    for child in sorted(node.iterdir(), key=lambda entry: entry.name):
        yield from _files_under(root, f"{relative}/{child.name}")


def _packaged_backend_files() -> list[tuple[str, bytes]]:
    root = project_files()
    return [
        (relative, file.read_bytes())
        for part in _BACKEND_PARTS
        for relative, file in _files_under(root, part)
    ]


def _install_folder(files: list[tuple[str, bytes]]) -> Path:
    digest = hashlib.sha256()
    for relative, content in files:
        digest.update(relative.encode() + b"\0" + hashlib.sha256(content).digest())
    return user_cache_dir() / "local-backend" / digest.hexdigest()[:16]


def prepare_installed_backend(progress: Progress) -> Path:
    """The cache folder the installed package's backend runs from, installing it on first use.

    The folder is named by a hash of the packaged files, so an upgraded package gets a fresh
    one. It is filled beside its final name and renamed into place once `npm ci` succeeded:
    an interrupted install leaves nothing that looks complete, and two first runs at once
    both end up using one folder.
    """
    files = _packaged_backend_files()
    folder = _install_folder(files)
    if (folder / _COMPLETE_MARKER).is_file():
        return folder
    npm = _tool("npm")
    progress(
        f"first --local run of this version: installing the local backend's Node "
        f"dependencies with `npm ci` into {folder} (once; later runs reuse them)"
    )
    try:
        _install(npm, files, folder)
    except OSError as error:
        raise ConfigError(
            f"cannot install the local backend into {folder}: {error}",
            hint=f"make that folder writable, or set {CACHE_DIR_VARIABLE} to another one",
        ) from error
    return folder


def _install(npm: str, files: list[tuple[str, bytes]], folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f"{folder.name}.partial-{secrets.token_hex(4)}"
    try:
        for relative, content in files:
            target = staging.joinpath(*relative.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        try:
            done = subprocess.run(
                [npm, "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=staging,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=_NPM_CI_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as error:
            raise ConfigError(
                f"`npm ci` for the local backend did not finish in {_NPM_CI_TIMEOUT_S:.0f} s",
                hint="check the connection to the npm registry, then run --local again",
            ) from error
        if done.returncode != 0:
            tail = " | ".join(done.stderr.strip().splitlines()[-5:]) or "no output"
            raise ConfigError(
                f"`npm ci` for the local backend failed (exit {done.returncode}): {tail}",
                hint="check the connection to the npm registry, then run --local again",
            )
        (staging / _COMPLETE_MARKER).write_text("npm ci done\n", encoding="utf-8")
        try:
            staging.rename(folder)
        except OSError:
            if not (folder / _COMPLETE_MARKER).is_file():
                raise  # not another run's finished install: a real failure
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _checkout_backend() -> Path:
    root = checkout_root()
    if not (root / "node_modules").is_dir():
        raise ConfigError(
            f"--local needs the Node dependencies in {root / 'node_modules'}",
            hint=f"run `npm ci` in {root}",
        )
    return root


def backend_folder(progress: Progress) -> Path:
    """The folder to run the backend from: the clone, or the installed package's cache."""
    return _checkout_backend() if is_checkout() else prepare_installed_backend(progress)


def _read_stdout(stream: IO[bytes], ready: queue.Queue[str | None]) -> None:
    """Hands the `ready URL` line over, then keeps reading so the backend never blocks."""
    announced = False
    for raw in stream:
        match = None if announced else _READY.match(raw.decode(errors="replace").strip())
        if match:
            ready.put(match.group(1))
            announced = True
    if not announced:
        ready.put(None)


def _drain(stream: IO[bytes], sink: deque[str]) -> None:
    for line in stream:
        sink.append(line.decode(errors="replace").rstrip("\n"))


@contextmanager
def run_local_backend(
    *, progress: Progress = lambda _message: None, startup_timeout_s: float = 60.0
) -> Iterator[LocalBackendHandle]:
    """Start the local backend on a free port with a random admin key; stop it after."""
    node = _tool("node")
    root = backend_folder(progress)
    admin_key = LocalSecret("local|" + secrets.token_hex(24))
    # The key goes through the environment, not argv, where `ps` would show it. The backend
    # stops when its stdin closes, which happens even if this process is killed outright.
    process = subprocess.Popen(
        [
            node,
            "--import",
            "tsx",
            str(Path("local_backend", "src", "main.ts")),
            "--port",
            "0",
            "--stop-on-stdin-eof",
        ],
        cwd=root,
        env={**os.environ, "LOCAL_BACKEND_ADMIN_KEY": admin_key.reveal()},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    stderr_tail: deque[str] = deque(maxlen=20)
    ready: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_drain, args=(process.stderr, stderr_tail), daemon=True).start()
    threading.Thread(target=_read_stdout, args=(process.stdout, ready), daemon=True).start()
    try:
        url = _wait_until_ready(process, ready, startup_timeout_s, stderr_tail, root)
        yield LocalBackendHandle(url=url, admin_key=admin_key)
    finally:
        _stop(process)


def _wait_until_ready(
    process: subprocess.Popen[bytes],
    ready: queue.Queue[str | None],
    timeout_s: float,
    stderr_tail: deque[str],
    root: Path,
) -> str:
    try:
        url = ready.get(timeout=timeout_s)
    except queue.Empty:
        url = None
    if url is not None:
        return url
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=0.5)  # and let the stderr reader catch the last lines
    detail = " | ".join(stderr_tail) or "no output"
    state = f"exited with {process.returncode}" if process.returncode is not None else "timed out"
    raise ConvexUnavailableError(
        f"the local backend did not start ({state}): {detail}",
        hint=f"try `node --import tsx local_backend/src/main.ts --port 0 --admin-key KEY` in "
        f"{root} to see why",
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Close the backend's stdin (it stops itself); kill it if it has not within the grace."""
    if process.stdin is not None:
        with contextlib.suppress(OSError):  # it has already gone
            process.stdin.close()
    try:
        process.wait(timeout=_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
