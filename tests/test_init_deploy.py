"""`sync-models init` end to end, on three apps that already hold data: a copy of the original
app (tests/fixtures/original_app), a minimal app with no `aiModels` table, and an app whose
`aiModels` a person extended (a field and an index of their own).

For each: a local backend starts empty; the real Convex CLI deploys the app as it was and the
app's own functions write its rows; then `sync-models init`, `npx convex deploy` with the
TypeScript check on, `init` again (nothing changes), `sync-models doctor` (exit 0) and an
`--all` sync from a loopback OpenRouter. Row ids and `isActive` are kept, the app's other
table is untouched, the person's field survives, and history is recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from support.convex_admin import AdminClient
from support.convex_cli import convex_project, deploy
from support.local_backend import REPO_ROOT, start_local_backend
from support.openrouter_server import OpenRouterServer

ORIGINAL_APP = REPO_ROOT / "tests" / "fixtures" / "original_app" / "convex"
ADMIN_KEY = "init-test|" + secrets.token_hex(16)
SNAPSHOT = "models-2025-12-02.json"
SONNET = "anthropic/claude-sonnet-4.5"
GROK = "x-ai/grok-code-fast-1"
CODER = "qwen/qwen3-coder:free"
PAID = [SONNET, GROK]
FREE = [CODER]

# The app's other table, and the functions a person uses in the dashboard: a module every
# test app gets (its rows reference aiModels ids where the app has that table).
NOTES_MODULE = """import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";

export const add = internalMutation({
  args: { body: v.string() },
  returns: v.id("notes"),
  handler: async (ctx, args) => await ctx.db.insert("notes", args),
});

export const list = internalQuery({
  args: {},
  handler: async (ctx) => await ctx.db.query("notes").collect(),
});
"""
NOTES_TABLE = "  notes: defineTable({ body: v.string() }),\n"
ROWS_MODULE = """import { v } from "convex/values";
import { internalMutation, internalQuery } from "./_generated/server";

export const add = internalMutation({
  args: { row: v.any() },
  handler: async (ctx, { row }) => await ctx.db.insert("aiModels", row),
});

