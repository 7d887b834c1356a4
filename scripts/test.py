#!/usr/bin/env python3
"""The project's test command, the same on Linux, macOS and Windows (what CI runs).

    python3 scripts/test.py [pytest args]      (./scripts/test on Linux and macOS runs this)

Installs everything the project needs into ./.venv and ./node_modules, then runs every check:
lint, types, the workflow linters, the package build, the TypeScript tests and the Python suite.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"


def run(command: Sequence[str | Path]) -> None:
    """Run one command in the repository root; stop the whole run if it fails."""
    completed = subprocess.run([str(part) for part in command], cwd=ROOT, check=False)
    if completed.returncode != 0:
        sys.exit(completed.returncode)


def tool(name: str) -> str:
    """An executable found on PATH (npm is `npm.cmd` on Windows, which only a PATH lookup finds)."""
    found = shutil.which(name)
    if found is None:
        sys.exit(f"{name} not found on PATH")
    return found


def venv_python() -> Path:
    """The venv's interpreter, creating the venv first if there is none."""
    python = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if not python.exists():
        run([sys.executable, "-m", "venv", VENV])
    return python


def venv_script(python: Path, name: str) -> str:
    """A console script the venv installed (its own folder: `bin/` or `Scripts\\`)."""
    folder = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('scripts'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    found = shutil.which(name, path=folder)
    if found is None:
        sys.exit(f"{name} is not installed in {folder}")
    return found


def check_build(python: Path) -> None:
    """`python -m build` (sdist and wheel, as the release workflow builds them), `twine check`."""
    with tempfile.TemporaryDirectory(prefix="sync-models-dist-") as dist:
        run([python, "-m", "build", "--outdir", dist, "."])
        run([python, "-m", "twine", "check", "--strict", *sorted(glob.glob(f"{dist}/*"))])


def main(pytest_args: Sequence[str]) -> None:
    python = venv_python()
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", ".[dev]"])
    npm, npx = tool("npm"), tool("npx")
    run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"])

    workflows = sorted(str(path.relative_to(ROOT)) for path in ROOT.glob(".github/workflows/*.yml"))
    schema: list[str | Path] = [python, "-m", "check_jsonschema", "--builtin-schema"]
    zizmor = venv_script(python, "zizmor")
    steps: list[tuple[str, list[str | Path]]] = [
        ("ruff", [python, "-m", "ruff", "check", "."]),
        ("mypy", [python, "-m", "mypy"]),
        ("workflows", [*schema, "vendor.github-workflows", *workflows]),
        ("action", [*schema, "vendor.github-actions", "action.yml"]),
        ("zizmor", [zizmor, "--offline", "--quiet", ".github/workflows", "action.yml"]),
        ("tsc", [npx, "tsc", "--noEmit"]),
        # The Convex files an app copies compile under convex/tsconfig.json (the Convex default)
        # and under the strictest options an app may turn on.
        ("tsc (convex/, Convex default)", [npx, "tsc", "-p", "convex/tsconfig.json"]),
        ("tsc (convex/, strictest)", [npx, "tsc", "-p", "tsconfig.strictest.json"]),
        ("vitest", [npm, "test"]),
    ]
    for name, command in steps:
        print(f"== {name}", flush=True)
        run(command)
    print("== build", flush=True)
    check_build(python)
    print("== pytest", flush=True)
    # UTF-8 mode for the test process only, so the tests' own reads of the UTF-8 fixtures need
    # no encoding= each on Windows; the CLI they start runs in the platform's default mode, as
    # a user's does.
    run([python, "-X", "utf8", "-m", "pytest", *pytest_args])


if __name__ == "__main__":
    main(sys.argv[1:])
