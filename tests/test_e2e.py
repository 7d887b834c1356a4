"""Whole runs through the real CLI: loopback OpenRouter serving real snapshots → mapping →
the official convex SDK → the local backend; rows are read back and checked field by field
against values computed here, independently of sync_client.mapping."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest
from support.expected_rows import expected_row
from support.openrouter_server import (
    Delay,
    OpenRouterServer,
    Respond,
    load_snapshot,
    unused_loopback_url,
)
from typer.testing import CliRunner, Result

from sync_client.cli import app
from sync_client.convex_store import ConvexStore
from sync_client.convex_types import ModelRow
from sync_client.settings import Secret

OLD_SNAPSHOT = "models-2025-05-23.json"
NEW_SNAPSHOT = "models-2025-12-02.json"
PAID = ["anthropic/claude-sonnet-4.5", "x-ai/grok-code-fast-1", "openrouter/auto"]
# deepseek/deepseek-r1-0528:free is in neither snapshot: a ranked id OpenRouter no longer lists.
VANISHED = "deepseek/deepseek-r1-0528:free"
FREE = ["qwen/qwen3-coder:free", VANISHED, "google/gemma-3-27b-it:free"]
SYNCED_FIELDS = (
    "modelName",
    "provider",
    "slug",
    "contextWindow",
    "isFree",
    "inputCostPer1MTokens",
    "outputCostPer1MTokens",
    "maxCompletionTokens",
    "description",
    "openRouterCreatedAt",
)

runner = CliRunner()


def write_list(path: Path, constant: str, ids: Sequence[str]) -> None:
    entries = "\n".join(f'  {{ apiId: "{api_id}", rank: {n} }},' for n, api_id in enumerate(ids, 1))
    path.write_text(f"// test list\nexport const {constant} = [\n{entries}\n] as const;\n")


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Ranked lists of our own, in a directory without any .env.local."""
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "config"
    directory.mkdir()
    write_list(directory / "topPaidModels.ts", "TOP_PAID_MODELS", PAID)
    write_list(directory / "topFreeModels.ts", "TOP_FREE_MODELS", FREE)
    return directory


def deploy_key(backend: Any) -> Secret:
    key = backend.admin_key
    return key if isinstance(key, Secret) else Secret(str(key))


class Harness:
    """Runs `sync-models` against one backend and one loopback OpenRouter."""

    def __init__(self, backend: Any, openrouter: OpenRouterServer, config_dir: Path) -> None:
        self.backend = backend
        self.openrouter = openrouter
        self.config_dir = config_dir
        self.key = deploy_key(backend)
        self.env = {
            "CONVEX_URL": backend.url,
            "CONVEX_DEPLOY_KEY": self.key.reveal(),
            "OPENROUTER_BASE_URL": openrouter.base_url,
        }

    def run(self, *args: str, **env: str) -> Result:
        result = runner.invoke(
            app,
            [*args, "--config-dir", str(self.config_dir)],
            env={**self.env, **env},
        )
        assert self.key.reveal() not in result.output
        assert self.key.reveal().rpartition("|")[2] not in result.output
        assert "Traceback" not in result.output
        return result

    def rows(self) -> dict[str, ModelRow]:
        with ConvexStore(self.backend.url, self.key, timeout_s=10) as store:
            return {row["apiIdentifier"]: row for row in store.list_models()}

    def set_active(self, api_id: str, is_active: bool) -> None:
        with ConvexStore(self.backend.url, self.key, timeout_s=10) as store:
            store.set_active(api_id, is_active)


@pytest.fixture
def harness(backend: Any, openrouter_server: OpenRouterServer, config_dir: Path) -> Harness:
    openrouter_server.serve_snapshot(NEW_SNAPSHOT)
    return Harness(backend, openrouter_server, config_dir)


# --- expected values, computed independently ------------------------------------------------


