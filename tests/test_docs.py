"""What the docs tell a person to copy or run is what the code needs."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import psutil
import pytest
from support.convex_cli import convex_project
from support.env_fixtures import is_project_variable

REPO = Path(__file__).resolve().parents[1]
CONVEX = REPO / "convex"
RELATIVE_IMPORT = re.compile(r'from\s+"(\.\.?/[^"]+)"')


def section(markdown: str, heading: str) -> str:
    start = markdown.index(f"\n## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else len(markdown)]


def test_the_files_an_existing_app_copies_hold_everything_the_functions_import() -> None:
    text = section(
        (REPO / "docs" / "convex-functions.md").read_text(),
        "Adding these functions to an existing Convex app",
    )
    first_cells = [line.split("|")[1] for line in text.splitlines() if line.startswith("| `")]
    listed = {name for cell in first_cells for name in re.findall(r"`([\w/]+\.ts)`", cell)}
    functions = {name for name in listed if name.startswith(("mutations/", "queries/"))}
    assert functions, "no function files found in the section's table"
    pending, needed = list(functions), set(functions)
    while pending:
        module = CONVEX / pending.pop()
        for target in RELATIVE_IMPORT.findall(module.read_text()):
            resolved = (module.parent / f"{target}.ts").resolve().relative_to(CONVEX).as_posix()
            if not resolved.startswith("_generated/") and resolved not in needed:
                needed.add(resolved)
                pending.append(resolved)
    # The app keeps its own schema.ts; the section says how to edit it.
    assert "`schema.ts`" in text
    assert needed - listed - {"schema.ts"} == set(), (
        "imported by the functions but not in the list to copy"
    )


@pytest.mark.posix_only(reason="the recipe is a POSIX shell script")
def test_the_local_backends_push_recipe_runs_as_written(tmp_path: Path) -> None:
    """local_backend/README.md, "Pushing code with the Convex CLI": its shell block, run as
    written from the root of a copy of the project, pushes, regenerates and stops."""
    text = section(
        (REPO / "local_backend" / "README.md").read_text(), "Pushing code with the Convex CLI"
    )
    recipe = re.search(r"```sh\n(.*?)```", text, re.S)
    assert recipe is not None
    project = convex_project(tmp_path / "project")
    shutil.copytree(REPO / "local_backend", project / "local_backend")
    shell = shutil.which("sh")
    assert shell is not None
    env = {k: v for k, v in os.environ.items() if not is_project_variable(k)}
    ran = subprocess.run(
        [shell, "-e", "-c", recipe.group(1) + 'echo "backend pid $!"\n'],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "Deployed Convex functions" in ran.stdout + ran.stderr
    backend_pid = int(ran.stdout.rsplit("backend pid ", 1)[1])
    with contextlib.suppress(psutil.NoSuchProcess):  # gone already: stopped
        backend = psutil.Process(backend_pid)
        _, alive = psutil.wait_procs([backend], timeout=10)
        for process in alive:
            process.kill()
        assert alive == [], "`kill $!` did not stop the backend"
    assert (project / "convex" / "_generated" / "api.d.ts").read_bytes() == (
        CONVEX / "_generated" / "api.d.ts"
    ).read_bytes()
