"""The CI files: the three-system test matrix, the release workflow, every action pinned, and
the `posix_only` marker the suite uses for what truly needs POSIX."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.posix_only import skip_reason

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
#: This repository's own action: at the running commit (`$/`) or in the checkout (`./`).
SELF = ("$/", "./")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def uses_of(document: Any) -> list[str]:
    """Every `uses:` value anywhere in a workflow or action document."""
    if isinstance(document, dict):
        found = [value for key, value in document.items() if key == "uses"]
        return found + [use for value in document.values() for use in uses_of(value)]
    if isinstance(document, list):
        return [use for item in document for use in uses_of(item)]
    return []


@pytest.mark.parametrize("path", [*WORKFLOWS, REPO / "action.yml"], ids=lambda path: path.name)
def test_every_action_is_pinned_by_commit(path: Path) -> None:
    uses = [use for use in uses_of(load(path)) if not use.startswith(SELF)]
    assert uses, f"{path.name} uses no action"
    assert [use for use in uses if not PINNED.match(use)] == []


def test_the_tests_run_on_linux_macos_and_windows_with_one_entry_point() -> None:
    job = load(REPO / ".github" / "workflows" / "tests.yml")["jobs"]["test"]
    assert job["runs-on"] == "${{ matrix.os }}"
    assert job["strategy"]["matrix"]["os"] == ["ubuntu-24.04", "macos-latest", "windows-latest"]
    assert job["strategy"]["fail-fast"] is False
    assert job["steps"][-1]["run"] == "python scripts/test.py"
    assert "test.py" in (REPO / "scripts" / "test").read_text(encoding="utf-8")


def test_release_publishes_by_trusted_publishing_from_the_publish_job_alone() -> None:
    path = REPO / ".github" / "workflows" / "release.yml"
    workflow = load(path)
    assert workflow[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"] == {}
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    runs = "\n".join(step.get("run", "") for step in build["steps"])
    assert "python -m build" in runs and "twine check" in runs
    assert build["permissions"] == {"contents": "read"}
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["needs"] == "build" and publish["environment"] == "pypi"
    assert uses_of(publish["steps"])[-1].startswith("pypa/gh-action-pypi-publish@")
    assert "secrets." not in path.read_text(encoding="utf-8")  # no stored token


def test_the_staging_sync_runs_this_repositorys_own_action() -> None:
    job = load(REPO / ".github" / "workflows" / "sync-staging.yml")["jobs"]["sync"]
    (sync,) = [step for step in job["steps"] if step.get("id") == "sync"]
    assert sync["uses"] in SELF
    assert sync["with"]["deploy-key"] == "${{ secrets.CONVEX_DEPLOY_KEY }}"
    assert "run" not in sync


def test_the_readmes_workflow_for_an_app_repository_passes_the_linters(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
    assert len(example.splitlines()) <= 16
    pinned = example.replace("OWNER/sync-models@COMMIT_SHA", "owner/sync-models@" + "0" * 40)
    workflow = tmp_path / ".github" / "workflows" / "sync-models.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(pinned, encoding="utf-8")
    (step,) = [s for s in load(workflow)["jobs"]["sync"]["steps"] if "sync-models" in s["uses"]]
    assert set(step["with"]) <= set(load(REPO / "action.yml")["inputs"])
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent))
    assert zizmor is not None, "zizmor is a dev dependency"
    for command in (
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"],
        [zizmor, "--offline", "--quiet"],
    ):
        linted = subprocess.run([*command, str(workflow)], capture_output=True, text=True)
        assert linted.returncode == 0, linted.stdout + linted.stderr


def mark(*args: object, **kwargs: object) -> pytest.Mark:
    return pytest.mark.posix_only(*args, **kwargs).mark


def test_posix_only_skips_elsewhere_with_its_reason() -> None:
    marker = mark(reason="uses a pty")
    assert skip_reason(marker, "posix") is None
    assert skip_reason(marker, "nt") == "POSIX only: uses a pty"
    assert skip_reason(mark("uses a pty"), "nt") == "POSIX only: uses a pty"


@pytest.mark.parametrize("marker", [mark(), mark(reason=""), mark(reason="  ")])
def test_posix_only_without_a_reason_is_a_usage_error(marker: pytest.Mark) -> None:
    with pytest.raises(pytest.UsageError, match="needs a reason"):
        skip_reason(marker, "posix")
