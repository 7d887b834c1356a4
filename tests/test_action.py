"""The composite GitHub Action (action.yml): its `run:` steps run here in order, as a runner runs
them, against the local backend and a loopback OpenRouter.

The runner's part is played by `ActionRunner`: it gives each step the inputs (defaults from
action.yml, overridden by the test's `with:`), evaluates the few expressions the action uses
(`inputs.*`, `steps.<id>.outputs.*`; anything else fails the test), runs each `run:` with its
shell (`bash --noprofile --norc -eo pipefail`, as GitHub does) and GITHUB_OUTPUT,
GITHUB_ACTION_PATH, RUNNER_TEMP and GITHUB_STEP_SUMMARY set, and stops at the first failing
step. The two `uses:` steps are stood in for: actions/setup-python (this interpreter is first
on PATH) and actions/cache (a hit when an earlier job of this runner saved the same key).
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from support.local_backend import LocalBackend
from support.openrouter_server import OpenRouterServer, unused_loopback_url

from sync_client.convex_store import ConvexStore
from sync_client.settings import Secret

REPO = Path(__file__).resolve().parents[1]
ACTION_SCRIPT = REPO / "scripts" / "github_action.py"
ACTION = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
SNAPSHOT = "models-2025-12-02.json"
FREE = ["qwen/qwen3-coder:free", "google/gemma-3-27b-it:free"]
PAID = ["anthropic/claude-sonnet-4.5"]
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
STAND_INS = ("actions/setup-python@", "actions/cache@")

pytestmark = pytest.mark.timeout(600)  # the first job installs the package into a fresh venv


@dataclass
class StepRun:
    name: str
    returncode: int | None  # None: skipped by its `if:`
    outputs: dict[str, str]
    stdout: str = ""
    stderr: str = ""


@dataclass
class Job:
    steps: list[StepRun] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(step.returncode in (0, None) for step in self.steps)

    def step(self, name: str) -> StepRun:
        return next(step for step in self.steps if step.name == name)

    def log(self) -> str:
        return "\n".join(step.stdout + step.stderr for step in self.steps)


class ActionRunner:
    """Runs action.yml's steps as a GitHub runner would, one job at a time."""

    def __init__(self, temp: Path) -> None:
        self.temp = temp  # RUNNER_TEMP, kept between jobs like the cache
        self.saved_keys: set[str] = set()

    def run(self, with_: Mapping[str, str], workspace: Path, env: Mapping[str, str]) -> Job:
        unknown = set(with_) - set(ACTION["inputs"])
        assert not unknown, f"not inputs of the action: {unknown}"
        inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
        inputs.update(with_)
        steps: dict[str, dict[str, str]] = {}
        job = Job()
        base_env = {
            **env,
            "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
            "GITHUB_ACTION_PATH": str(REPO),
            "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_TEMP": str(self.temp),
        }
        for index, step in enumerate(ACTION["runs"]["steps"]):
            name = step.get("name", step.get("id", str(index)))
            context = {"inputs": inputs, "steps": steps}
            if "if" in step and not self._condition(step["if"], context):
                job.steps.append(StepRun(name, None, {}))
                continue
            if "uses" in step:
                outputs = self._stand_in(step, context)
                job.steps.append(StepRun(name, 0, outputs))
            else:
                ran = self._run_step(name, step, context, base_env, workspace)
                job.steps.append(ran)
                outputs = ran.outputs
            if "id" in step:
                steps[step["id"]] = outputs
            if job.steps[-1].returncode != 0:
                break
        context = {"inputs": inputs, "steps": steps}
        job.outputs = {
            name: evaluate(spec["value"], context) for name, spec in ACTION["outputs"].items()
        }
        if job.ok:  # actions/cache saves the path in its post step, after a job that passed
            self.saved_keys.add(steps["key"]["key"])
        return job

    def _condition(self, condition: str, context: Mapping[str, Any]) -> bool:
        match = re.fullmatch(r"steps\.(\w+)\.outputs\.([\w-]+) != 'true'", condition.strip())
        assert match, f"the test runner does not know the condition {condition!r}"
        value: str = context["steps"].get(match[1], {}).get(match[2], "")
        return value != "true"

    def _stand_in(self, step: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, str]:
        uses = str(step["uses"])
        assert uses.startswith(STAND_INS), f"the test runner cannot stand in for {uses}"
        with_ = {key: evaluate(str(value), context) for key, value in step.get("with", {}).items()}
        if uses.startswith("actions/setup-python@"):
            assert with_["python-version"] <= platform.python_version()
            return {"python-version": platform.python_version()}
        assert with_["path"] == str(self.temp / "sync-models-venv")
        return {"cache-hit": "true" if with_["key"] in self.saved_keys else "false"}

    def _run_step(
        self,
        name: str,
        step: Mapping[str, Any],
        context: Mapping[str, Any],
        base_env: Mapping[str, str],
        workspace: Path,
    ) -> StepRun:
        assert step["shell"] == "bash", "each run step names its shell; this runner knows bash"
        bash = runner_bash()
        script = self.temp / "step.sh"
        script.write_text(evaluate(step["run"], context), encoding="utf-8", newline="\n")
        output_file = self.temp / "step-output"
        output_file.write_text("", encoding="utf-8")
        step_env = {key: evaluate(str(val), context) for key, val in step.get("env", {}).items()}
        completed = subprocess.run(
            [bash, "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env={**base_env, **step_env, "GITHUB_OUTPUT": str(output_file)},
            capture_output=True,
            text=True,
            timeout=480,
            check=False,
        )
        return StepRun(
            name,
            completed.returncode,
            read_outputs(output_file.read_text(encoding="utf-8")),
            completed.stdout,
            completed.stderr,
        )


def runner_bash() -> str:
    """The bash GitHub runs `shell: bash` with: Git's on Windows (where `bash` on PATH may be
    WSL's launcher), the one on PATH elsewhere."""
    git = shutil.which("git")
    git_bash = None if git is None else Path(git).resolve().parents[1] / "bin" / "bash.exe"
    if os.name == "nt" and git_bash is not None and git_bash.exists():
        return str(git_bash)
    bash = shutil.which("bash")
    assert bash is not None, "bash is needed (GitHub's runners have it on every system)"
    return bash


def evaluate(text: str, context: Mapping[str, Any]) -> str:
    """`text` with each `${{ inputs.x }}` / `${{ steps.id.outputs.x }}` replaced by its value."""

    def value(match: re.Match[str]) -> str:
        expression = match[1]
        if found := re.fullmatch(r"inputs\.([\w-]+)", expression):
            return str(context["inputs"][found[1]])
        if found := re.fullmatch(r"steps\.(\w+)\.outputs\.([\w-]+)", expression):
            return str(context["steps"].get(found[1], {}).get(found[2], ""))
        raise AssertionError(f"the test runner does not know the expression {expression!r}")

    return EXPRESSION.sub(value, text)


def read_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT's `name=value` lines (the action writes no multi-line values)."""
    outputs = {}
    for line in text.splitlines():
        name, separator, value = line.partition("=")
        assert separator and "<<" not in name, f"unexpected output line {line!r}"
        outputs[name] = value
    return outputs


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> ActionRunner:
    return ActionRunner(tmp_path_factory.mktemp("runner-temp"))


@pytest.fixture
def app(tmp_path: Path, openrouter_server: OpenRouterServer) -> Path:
    """A user's app repository: its ranked lists, and an env file naming the loopback OpenRouter."""
    openrouter_server.serve_snapshot(SNAPSHOT)
    config = tmp_path / "app" / "convex" / "config"
    config.mkdir(parents=True)
    for path, constant, ids in (
        (config / "topFreeModels.ts", "TOP_FREE_MODELS", FREE),
        (config / "topPaidModels.ts", "TOP_PAID_MODELS", PAID),
    ):
        entries = "".join(f'{{ apiId: "{api_id}", rank: {n} }},' for n, api_id in enumerate(ids, 1))
        path.write_text(f"export const {constant} = [{entries}];\n", encoding="utf-8")
    (tmp_path / "app" / "ci.env").write_text(
        f"OPENROUTER_BASE_URL={openrouter_server.base_url}\n", encoding="utf-8"
    )
    return tmp_path / "app"


def runner_env(summary: Path) -> dict[str, str]:
    return {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}


def rows(backend: LocalBackend) -> dict[str, Any]:
    with ConvexStore(backend.url, Secret(backend.admin_key), 10) as store:
        return {row["apiIdentifier"]: row for row in store.list_models()}


# --- the action, end to end --------------------------------------------------------------------


def test_the_action_syncs_and_gives_the_exit_code_and_the_json_document(
    runner: ActionRunner, app: Path, backend: LocalBackend, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    job = runner.run(
        {
            "list": "free",
            "env-file": "ci.env",
            "convex-url": backend.url,
            "deploy-key": backend.admin_key,
        },
        workspace=app,
        env=runner_env(summary),
    )
    assert job.ok, job.log()
    assert job.outputs["exit-code"] == "0"
    document = json.loads(Path(job.outputs["json-path"]).read_text(encoding="utf-8"))
    assert document["summary"]["listSynced"] == "free"
    assert [result["apiId"] for result in document["results"]] == FREE
    stored = rows(backend)
    assert sorted(stored) == sorted(FREE)
    assert all(row["isActive"] is False for row in stored.values())  # new models arrive off
    assert "qwen\\/qwen3\\-coder\\:free" in summary.read_text(encoding="utf-8")  # the job summary
    assert backend.admin_key not in job.log()
    assert backend.admin_key.rpartition("|")[2] not in job.log()


def test_a_cached_venv_is_reused_and_the_inputs_become_flags(
    runner: ActionRunner, app: Path, backend: LocalBackend, tmp_path: Path
) -> None:
    inputs = {
        "list": "free",
        "models": "anthropic/claude-sonnet-4.5",
        "dry-run": "true",
        "max-cost-per-1m": "1",
        "timeout": "20",
        "env-file": "ci.env",
        "convex-url": backend.url,
        "deploy-key": backend.admin_key,
    }
    env = runner_env(tmp_path / "summary.md")
    runner.run(inputs, workspace=app, env=env)  # installs, unless an earlier test did
    job = runner.run(inputs, workspace=app, env=env)
    assert job.ok, job.log()
    assert job.step("Restore the venv").outputs == {"cache-hit": "true"}
    assert job.step("Install sync-models from the action's checkout").returncode is None
    document = json.loads(Path(job.outputs["json-path"]).read_text(encoding="utf-8"))
    assert document["summary"]["dryRun"] is True
    assert document["summary"]["listSynced"] == "free + --model"
    assert [result["apiId"] for result in document["results"]] == [*FREE, *PAID]
    assert rows(backend) == {}  # a dry run writes nothing


def test_a_failed_sync_fails_the_step_and_still_gives_its_outputs(
    runner: ActionRunner, app: Path, tmp_path: Path
) -> None:
    job = runner.run(
        {
            "list": "free",
            "timeout": "2",
            "env-file": "ci.env",
            "convex-url": unused_loopback_url().removesuffix("/api/v1"),
            "deploy-key": "prod:nowhere|not-a-real-key-0123456789",
        },
        workspace=app,
        env=runner_env(tmp_path / "summary.md"),
    )
    assert job.step("Sync").returncode == 3, job.log()
    assert job.outputs["exit-code"] == "3"
    document = json.loads(Path(job.outputs["json-path"]).read_text(encoding="utf-8"))
    assert document["error"]["code"] in {"convex_unavailable", "convex_deadline"}
    assert "not-a-real-key" not in job.log()


# --- the pieces --------------------------------------------------------------------------------


@cache
def action_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("github_action", ACTION_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sync_arguments(**inputs: str) -> list[str]:
    environ = {f"INPUT_{name.upper()}": value for name, value in inputs.items()}
    arguments: list[str] = action_script().sync_arguments(environ)
    return arguments


def test_inputs_map_to_the_cli_flags() -> None:
    assert sync_arguments() == ["--json"]
    assert sync_arguments(list="all", catalog="false", dry_run="false") == ["--json", "--all"]
    assert sync_arguments(models="a/b, c/d\ne/f") == [
        "--json",
        *("--model", "a/b", "--model", "c/d", "--model", "e/f"),
    ]
    assert sync_arguments(catalog="true", dry_run="TRUE", timeout="60", max_cost_per_1m="5") == [
        "--json",
        "--catalog",
        "--dry-run",
        *("--timeout", "60", "--max-cost-per-1m", "5"),
    ]
    assert sync_arguments(env_file=".env.ci", config_dir="cfg") == [
        "--json",
        *("--env-file", ".env.ci", "--config-dir", "cfg"),
    ]


@pytest.mark.parametrize("inputs", [{"list": "everything"}, {"dry_run": "yes"}])
def test_an_input_the_cli_would_not_take_is_refused(inputs: dict[str, str]) -> None:
    with pytest.raises(action_script().ActionError):
        sync_arguments(**inputs)


def test_every_input_reaches_the_sync_step_through_the_environment() -> None:
    sync = next(step for step in ACTION["runs"]["steps"] if step.get("id") == "sync")
    mapped = {value: name for name, value in sync["env"].items()}
    for name in ACTION["inputs"]:
        if name == "python-version":
            continue
        variable = "INPUT_" + name.upper().replace("-", "_")
        assert mapped[f"${{{{ inputs.{name} }}}}"] == variable
    for step in ACTION["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), "no expression inside a script"


def test_every_runtime_dependency_is_pinned_in_the_lock_within_its_range() -> None:
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = {}
    for line in (REPO / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.lower().replace("_", "-")] = version
    for dependency in map(Requirement, project["dependencies"]):
        pinned = pins.get(dependency.name.lower().replace("_", "-"))
        assert pinned is not None, f"{dependency.name} is not pinned in requirements.lock"
        assert dependency.specifier.contains(pinned), f"{dependency.name}=={pinned}"


def test_the_venv_cache_key_follows_the_lock_and_every_source_of_the_wheel(tmp_path: Path) -> None:
    script = action_script()
    root = tmp_path / "action"
    for name in (*script.KEYED_FILES, "sync_client/cli.py", "convex/lib/limits.ts"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name, encoding="utf-8")
    key = script.cache_key(root)
    assert key.startswith(f"sync-models-venv-{sys.platform}-{platform.python_version()}-")
    (root / "sync_client" / "__pycache__").mkdir()
    (root / "sync_client" / "__pycache__" / "cli.cpython.pyc").write_bytes(b"bytecode")
    assert script.cache_key(root) == key  # compiled files are no source
    keys = {key}
    for changed in ("requirements.lock", "sync_client/cli.py", "convex/lib/limits.ts"):
        (root / changed).write_text("changed " + changed, encoding="utf-8")
        keys.add(script.cache_key(root))
    assert len(keys) == 4
