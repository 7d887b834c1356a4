#!/usr/bin/env python3
"""The steps of the GitHub Action (action.yml at the repository root), one subcommand each:

    python scripts/github_action.py key       the venv's path and its cache key
    python scripts/github_action.py install   create the venv, install sync-models into it
    python scripts/github_action.py sync      run `sync-models --json` with the inputs

The action hands its inputs over as INPUT_* environment variables (never interpolated into a
script) and the runner gives GITHUB_ACTION_PATH (this checkout), RUNNER_TEMP and
GITHUB_OUTPUT. Secrets (the deploy key, the OpenRouter key) reach the CLI in its environment
only; nothing here prints them. Only the standard library: it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Mapping
from pathlib import Path

#: What the venv's content depends on: the pinned dependencies, and every source the wheel is
#: built from (the package, and the Convex and local-backend files it carries; pyproject.toml).
KEYED_FILES = ("requirements.lock", "pyproject.toml", "package.json", "package-lock.json")
KEYED_TREES = ("sync_client", "convex", "local_backend/src")
LISTS = ("free", "paid", "all")


class ActionError(Exception):
    """An input the action cannot use; printed as a workflow error annotation."""


def action_path(environ: Mapping[str, str]) -> Path:
    return Path(environ["GITHUB_ACTION_PATH"])


def venv_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ["RUNNER_TEMP"]) / "sync-models-venv"


def venv_scripts(venv: Path) -> Path:
    """The venv's folder of executables (`bin` or `Scripts`, as this Python lays a venv out)."""
    return Path(sysconfig.get_path("scripts", "venv", vars={"base": venv, "platbase": venv}))


def venv_python(venv: Path) -> Path:
    """The venv's interpreter (named as the one that created it: `python3.11`, `python.exe`)."""
    return venv_scripts(venv) / Path(sys.executable).name


def keyed_files(root: Path) -> list[Path]:
    """The files the cache key covers, in a stable order (compiled bytecode aside)."""
    files = [root / name for name in KEYED_FILES if (root / name).is_file()]
    for tree in KEYED_TREES:
        files += sorted(
            path
            for path in (root / tree).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        )
    return files


def cache_key(root: Path) -> str:
    """`sync-models-venv-<os>-<python>-<digest>`: the digest covers the lock and every source of
    the wheel, so a new release of the action never reuses an old venv."""
    digest = hashlib.sha256()
    for path in keyed_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    python = ".".join(platform.python_version_tuple())
    return f"sync-models-venv-{sys.platform}-{python}-{digest.hexdigest()[:32]}"


def write_outputs(environ: Mapping[str, str], **outputs: str) -> None:
    """Append `name=value` lines to the step's GITHUB_OUTPUT file."""
    with open(environ["GITHUB_OUTPUT"], "a", encoding="utf-8", newline="\n") as file:
        for name, value in outputs.items():
            if "\n" in value or "\r" in value:
                raise ActionError(f"output {name} would span lines")
            file.write(f"{name.replace('_', '-')}={value}\n")


def key_step(environ: Mapping[str, str]) -> int:
    write_outputs(environ, venv=str(venv_dir(environ)), key=cache_key(action_path(environ)))
    return 0


def install_step(environ: Mapping[str, str]) -> int:
    root, venv = action_path(environ), venv_dir(environ)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    pip = [str(venv_python(venv)), "-m", "pip", "--disable-pip-version-check"]
    lock = str(root / "requirements.lock")
    subprocess.run([*pip, "install", "--quiet", "--constraint", lock, str(root)], check=True)
    return 0


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(f"INPUT_{name}", "").strip().lower()
    if value not in ("", "true", "false"):
        raise ActionError(f"input {name.lower().replace('_', '-')} must be true or false")
    return value == "true"


def sync_arguments(environ: Mapping[str, str]) -> list[str]:
    """The CLI arguments the inputs ask for; `--json` always (its document is an output)."""
    arguments = ["--json"]
    chosen = environ.get("INPUT_LIST", "").strip()
    if chosen:
        if chosen not in LISTS:
            raise ActionError(f"input list must be one of {', '.join(LISTS)}")
        arguments.append(f"--{chosen}")
    for model in environ.get("INPUT_MODELS", "").replace(",", " ").split():
        arguments += ["--model", model]
    if _flag(environ, "CATALOG"):
        arguments.append("--catalog")
    if _flag(environ, "DRY_RUN"):
        arguments.append("--dry-run")
    for name, flag in (
        ("TIMEOUT", "--timeout"),
        ("ENV_FILE", "--env-file"),
        ("CONFIG_DIR", "--config-dir"),
        ("MAX_COST_PER_1M", "--max-cost-per-1m"),
    ):
        value = environ.get(f"INPUT_{name}", "").strip()
        if value:
            arguments += [flag, value]
    return arguments


def sync_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The CLI's environment: the runner's, plus the deployment and the keys the inputs give
    (an input left empty leaves the variable, e.g. one an env file sets, alone)."""
    env = {name: value for name, value in environ.items() if not name.startswith("INPUT_")}
    for name, variable in (
        ("CONVEX_URL", "CONVEX_URL"),
        ("DEPLOY_KEY", "CONVEX_DEPLOY_KEY"),
        ("OPENROUTER_API_KEY", "OPENROUTER_API_KEY"),
    ):
        value = environ.get(f"INPUT_{name}", "").strip()
        if value:
            env[variable] = value
    return env


def sync_step(environ: Mapping[str, str]) -> int:
    """Run the sync with stdout (the --json document) to a file; the outputs are written
    before the step ends with the sync's exit code, so later steps can read them."""
    arguments = sync_arguments(environ)
    python = venv_python(venv_dir(environ))
    temp = environ["RUNNER_TEMP"]
    handle, name = tempfile.mkstemp(prefix="sync-models-", suffix=".json", dir=temp)
    with os.fdopen(handle, "wb") as document:
        completed = subprocess.run(
            [str(python), "-m", "sync_client", *arguments],
            stdout=document,
            env=sync_environment(environ),
            cwd=environ.get("INPUT_WORKING_DIRECTORY") or None,
            check=False,
        )
    write_outputs(environ, exit_code=str(completed.returncode), json_path=name)
    return completed.returncode


STEPS = {"key": key_step, "install": install_step, "sync": sync_step}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in STEPS:
        print(f"usage: github_action.py {{{','.join(STEPS)}}}", file=sys.stderr)
        return 2
    try:
        return STEPS[argv[0]](os.environ)
    except ActionError as error:
        print(f"::error title=sync-models action::{error}")
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
