"""The package as a user gets it: `python -m build` (sdist, then a wheel built from that sdist)
once per test session, and a fresh virtualenv holding only that wheel and its dependencies."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.local_backend import REPO_ROOT


@dataclass(frozen=True)
class BuiltPackage:
    sdist: Path
    wheel: Path


@dataclass(frozen=True)
class WheelVenv:
    """A virtualenv with only the built wheel installed (no clone on its path)."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / ("Scripts" if sys.platform == "win32" else "bin")

    @property
    def python(self) -> Path:
        return self.bin / ("python.exe" if sys.platform == "win32" else "python")

    @property
    def sync_models(self) -> Path:
        return self.bin / ("sync-models.exe" if sys.platform == "win32" else "sync-models")

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a user with this venv active: no PYTHONPATH pointing at the clone."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = os.pathsep.join([str(self.bin), env.get("PATH", "")])
        env.update(extra)
        return env


@pytest.fixture(scope="session")
def built_package(tmp_path_factory: pytest.TempPathFactory) -> BuiltPackage:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO_ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return BuiltPackage(sdist=sdist, wheel=wheel)


@pytest.fixture(scope="session")
def wheel_venv(built_package: BuiltPackage, tmp_path_factory: pytest.TempPathFactory) -> WheelVenv:
    installed = WheelVenv(tmp_path_factory.mktemp("wheel-venv") / "venv")
    venv.create(installed.root, with_pip=True)
    done = subprocess.run(
        [str(installed.python), "-m", "pip", "install", "--quiet", str(built_package.wheel)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=installed.root,
        env=installed.env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return installed
