"""The real Convex CLI pushes this project into the local backend: `npx convex deploy` into a
backend started with an empty functions folder, then `sync-models` writes through what was
pushed, and `npx convex codegen` reproduces the committed `convex/_generated/` exactly.
Pushes whose schema rejects stored documents fail and leave code and data as they were."""

from __future__ import annotations

import filecmp
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.convex_cli import convex_project, deploy, run_convex_cli
from support.local_backend import REPO_ROOT, LocalBackend, start_local_backend
from support.openrouter_server import OpenRouterServer, load_snapshot
from typer.testing import CliRunner

from sync_client.cli import app
from sync_client.convex_store import ConvexStore
from sync_client.convex_types import ModelRow
from sync_client.settings import Secret

SNAPSHOT = "models-2025-12-02.json"
FREE = ["qwen/qwen3-coder:free", "google/gemma-3-27b-it:free"]
PING_MODULE = """import { query } from "./_generated/server";

export const ping = query({ args: {}, handler: async () => "pong" });
"""

cli = CliRunner()


@pytest.fixture
def empty_backend(tmp_path: Path) -> Iterator[LocalBackend]:
    """A local backend started on an empty functions folder: nothing to serve until a push."""
    functions = tmp_path / "empty-functions"
    functions.mkdir()
    with start_local_backend(functions_dir=functions) as backend:
        yield backend