def snapshot_model(snapshot: str, api_id: str) -> dict[str, Any]:
    models: list[dict[str, Any]] = load_snapshot(snapshot)["data"]
    (model,) = [m for m in models if m["id"] == api_id]
    return model


def assert_row_matches(row: ModelRow, snapshot: str) -> None:
    expected = expected_row(snapshot_model(snapshot, row["apiIdentifier"]))
    for name in SYNCED_FIELDS:
        assert row.get(name) == expected[name], (row["apiIdentifier"], name)
    assert row["syncedFromOpenRouter"] is True


# --- runs --------------------------------------------------------------------------------------


def test_all_lists_sync_each_listed_model_and_report_the_vanished_one(harness: Harness) -> None:
    result = harness.run("--all", "--json")
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    assert document["summary"] == {
        "listSynced": "all",
        "total": 6,
        "inserted": 5,
        "updated": 0,
        "errors": 1,
        "free": 2,
        "paid": 3,
        "dryRun": False,
        "unanswered": 0,
        "notAttempted": 0,
    }
    assert [(r["apiId"], r["rank"], r.get("action")) for r in document["results"]] == [
        ("anthropic/claude-sonnet-4.5", 1, "inserted"),
        ("x-ai/grok-code-fast-1", 2, "inserted"),
        ("openrouter/auto", 3, "inserted"),
        ("qwen/qwen3-coder:free", 1, "inserted"),
        (VANISHED, 2, None),
        ("google/gemma-3-27b-it:free", 3, "inserted"),
    ]
    assert document["results"][4]["error"] == "not listed by OpenRouter"
    assert harness.openrouter.request_count == 1

    rows = harness.rows()
    assert sorted(rows) == sorted(api_id for api_id in PAID + FREE if api_id != VANISHED)
    for row in rows.values():
        assert_row_matches(row, NEW_SNAPSHOT)
        assert row["isActive"] is False
    # The router's "-1" price is no price: nothing stored, and not free.
    assert "inputCostPer1MTokens" not in rows["openrouter/auto"]
    assert rows["openrouter/auto"]["isFree"] is False
    assert rows["x-ai/grok-code-fast-1"]["inputCostPer1MTokens"] == 0.2


def test_human_output_lists_each_model_and_progress_goes_to_stderr(harness: Harness) -> None:
    result = harness.run("--free")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "✅ Sync complete!"
    assert "   List synced: free" in lines and "   Errors: 1" in lines
    assert "   Inserted: 2" in lines and "   Free: 2" in lines and "   Paid: 0" in lines
    assert lines[-3:] == [
        "[NEW] [FREE] qwen/qwen3-coder:free",
        f"[ERR] {VANISHED} — not listed by OpenRouter",
        "[NEW] [FREE] google/gemma-3-27b-it:free",
    ]
    assert "upserting qwen/qwen3-coder:free" in result.stderr


def test_a_rerun_updates_and_keeps_each_persons_active_flag(harness: Harness) -> None:
    assert harness.run("--paid").exit_code == 0
    harness.set_active("anthropic/claude-sonnet-4.5", True)
    harness.set_active("x-ai/grok-code-fast-1", True)
    harness.set_active("x-ai/grok-code-fast-1", False)

    harness.openrouter.serve_snapshot(OLD_SNAPSHOT)  # openrouter/auto is the only one listed
    result = harness.run("--paid", "--json")
    assert result.exit_code == 1
    actions = {r["apiId"]: r.get("action") for r in json.loads(result.stdout)["results"]}
    assert actions == {
        "anthropic/claude-sonnet-4.5": None,
        "x-ai/grok-code-fast-1": None,
        "openrouter/auto": "updated",
    }
    harness.openrouter.serve_snapshot(NEW_SNAPSHOT)
    result = harness.run("--paid")
    assert result.exit_code == 0
    assert "[UPD] [PAID] anthropic/claude-sonnet-4.5" in result.stdout
    rows = harness.rows()
    assert rows["anthropic/claude-sonnet-4.5"]["isActive"] is True
    assert rows["x-ai/grok-code-fast-1"]["isActive"] is False
    assert rows["openrouter/auto"]["isActive"] is False
    for row in rows.values():
        assert_row_matches(row, NEW_SNAPSHOT)


