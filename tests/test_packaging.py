"""The wheel and sdist carry the Convex side: the functions `sync-models init` writes, the
ranked-list templates, the schema, and the local backend `--local` runs, byte for byte as in
the repository (its folders are the one source), plus `py.typed`.

`python -m build` builds the wheel from the sdist, so a wheel with the files proves the sdist
holds them too."""

from __future__ import annotations

import subprocess
import tarfile
import tomllib
import zipfile
from pathlib import Path

from support.built_package import BuiltPackage, WheelVenv
from support.local_backend import REPO_ROOT

from sync_client.bundled import FUNCTION_FILES, SCHEMA_FILE, TEMPLATE_FILES

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