def sync_free(backend: LocalBackend, openrouter: OpenRouterServer, config_dir: Path) -> str:
    openrouter.serve_snapshot(SNAPSHOT)
    config_dir.mkdir(exist_ok=True)
    entries = "\n".join(
        f'  {{ apiId: "{api_id}", rank: {n} }},' for n, api_id in enumerate(FREE, 1)
    )
    (config_dir / "topFreeModels.ts").write_text(
        f"export const TOP_FREE_MODELS = [\n{entries}\n] as const;\n"
    )
    (config_dir / "topPaidModels.ts").write_text("export const TOP_PAID_MODELS = [] as const;\n")
    result = cli.invoke(
        app,
        ["--free", "--config-dir", str(config_dir)],
        env={
            "CONVEX_URL": backend.url,
            "CONVEX_DEPLOY_KEY": backend.admin_key,
            "OPENROUTER_BASE_URL": openrouter.base_url,
        },
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def rows(backend: LocalBackend) -> dict[str, ModelRow]:
    with ConvexStore(backend.url, Secret(backend.admin_key), timeout_s=10) as store:
        return {row["apiIdentifier"]: row for row in store.list_models()}


def query(backend: LocalBackend, path: str) -> dict[str, Any]:
    response = httpx.post(
        f"{backend.url}/api/query",
        json={"path": path, "args": {}, "format": "json"},
        headers={"Authorization": f"Convex {backend.admin_key}"},
        timeout=10,
    )
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def module_hashes(backend: LocalBackend) -> list[dict[str, Any]]:
    """What the CLI reads before a push: the deployed modules and their hashes."""
    response = httpx.post(
        f"{backend.url}/api/get_config_hashes",
        json={},
        headers={"Authorization": f"Convex {backend.admin_key}"},
        timeout=10,
    )
    response.raise_for_status()
    hashes: list[dict[str, Any]] = response.json()["moduleHashes"]
    return hashes


def same_tree(left: Path, right: Path) -> bool:
    """Same file names and byte-identical contents, recursively."""
    comparison = filecmp.dircmp(left, right)
    if comparison.left_only or comparison.right_only or comparison.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(left, right, comparison.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(left / name, right / name) for name in comparison.common_dirs)


def test_deploy_into_an_empty_backend_then_sync_then_codegen_changes_nothing(
    empty_backend: LocalBackend, openrouter_server: OpenRouterServer, tmp_path: Path
) -> None:
    project = convex_project(tmp_path / "project")
    pushed = deploy(project, empty_backend)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert "Added table indexes:" in pushed.stderr
    assert "aiModels.by_api_identifier" in pushed.stderr
    assert f"Deployed Convex functions to {empty_backend.url}" in pushed.stderr

    stdout = sync_free(empty_backend, openrouter_server, tmp_path / "config")
    assert "[NEW] [FREE] qwen/qwen3-coder:free" in stdout
    stored = rows(empty_backend)
    assert sorted(stored) == sorted(FREE)
    models = {model["id"]: model for model in load_snapshot(SNAPSHOT)["data"]}
    for api_id, row in stored.items():
        assert row["modelName"] == models[api_id]["name"]
        assert row["contextWindow"] == models[api_id]["context_length"]
        assert row["isFree"] is True and row["isActive"] is False
        assert row["syncedFromOpenRouter"] is True

    # The CLI's own view of the deployment: every function with its validators.
    spec = run_convex_cli(project, empty_backend, "function-spec")
    assert spec.returncode == 0, spec.stderr
    functions = {f["identifier"]: f for f in json.loads(spec.stdout)["functions"]}
    upsert = functions["mutations/syncModels.js:upsertModel"]
    assert upsert["functionType"] == "Mutation" and upsert["visibility"] == {"kind": "internal"}
    assert upsert["args"]["value"]["apiIdentifier"] == {
        "fieldType": {"type": "string"},
        "optional": False,
    }

    generated = project / "convex" / "_generated"
    for child in generated.iterdir():
        child.unlink()
    codegen = run_convex_cli(project, empty_backend, "codegen", "--typecheck", "disable")
    assert codegen.returncode == 0, codegen.stdout + codegen.stderr
    assert same_tree(generated, REPO_ROOT / "convex" / "_generated"), (
        "committed convex/_generated/ is stale"
    )


def test_a_push_whose_schema_rejects_a_stored_row_or_a_dry_run_changes_nothing(
    empty_backend: LocalBackend, openrouter_server: OpenRouterServer, tmp_path: Path
) -> None:
    project = convex_project(tmp_path / "project")
    assert deploy(project, empty_backend).returncode == 0
    sync_free(empty_backend, openrouter_server, tmp_path / "config")
    before = rows(empty_backend)

    # The synced rows have no modelVersion; make it required, and add a function.
    validators = project / "convex" / "lib" / "validators.ts"
    original = validators.read_text()
    required = original.replace(
        "modelVersion: v.optional(v.string()),", "modelVersion: v.string(),", 1
    )
    assert required != original
    validators.write_text(required)
    (project / "convex" / "extra.ts").write_text(PING_MODULE)
    rejected = deploy(project, empty_backend, "--codegen", "disable")
    assert rejected.returncode != 0
    assert "Schema validation failed" in rejected.stderr
    assert 'in table "aiModels" does not match the schema' in rejected.stderr
    assert "Object is missing the required field `modelVersion`" in rejected.stderr
    assert rows(empty_backend) == before  # same documents, same ids
    missing = query(empty_backend, "extra:ping")
    assert missing["status"] == "error" and "Could not find function" in missing["errorMessage"]

    validators.write_text(original)
    dry_run = deploy(project, empty_backend, "--codegen", "disable", "--dry-run")
    assert dry_run.returncode == 0, dry_run.stderr
    assert "Would have deployed Convex functions" in dry_run.stderr
    assert query(empty_backend, "extra:ping")["status"] == "error"

    accepted = deploy(project, empty_backend, "--codegen", "disable")
    assert accepted.returncode == 0, accepted.stderr
    assert query(empty_backend, "extra:ping") == {
        "status": "success",
        "value": "pong",
        "logLines": [],
    }
    assert rows(empty_backend) == before


def test_a_state_file_backend_restarted_after_a_push_serves_the_pushed_code(
    openrouter_server: OpenRouterServer, tmp_path: Path
) -> None:
    functions = tmp_path / "empty-functions"
    functions.mkdir()
    state = tmp_path / "state.json"
    project = convex_project(tmp_path / "project")
    (project / "convex" / "extra.ts").write_text(PING_MODULE)
    args = ("--state-file", str(state))
    with start_local_backend(functions_dir=functions, extra_args=args) as backend:
        assert deploy(project, backend, "--codegen", "disable").returncode == 0
        sync_free(backend, openrouter_server, tmp_path / "config")
        before = rows(backend)
        hashes = module_hashes(backend)
    assert "extra.js" in {module["path"] for module in hashes}

    with start_local_backend(functions_dir=functions, extra_args=args) as restarted:
        assert query(restarted, "extra:ping")["value"] == "pong"
        after = rows(restarted)
        assert sorted(after) == sorted(before)
        for api_id, row in after.items():
            assert {k: v for k, v in row.items() if not k.startswith("_")} == {
                k: v for k, v in before[api_id].items() if not k.startswith("_")
            }
        # The upsert finds rows through the pushed schema's by_api_identifier index.
        assert "[UPD] [FREE] qwen/qwen3-coder:free" in sync_free(
            restarted, openrouter_server, tmp_path / "config"
        )
        again = module_hashes(restarted)
        assert again == hashes
        # `npx convex dev --once` (what `dev` does on every save): nothing changed since
        # the push, so the CLI sends every module as unchanged and no index is added.
        dev = run_convex_cli(
            project, restarted, "dev", "--once", "--typecheck", "disable", "--codegen", "disable"
        )
        assert dev.returncode == 0, dev.stderr
        assert "Convex functions ready!" in dev.stderr
        assert "Added table indexes" not in dev.stderr
        assert module_hashes(restarted) == hashes


# Features the local backend refuses, and code that cannot load: error code and message.
UNSUPPORTED = {
    "node action": (
        {
            "nodeStuff.ts": '"use node";\nimport { action } from "./_generated/server";\n'
            'export const hi = action({ args: {}, handler: async () => "hi" });\n'
        },
        'UnsupportedFeature: nodeStuff.js is a "use node" module: Node.js actions',
    ),
    "http action": (
        {"http.ts": 'import { httpRouter } from "convex/server";\nexport default httpRouter();\n'},
        "UnsupportedFeature: http.js: HTTP actions are not supported",
    ),
    "component": (
        {
            "comp/convex.config.ts": 'import { defineComponent } from "convex/server";\n'
            'export default defineComponent("comp");\n',
            "convex.config.ts": 'import { defineApp } from "convex/server";\n'
            'import comp from "./comp/convex.config";\n'
            "const app = defineApp();\napp.use(comp);\nexport default app;\n",
        },
        "UnsupportedFeature: Components (convex.config.ts) are not supported",
    ),
    "module failing at import": (
        {"broken.ts": 'throw new Error("boom at import");\nexport const x = 1;\n'},
        "BadPush: Failed to analyze broken.js: boom at import",
    ),
}


@pytest.mark.parametrize("feature", sorted(UNSUPPORTED))
def test_a_push_the_backend_cannot_take_fails_with_a_clear_message(
    empty_backend: LocalBackend, tmp_path: Path, feature: str
) -> None:
    files, message = UNSUPPORTED[feature]
    project = convex_project(tmp_path / "project")
    for name, text in files.items():
        (project / "convex" / name).parent.mkdir(parents=True, exist_ok=True)
        (project / "convex" / name).write_text(text)
    result = deploy(project, empty_backend, "--codegen", "disable")
    assert result.returncode != 0
    assert f"400 Bad Request: {message}" in result.stderr
    assert "Unexpected Error" not in result.stderr
    assert module_hashes(empty_backend) == []


def test_the_push_endpoints_need_the_admin_key_and_a_push_body(backend: LocalBackend) -> None:
    for path in ("/api/get_config_hashes", "/api/deploy2/start_push", "/api/deploy2/finish_push"):
        anonymous = httpx.post(f"{backend.url}{path}", json={}, timeout=10)
        assert anonymous.status_code == 401, path
        assert anonymous.json()["code"] == "BadAdminKey"
    admin = {"Authorization": f"Convex {backend.admin_key}"}
    empty = httpx.post(f"{backend.url}/api/deploy2/start_push", json={}, headers=admin, timeout=10)
    assert empty.status_code == 400
    assert empty.json() == {"code": "BadPush", "message": "start_push needs an appDefinition"}
    stale = httpx.post(
        f"{backend.url}/api/deploy2/finish_push",
        json={"startPush": {"schemaChange": {"schemaIds": {"": "not-a-push"}}}, "dryRun": False},
        headers=admin,
        timeout=10,
    )
    assert stale.status_code == 400
    assert stale.json()["code"] == "RaceDetected"
    # A backend started on a functions folder has pushed nothing yet.
    assert module_hashes(backend) == []