def test_dry_run_shows_the_changes_and_writes_nothing(harness: Harness) -> None:
    empty = harness.run("--free", "--dry-run", "--json")
    assert empty.exit_code == 1
    assert {r.get("action") for r in json.loads(empty.stdout)["results"]} == {"insert", None}
    assert harness.rows() == {}

    harness.openrouter.serve_snapshot(OLD_SNAPSHOT)
    assert harness.run("--model", "google/gemma-3-27b-it:free").exit_code == 0
    before = harness.rows()
    harness.openrouter.serve_snapshot(NEW_SNAPSHOT)
    result = harness.run("--model", "google/gemma-3-27b-it:free", "--dry-run")
    assert result.exit_code == 0
    assert harness.rows() == before

    old = expected_row(snapshot_model(OLD_SNAPSHOT, "google/gemma-3-27b-it:free"))
    new = expected_row(snapshot_model(NEW_SNAPSHOT, "google/gemma-3-27b-it:free"))
    changed = sorted(name for name in SYNCED_FIELDS if old[name] != new[name])
    assert "contextWindow" in changed
    assert result.stdout.startswith("🔎 Dry run — nothing was written")
    assert "[UPD] [FREE] google/gemma-3-27b-it:free — would update" in result.stdout
    shown = re.findall(r"^      (\w+): .+ → .+$", result.stdout, flags=re.MULTILINE)
    assert sorted(shown) == changed
    assert f"contextWindow: {old['contextWindow']} → {new['contextWindow']}" in result.stdout


