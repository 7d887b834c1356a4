"""The wheel and sdist carry the Convex side: the functions `sync-models init` writes, the
ranked-list templates, the schema, and the local backend `--local` runs, byte for byte as in
the repository (its folders are the one source), plus `py.typed`.

`python -m build` builds the wheel from the sdist, so a wheel with the files proves the sdist
holds them too."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from support.built_package import BuiltPackage, WheelVenv
from support.local_backend import REPO_ROOT
from support.openrouter_server import OpenRouterServer

from sync_client.bundled import FUNCTION_FILES, SCHEMA_FILE, TEMPLATE_FILES
from sync_client.local import CACHE_DIR_VARIABLE

BUNDLED = "sync_client/_bundled/"


def _force_included() -> dict[str, str]:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    mapping: dict[str, str] = config["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    return mapping


def _expected_bundle() -> dict[str, bytes]:
    expected = {}
    for source, target in _force_included().items():
        path = REPO_ROOT / source
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            relative = file.relative_to(path).as_posix() if path.is_dir() else ""
            expected[f"{target}/{relative}".rstrip("/")] = file.read_bytes()
    return expected


def test_the_wheel_carries_the_repositorys_convex_files_and_backend_unchanged(
    built_package: BuiltPackage,
) -> None:
    with zipfile.ZipFile(built_package.wheel) as wheel:
        names = wheel.namelist()
        bundled = {name: wheel.read(name) for name in names if name.startswith(BUNDLED)}
        assert "sync_client/py.typed" in names
    assert bundled == _expected_bundle()
    in_convex = {name.removeprefix(BUNDLED + "convex/") for name in bundled}
    assert {*FUNCTION_FILES, *TEMPLATE_FILES, SCHEMA_FILE} <= in_convex
    assert {"_generated/server.js", "_generated/api.js"} <= in_convex
    assert f"{BUNDLED}local_backend/src/main.ts" in bundled
    assert f"{BUNDLED}package-lock.json" in bundled
    assert not [name for name in bundled if name.endswith(".test.ts")]


def test_the_sdist_holds_what_the_wheel_is_built_from(built_package: BuiltPackage) -> None:
    with tarfile.open(built_package.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for source in _force_included():
        assert source in names or any(name.startswith(f"{source}/") for name in names), source
    assert "sync_client/py.typed" in names


def test_an_installed_wheel_reads_its_own_copy_not_a_clone(wheel_venv: WheelVenv) -> None:
    script = (
        "from sync_client import bundled; import sys;"
        "print(bundled.is_checkout()); print(bundled.project_files());"
        "sys.stdout.write(bundled.convex_file('lib/validators.ts'))"
    )
    done = subprocess.run(
        [str(wheel_venv.python), "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=wheel_venv.root,
        env=wheel_venv.env(),
    )
    assert done.returncode == 0, done.stderr
    checkout, location, text = done.stdout.split("\n", 2)
    assert checkout == "False"
    assert Path(location).is_relative_to(wheel_venv.root)
    assert text == (REPO_ROOT / "convex" / "lib" / "validators.ts").read_text()


# --- a user's venv: only the wheel -----------------------------------------------------------

USER_SCRIPT = """from sync_client.api import SyncOptions, sync
from sync_client.settings import load_settings

result = sync(load_settings(), SyncOptions(lists={lists}))
inserted: int = result.report.inserted
print(inserted, result.exit_code)
"""


def _run(
    venv: WheelVenv, args: list[str], cwd: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv.sync_models), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=venv.env(**env),
        stdin=subprocess.DEVNULL,
    )


def test_an_installed_wheel_inits_an_app_and_syncs_it_locally(
    wheel_venv: WheelVenv, tmp_path: Path, openrouter_server: OpenRouterServer
) -> None:
    app = tmp_path / "scratch-app"
    (app / "convex").mkdir(parents=True)
    (app / "convex" / "schema.ts").write_text(
        'import { defineSchema, defineTable } from "convex/server";\n'
        'import { v } from "convex/values";\n\n'
        "export default defineSchema({\n  notes: defineTable({ body: v.string() }),\n});\n"
    )
    init = _run(wheel_venv, ["init"], app)
    assert init.returncode == 0, init.stdout + init.stderr
    for relative in FUNCTION_FILES:
        assert (app / "convex" / relative).read_text() == (
            REPO_ROOT / "convex" / relative
        ).read_text()
    assert (
        "modelHistory: defineTable(modelHistoryFields)"
        in (app / "convex" / "schema.ts").read_text()
    )
    (app / "convex" / "config" / "topFreeModels.ts").write_text(
        "// test list\nexport const TOP_FREE_MODELS = [\n"
        '  { apiId: "qwen/qwen3-coder:free", rank: 1 },\n] as const;\n'
    )

    openrouter_server.serve_snapshot("models-2025-12-02.json")
    cache = tmp_path / "cache"
    env = {"OPENROUTER_BASE_URL": openrouter_server.base_url, CACHE_DIR_VARIABLE: str(cache)}
    first = _run(wheel_venv, ["--local", "--free"], app, **env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "installing the local backend's Node dependencies with `npm ci`" in first.stderr
    assert "[NEW] [FREE] qwen/qwen3-coder:free" in first.stdout
    (installed,) = (cache / "local-backend").iterdir()
    assert (installed / "node_modules" / "convex").is_dir()
    assert not (installed / "node_modules" / "vitest").exists()  # run-time dependencies only

    second = _run(wheel_venv, ["--local", "--free"], app, **env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "npm ci" not in second.stderr  # reused
    assert list((cache / "local-backend").iterdir()) == [installed]


@pytest.mark.parametrize(("lists", "passes"), [('"free"', True), ("3", False)])
def test_mypy_strict_checks_a_users_script_against_the_installed_package(
    wheel_venv: WheelVenv, tmp_path: Path, lists: str, passes: bool
) -> None:
    """py.typed: the user's mypy reads the package's types (not "missing library stubs")."""
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT.format(lists=lists))
    no_config = tmp_path / "mypy.ini"  # none of the repository's settings
    no_config.write_text("[mypy]\n")
    checked = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--python-executable",
            str(wheel_venv.python),
            "--config-file",
            str(no_config),
            str(script),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env=wheel_venv.env(),
    )
    assert (checked.returncode == 0) is passes, checked.stdout + checked.stderr
    assert "missing library stubs or py.typed marker" not in checked.stdout
    if not passes:
        assert 'Argument "lists" to "SyncOptions"' in checked.stdout
