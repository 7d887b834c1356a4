"""Upgrading from the original TypeScript sync: its rows, this project's push, one sync.

A local backend starts empty; the real Convex CLI deploys the original app
(tests/fixtures/original_app/convex), whose functions write its rows; `npx convex deploy`
then pushes this project's `convex/` over the same data, and the real CLI (`python -m
sync_client --all`, a subprocess) syncs from a loopback OpenRouter. Every row is then read back
over the backend's HTTP API and checked field by field against the tests' own oracle
(support/expected_rows.py: Decimal, independently of sync_client.mapping).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from support.convex_admin import AdminClient
from support.convex_cli import convex_project, deploy
from support.env_fixtures import clean_environment
from support.expected_rows import expected_row
from support.local_backend import REPO_ROOT, LocalBackend, start_local_backend
from support.openrouter_server import OpenRouterServer

ORIGINAL_APP = REPO_ROOT / "tests" / "fixtures" / "original_app" / "convex"
ADMIN_KEY = "upgrade-test|" + secrets.token_hex(16)
# Assigned by the backend; a push and a sync keep them.
SYSTEM_FIELDS = ("_id", "_creationTime")
# What a sync never changes on a row it updates.
KEPT_FIELDS = (*SYSTEM_FIELDS, "apiIdentifier", "isActive", "modelVersion")

ROUTER = "openrouter/auto"
SONNET = "anthropic/claude-sonnet-4.5"
FLASH_LITE = "google/gemini-2.5-flash-lite"
PREVIEW = "acme/preview-1"  # listed without prices: unknown, not free
GROK = "x-ai/grok-4.1-fast"  # two rows, from two overlapping runs of the old sync
CODER = "qwen/qwen3-coder:free"
RETIRED = "meta-llama/llama-3-8b-instruct"  # synced once, in no list now, gone from OpenRouter
MISTRAL = "mistralai/mistral-small-3.1-24b-instruct"  # listed by OpenRouter, ranked by nobody
PAID = [SONNET, FLASH_LITE, GROK, ROUTER, PREVIEW]
FREE = [CODER]


def model(
    api_id: str,
    name: str,
    *,
    prompt: str | None,
    completion: str | None,
    context: int | None,
    max_completion: int | None = None,
    description: str | None = None,
    created: int = 1_750_000_000,
) -> dict[str, Any]:
    """An OpenRouter list entry; a price of None is a key OpenRouter left out."""
    pricing = {"prompt": prompt, "completion": completion}
    return {
        "id": api_id,
        "canonical_slug": api_id,
        "name": name,
        "created": created,
        "description": description,
        "context_length": context,
        "architecture": {"modality": "text->text", "tokenizer": "Other"},
        "pricing": {key: value for key, value in pricing.items() if value is not None},
        "top_provider": {"context_length": context, "max_completion_tokens": max_completion},
        "supported_parameters": ["max_tokens"],
    }


# What OpenRouter listed when the original sync last ran ...
THEN = {
    ROUTER: model(ROUTER, "Auto Router", prompt="-1", completion="-1", context=2_000_000),
    SONNET: model(
        SONNET,
        "Anthropic: Claude Sonnet 4.5",
        prompt="0.000003",
        completion="0.000015",
        context=200_000,
        max_completion=64_000,
        description="Sonnet, as first listed.",
    ),
    FLASH_LITE: model(
        FLASH_LITE,
        "Google: Gemini 2.5 Flash Lite",
        prompt="0.0000001",
        completion="0.0000004",
        context=1_048_576,
        max_completion=65_535,
        description="Flash Lite.",
    ),
    PREVIEW: model(PREVIEW, "Acme: Preview 1", prompt=None, completion=None, context=32_768),
    GROK: model(
        GROK,
        "xAI: Grok 4.1 Fast",
        prompt="0.0000002",
        completion="0.0000005",
        context=2_000_000,
        max_completion=30_000,
        description="Grok, as first listed.",
    ),
    CODER: model(CODER, "Qwen: Qwen3 Coder (free)", prompt="0", completion="0", context=262_000),
    RETIRED: model(
        RETIRED,
        "Meta: Llama 3 8B Instruct",
        prompt="0.00000003",
        completion="0.00000006",
        context=8_192,
    ),
}
# ... and what it lists today, when sync-models runs.
NOW = [
    THEN[ROUTER],
    {
        **THEN[SONNET],
        "context_length": 1_000_000,
        "description": "Sonnet, today.",
        "top_provider": {"context_length": 1_000_000, "max_completion_tokens": None},
    },
    {**THEN[FLASH_LITE], "pricing": {"prompt": "0.0000002", "completion": "0.0000004"}},
    {**THEN[PREVIEW], "pricing": {"prompt": "", "completion": ""}},
    {**THEN[GROK], "description": "Grok, today.", "context_length": 2_000_000},
    THEN[CODER],
    model(
        MISTRAL,
        "Mistral: Mistral Small 3.1 24B",
        prompt="0.00000005",
        completion="0.0000001",
        context=128_000,
    ),
]
HAND_MADE = [
    # A model the app calls directly, not through OpenRouter.
    {
        "provider": "openai",
        "modelName": "GPT-4o (direct)",
        "apiIdentifier": "gpt-4o",
        "isActive": True,
        "inputCostPer1MTokens": 2.5,
        "outputCostPer1MTokens": 10.0,
    },
    # An OpenRouter id that no ranked list names.
    {
        "provider": "mistralai",
        "modelName": "Our Mistral",
        "apiIdentifier": MISTRAL,
        "modelVersion": "2503",
        "isActive": True,
        "isFree": True,
    },
]


# --- the deployment ---------------------------------------------------------------------------


def deploy_app(backend: LocalBackend, functions_dir: Path, project_dir: Path) -> None:
    """`npx convex deploy -y` of `functions_dir` (as a Convex app's `convex/`) into `backend`."""
    pushed = deploy(convex_project(project_dir, functions_dir), backend)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr


def write_original_rows(backend: LocalBackend) -> None:
    """The old sync's runs and a person's edits, through the original app's own functions."""
    deployment = AdminClient(backend)
    try:
        saved = {
            api_id: deployment.call(
                "mutation", "openRouterSync:saveModel", {"model": original_view(THEN[api_id])}
            )
            for api_id in (RETIRED, CODER, SONNET, FLASH_LITE, ROUTER, PREVIEW, GROK)
        }
        # A second run, overlapping the first, inserted Grok again.
        grok_again = deployment.call(
            "mutation", "openRouterSync:insertModel", {"model": original_view(THEN[GROK])}
        )
        for row_id in (saved[SONNET], saved[PREVIEW], grok_again):  # a person turned these on
            deployment.call("mutation", "dashboard:setActive", {"id": row_id, "isActive": True})
        for row in HAND_MADE:
            deployment.call("mutation", "dashboard:addRow", row)
    finally:
        deployment.close()


def original_view(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a list entry the old sync read (its argument validator takes only these)."""
    view = {key: entry[key] for key in ("id", "name", "created", "context_length", "pricing")}
    if entry.get("description") is not None:
        view["description"] = entry["description"]
    view["top_provider"] = {"max_completion_tokens": entry["top_provider"]["max_completion_tokens"]}
    return view


def run_cli(
    args: Sequence[str], env: Mapping[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync_client", *args],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write_list(path: Path, constant: str, ids: Sequence[str]) -> None:
    entries = "\n".join(f"  {{ apiId: {json.dumps(i)}, rank: {n} }}," for n, i in enumerate(ids, 1))
    path.write_text(f"// test list\nexport const {constant} = [\n{entries}\n] as const;\n")


# --- expected values, computed here -----------------------------------------------------------


def synced_metadata(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What a row synced from `entry` holds besides apiIdentifier, isActive and modelVersion;
    a value OpenRouter does not know is absent."""
    known = {key: value for key, value in expected_row(entry).items() if value is not None}
    return {**known, "syncedFromOpenRouter": True}


def without(row: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key not in keys}


def by_id(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """apiIdentifier → its rows, oldest first."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(str(row["apiIdentifier"]), []).append(dict(row))
    return grouped


# --- the scenario -----------------------------------------------------------------------------


def test_one_sync_converges_the_original_syncs_rows(
    tmp_path: Path, openrouter_server: OpenRouterServer
) -> None:
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    write_list(config_dir / "topPaidModels.ts", "TOP_PAID_MODELS", PAID)
    write_list(config_dir / "topFreeModels.ts", "TOP_FREE_MODELS", FREE)
    openrouter_server.serve_json({"data": NOW})

    empty = tmp_path / "empty-functions"
    empty.mkdir()
    with contextlib.ExitStack() as stack:
        deployment = stack.enter_context(
            start_local_backend(functions_dir=empty, admin_key=ADMIN_KEY)
        )
        deploy_app(deployment, ORIGINAL_APP, tmp_path / "original-app")
        write_original_rows(deployment)
        deploy_app(deployment, REPO_ROOT / "convex", tmp_path / "this-project")
        database = AdminClient(deployment)
        stack.callback(database.close)
        before = by_id(database.rows())

        # The old sync's mistakes are there to be fixed (this project's push accepted them).
        assert before[ROUTER][0]["inputCostPer1MTokens"] == -1_000_000
        assert before[ROUTER][0]["isFree"] is True
        assert before[PREVIEW][0]["isFree"] is True
        assert before[FLASH_LITE][0]["outputCostPer1MTokens"] == 0.39999999999999997
        assert before[SONNET][0]["maxCompletionTokens"] == 64_000
        assert [row["isActive"] for row in before[GROK]] == [False, True]
        assert "syncedFromOpenRouter" not in before["gpt-4o"][0]

        started_ms = time.time() * 1000
        env = clean_environment(
            tmp_path,
            CONVEX_URL=deployment.url,
            CONVEX_DEPLOY_KEY=ADMIN_KEY,
            OPENROUTER_BASE_URL=openrouter_server.base_url,
        )
        sync = ["--all", "--json", "--config-dir", str(config_dir)]
        dry_run = run_cli([*sync, "--dry-run"], env, tmp_path)
        after_dry_run = by_id(database.rows())
        run = run_cli(sync, env, tmp_path)
        after = by_id(database.rows())
        # Turning a model off turns off each of its rows, the person's duplicate too.
        deactivate = run_cli(["deactivate", GROK], env, tmp_path)
        grok_deactivated = by_id(database.rows())[GROK]

    # What the docs say to run first: it shows the corrections and writes nothing.
    assert dry_run.returncode == 0, dry_run.stderr
    assert after_dry_run == before
    plan = {item["apiId"]: item for item in json.loads(dry_run.stdout)["results"]}
    assert {"field": "inputCostPer1MTokens", "before": -1_000_000, "after": None} in plan[ROUTER][
        "changes"
    ]
    assert {"field": "isFree", "before": True, "after": False} in plan[PREVIEW]["changes"]

    assert run.returncode == 0, run.stderr
    for done in (dry_run, run, deactivate):
        assert ADMIN_KEY.rpartition("|")[2] not in done.stdout + done.stderr  # the key's secret
    report = json.loads(run.stdout)
    assert report["summary"]["updated"] == len(PAID) + len(FREE)
    assert report["summary"]["inserted"] == report["summary"]["errors"] == 0
    assert [item["apiId"] for item in report["stale"]] == [RETIRED]

    now = {entry["id"]: entry for entry in NOW}
    assert sorted(after) == sorted(before)
    for api_id in PAID + FREE:
        assert len(after[api_id]) == len(before[api_id]), api_id
        for old, new in zip(before[api_id], after[api_id], strict=True):
            # Ranked: metadata exactly today's OpenRouter's, the old sync's extras cleared;
            # the person's isActive (and modelVersion, were there one) kept, row by row.
            kept = {key: old[key] for key in KEPT_FIELDS if key in old}
            expected: dict[str, Any] = {**kept, **synced_metadata(now[api_id])}
            assert without(new, "updatedAt") == expected, api_id
            assert new["updatedAt"] >= started_ms - 1000, api_id
    for api_id in ("gpt-4o", MISTRAL, RETIRED):
        # Not ranked: untouched, field by field (ids and updatedAt included).
        assert after[api_id] == before[api_id], api_id

    # The upgrade's point, spelled out: no negative price, no unknown price counted as free.
    assert "inputCostPer1MTokens" not in after[ROUTER][0]
    assert after[ROUTER][0]["isFree"] is False
    assert after[PREVIEW][0]["isFree"] is False
    assert after[PREVIEW][0]["isActive"] is True
    assert after[FLASH_LITE][0]["outputCostPer1MTokens"] == 0.4
    assert "maxCompletionTokens" not in after[SONNET][0]
    assert after[SONNET][0]["isActive"] is True
    assert [row["isActive"] for row in after[GROK]] == [False, True]
    assert {row["description"] for row in after[GROK]} == {"Grok, today."}

    assert deactivate.returncode == 0, deactivate.stderr
    assert [without(row, "isActive") for row in grok_deactivated] == [
        without(row, "isActive") for row in after[GROK]
    ]
    assert [row["isActive"] for row in grok_deactivated] == [False, False]
