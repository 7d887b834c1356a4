"""Run the real Convex CLI (`npx convex deploy`, `codegen`, `run`, ...) against a local backend.

The CLI is the `convex` npm package this repo pins, run as `node node_modules/convex/bin/main.js`
(`node_modules/.bin/convex` is a shell script, a `.cmd` wrapper on Windows). It works on a
project folder: `convex_project()` makes a throwaway copy of this repo's Convex app (so deploy's
and codegen's writes to `convex/_generated/` and `.env.local` never touch the work tree) that
shares the repo's `node_modules/`.

Offline: the CLI asks a version service for news and reports crashes to Sentry. The run
environment points the version check at a closed loopback port (`CONVEX_VERSION_API_ORIGIN`,
which the CLI reads; a failed check is skipped) and sets `CI=1` (the CLI turns Sentry off in CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from support.local_backend import REPO_ROOT, LocalBackend
from support.openrouter_server import unused_loopback_url

CONVEX_MAIN = REPO_ROOT / "node_modules" / "convex" / "bin" / "main.js"
PROJECT_FILES = ("package.json", "tsconfig.json")
# Variables that would make the CLI pick another deployment than the one given.
_DEPLOYMENT_VARIABLES = ("CONVEX_DEPLOYMENT", "CONVEX_DEPLOY_KEY", "CONVEX_URL", "CONVEX_SITE_URL")


def convex_project(destination: Path, functions_dir: Path | None = None) -> Path:
    """A copy of this repo's Convex app in `destination` (created): package.json,
    tsconfig.json and `convex/` (or `functions_dir` copied as `convex/`), with
    `node_modules` linked to the repo's."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(REPO_ROOT / name, destination / name)
    shutil.copytree(functions_dir or REPO_ROOT / "convex", destination / "convex")
    (destination / "node_modules").symlink_to(REPO_ROOT / "node_modules", target_is_directory=True)
    return destination


def offline_cli_environment(backend: LocalBackend) -> dict[str, str]:
    """The environment the CLI needs to push to `backend` with no internet."""
    env = {key: value for key, value in os.environ.items() if key not in _DEPLOYMENT_VARIABLES}
    env.update(
        CONVEX_SELF_HOSTED_URL=backend.url,
        CONVEX_SELF_HOSTED_ADMIN_KEY=backend.admin_key,
        CONVEX_VERSION_API_ORIGIN=unused_loopback_url().removesuffix("/api/v1"),
        CI="1",
        NO_COLOR="1",
    )
    return env


def run_convex_cli(
    project_dir: Path, backend: LocalBackend, *args: str, timeout_s: float = 120.0
) -> subprocess.CompletedProcess[str]:
    """`npx convex ARGS` in `project_dir` against `backend`; output captured, never raises
    on a non-zero exit (the caller checks `returncode`)."""
    node = shutil.which("node")
    assert node is not None, "the Convex CLI needs node on PATH"
    return subprocess.run(
        [node, str(CONVEX_MAIN), *args],
        cwd=project_dir,
        env=offline_cli_environment(backend),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def deploy(
    project_dir: Path, backend: LocalBackend, *extra: str, typecheck: bool = False
) -> subprocess.CompletedProcess[str]:
    """`npx convex deploy -y` from `project_dir` into `backend`. The TypeScript check is off
    unless asked for (CI runs `tsc` on its own; it costs ~6 s a push here)."""
    flags = () if typecheck else ("--typecheck", "disable")
    return run_convex_cli(project_dir, backend, "deploy", "-y", *flags, *extra)