def test_model_ids_alone_sync_only_those(harness: Harness) -> None:
    result = harness.run("--model", "x-ai/grok-code-fast-1", "--model", "openrouter/auto", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["summary"]["listSynced"] == "--model"
    assert [(r["apiId"], r["rank"], r["listName"]) for r in document["results"]] == [
        ("x-ai/grok-code-fast-1", None, "extra"),
        ("openrouter/auto", None, "extra"),
    ]
    assert sorted(harness.rows()) == ["openrouter/auto", "x-ai/grok-code-fast-1"]


def test_an_openrouter_failure_writes_nothing_and_exits_3(harness: Harness) -> None:
    harness.openrouter.enqueue(Respond.error(401, "No auth credentials found"))
    result = harness.run("--all")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "\nerror: OpenRouter" in result.stderr and "No auth credentials found" in result.stderr
    assert harness.rows() == {}

    harness.openrouter.enqueue(Respond.error(403, "Forbidden"))
    as_json = harness.run("--all", "--json")
    assert as_json.exit_code == 3
    assert json.loads(as_json.stdout)["error"]["code"] == "openrouter"


@pytest.mark.parametrize("failure", ["unreachable", "wrong key"])
def test_an_unreachable_or_refusing_convex_exits_3_within_the_timeout(
    harness: Harness, failure: str
) -> None:
    env = (
        {"CONVEX_URL": unused_loopback_url().removesuffix("/api/v1")}
        if failure == "unreachable"
        else {"CONVEX_DEPLOY_KEY": "prod:elsewhere|bm90LXRoZS1yaWdodC1rZXktYXQtYWxs"}
    )
    result = harness.run("--paid", "--timeout", "1", **env)
    assert result.exit_code == 3
    assert "error: cannot reach or authenticate to 127.0.0.1:" in result.stderr
    if failure == "wrong key":
        assert "within 1 s" in result.stderr
    assert "stopped early" in result.stdout and "Not attempted: 3" in result.stdout
    assert "bm90LXRoZS1yaWdodC1rZXktYXQtYWxs" not in result.output
    assert harness.rows() == {}


def test_a_failing_function_is_each_models_error_not_a_crash(harness: Harness) -> None:
    harness.backend.set_faults(failFunctions={"mutations/syncModels:upsertModel": "disk on fire"})
    result = harness.run("--paid", "--json")
    assert result.exit_code == 1
    results = json.loads(result.stdout)["results"]
    assert [r["apiId"] for r in results] == PAID
    assert all("disk on fire" in r["error"] for r in results)


def test_local_runs_a_throwaway_backend_and_shows_its_rows(
    openrouter_server: OpenRouterServer, config_dir: Path
) -> None:
    openrouter_server.serve_snapshot(NEW_SNAPSHOT)
    before = {child.pid for child in psutil.Process().children(recursive=True)}
    result = runner.invoke(
        app,
        ["--local", "--model", "x-ai/grok-code-fast-1", "--config-dir", str(config_dir)],
        env={"OPENROUTER_BASE_URL": openrouter_server.base_url},
    )
    assert result.exit_code == 0, result.output
    assert "[NEW] [PAID] x-ai/grok-code-fast-1" in result.stdout
    table = result.stdout.split("Rows in the local backend:\n", 1)[1].splitlines()
    assert table[0].split()[:3] == ["model", "active", "free"]
    assert table[1].split() == ["x-ai/grok-code-fast-1", "no", "no", "0.2", "1.5", "256000"]
    after = {child.pid for child in psutil.Process().children(recursive=True)}
    assert after <= before  # the backend (npm and node) is gone


def test_a_killed_local_run_leaves_no_backend_behind(
    openrouter_server: OpenRouterServer, config_dir: Path
) -> None:
    openrouter_server.enqueue(Delay(30))  # the CLI waits on OpenRouter, its backend running
    cli = subprocess.Popen(
        [sys.executable, "-m", "sync_client", "--local", "--model", "x/y"],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "OPENROUTER_BASE_URL": openrouter_server.base_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while openrouter_server.request_count == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert openrouter_server.request_count == 1, "the CLI never asked OpenRouter"
        backend = psutil.Process(cli.pid).children(recursive=True)
        assert backend, "no local backend was started"
    finally:
        cli.kill()  # SIGKILL: no cleanup code of the CLI runs
        cli.wait()
    gone, alive = psutil.wait_procs(backend, timeout=10)
    for orphan in alive:
        orphan.kill()
    assert alive == [], f"orphaned local backend processes: {alive}"
    assert gone


def test_a_malformed_model_is_its_own_error_and_the_others_sync(harness: Harness) -> None:
    snapshot = load_snapshot(NEW_SNAPSHOT)
    for model in snapshot["data"]:
        if model["id"] == "anthropic/claude-sonnet-4.5":
            model["pricing"]["prompt"] = 3e-06  # ranked: its own error
        elif model["id"] == "openai/gpt-4o":
            model["context_length"] = "128000"  # unranked: simply not used
    harness.openrouter.serve_json(snapshot)

    result = harness.run("--paid", "--json")

    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["summary"]["errors"] == 1
    assert document["summary"]["inserted"] == 2
    failed, *synced = document["results"]
    assert failed == {
        "apiId": "anthropic/claude-sonnet-4.5",
        "rank": 1,
        "listName": "paid",
        "error": "OpenRouter's data for this model has an unexpected shape: "
        "pricing.prompt: expected a string, got 3e-06",
    }
    assert [(r["apiId"], r["action"]) for r in synced] == [(i, "inserted") for i in PAID[1:]]
    rows = harness.rows()
    assert sorted(rows) == sorted(PAID[1:])
    for row in rows.values():
        assert_row_matches(row, NEW_SNAPSHOT)
    assert "anthropic/claude-sonnet-4.5: OpenRouter's data for this model" in result.stderr