export const list = internalQuery({
  args: {},
  handler: async (ctx) => await ctx.db.query("aiModels").collect(),
});
"""
MINIMAL_SCHEMA = """import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
NOTES_TABLE});
""".replace("NOTES_TABLE", NOTES_TABLE)
EXTENDED_SCHEMA = """import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
NOTES_TABLE  aiModels: defineTable({
    provider: v.string(),
    modelName: v.string(),
    apiIdentifier: v.string(),
    isActive: v.boolean(),
    team: v.optional(v.string()),
  })
    .index("by_api_identifier", ["apiIdentifier"])
    .index("by_team", ["team"]),
});
""".replace("NOTES_TABLE", NOTES_TABLE)
SEED_ROWS = [
    # A person turned this one on; the sync must keep that and its id.
    {
        "provider": "anthropic",
        "modelName": "Claude (typed in)",
        "apiIdentifier": SONNET,
        "isActive": True,
    },
    # Not on OpenRouter at all: the sync leaves it alone.
    {
        "provider": "openai",
        "modelName": "GPT-4o (direct)",
        "apiIdentifier": "gpt-4o",
        "isActive": True,
    },
]


def original_app(folder: Path) -> tuple[Path, list[dict[str, Any]]]:
    """A copy of the original app, with a notes table beside aiModels."""
    shutil.copytree(ORIGINAL_APP, folder, ignore=shutil.ignore_patterns("_generated"))
    schema = folder / "schema.ts"
    text = schema.read_text()
    schema.write_text(
        text.replace(
            "export default defineSchema({\n", "export default defineSchema({\n" + NOTES_TABLE
        )
    )
    return folder, SEED_ROWS


def minimal_app(folder: Path) -> tuple[Path, list[dict[str, Any]]]:
    folder.mkdir()
    (folder / "schema.ts").write_text(MINIMAL_SCHEMA)
    return folder, []


def extended_app(folder: Path) -> tuple[Path, list[dict[str, Any]]]:
    folder.mkdir()
    (folder / "schema.ts").write_text(EXTENDED_SCHEMA)
    rows = [
        {key: row[key] for key in ("provider", "modelName", "apiIdentifier", "isActive")}
        for row in SEED_ROWS
    ]
    rows[0]["team"] = "research"
    return folder, rows


def sync_models(
    args: Sequence[str], cwd: Path, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync_client", *args],
        cwd=cwd,
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write_list(path: Path, constant: str, ids: Sequence[str]) -> None:
    entries = "\n".join(f"  {{ apiId: {json.dumps(i)}, rank: {n} }}," for n, i in enumerate(ids, 1))
    path.write_text(f"// the app's list\nexport const {constant} = [\n{entries}\n] as const;\n")


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


@pytest.mark.parametrize(
    "make_app", [original_app, minimal_app, extended_app], ids=lambda f: f.__name__
)
def test_init_then_deploy_then_sync_keeps_the_apps_data(
    make_app: Any, tmp_path: Path, openrouter_server: OpenRouterServer
) -> None:
    openrouter_server.serve_snapshot(SNAPSHOT)
    functions, seed = make_app(tmp_path / "app-convex")
    (functions / "notes.ts").write_text(NOTES_MODULE)
    if seed:
        (functions / "seedRows.ts").write_text(ROWS_MODULE)
    root = convex_project(tmp_path / "app", functions)
    empty = tmp_path / "empty"
    empty.mkdir()
    with contextlib.ExitStack() as stack:
        backend = stack.enter_context(start_local_backend(functions_dir=empty, admin_key=ADMIN_KEY))
        admin = AdminClient(backend)
        stack.callback(admin.close)
        first = deploy(root, backend)
        assert first.returncode == 0, first.stdout + first.stderr
        note_id = admin.call("mutation", "notes:add", {"body": "keep me"})
        seeded = {
            row["apiIdentifier"]: admin.call("mutation", "seedRows:add", {"row": row})
            for row in seed
        }
        notes_before = admin.call("query", "notes:list", {})

        env = {
            "CONVEX_URL": backend.url,
            "CONVEX_DEPLOY_KEY": ADMIN_KEY,
            "OPENROUTER_BASE_URL": openrouter_server.base_url,
            "OPENROUTER_API_KEY": "sk-or-v1-init-test-0123456789",
        }
        init = sync_models(["init"], root, env)
        assert init.returncode == 0, init.stdout + init.stderr
        # The app's own lists (init wrote the templates; a person then edits them).
        write_list(root / "convex" / "config" / "topPaidModels.ts", "TOP_PAID_MODELS", PAID)
        write_list(root / "convex" / "config" / "topFreeModels.ts", "TOP_FREE_MODELS", FREE)
        pushed = deploy(root, backend, typecheck=True)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr

        after_deploy = tree(root / "convex")
        again = sync_models(["init"], root, env)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Nothing to change" in again.stdout
        assert tree(root / "convex") == after_deploy

        doctor = sync_models(["doctor"], root, env)
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr

        synced = sync_models(["--all", "--json"], root, env)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        rows = admin.call("query", "queries/aiModels:list", {})
        history = admin.call("query", "queries/history:list", {})
        notes_after = admin.call("query", "notes:list", {})

    by_id = {row["apiIdentifier"]: row for row in rows}
    assert set(by_id) == {*PAID, *FREE, *seeded}
    for api_id, row_id in seeded.items():
        assert by_id[api_id]["_id"] == row_id
        assert by_id[api_id]["isActive"] is True
    assert by_id[SONNET]["syncedFromOpenRouter"] is True
    if seeded:
        assert "syncedFromOpenRouter" not in by_id["gpt-4o"]
    if make_app is extended_app:
        assert by_id[SONNET]["team"] == "research"
    assert notes_after == notes_before and notes_after[0]["_id"] == note_id
    recorded = {entry["apiIdentifier"] for entry in history}
    assert recorded == {*PAID, *FREE}
    assert all(entry["kind"] == "first_seen" for entry in history)
