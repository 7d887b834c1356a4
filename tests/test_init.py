"""`sync-models init` on apps of several shapes (files only; tests/test_init_deploy.py deploys
the result with the real Convex CLI and syncs into it)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from support.local_backend import REPO_ROOT
from typer.testing import CliRunner, Result

from sync_client.bundled import FUNCTION_FILES, TEMPLATE_FILES
from sync_client.cli import app
from sync_client.schema_merge import (
    SchemaConflict,
    SchemaNotEditable,
    merge_schema,
    requirements,
)

runner = CliRunner()
CONVEX = REPO_ROOT / "convex"
ORIGINAL_APP = REPO_ROOT / "tests" / "fixtures" / "original_app" / "convex"
REQUIRED = requirements(
    (CONVEX / "schema.ts").read_text(), (CONVEX / "lib" / "validators.ts").read_text()
)

# The shape of the original app's schema: the table inline, the app's own fields (one the
# package does not have) and five indexes, other tables around it, no semicolons.
INLINE_SCHEMA = """import { defineSchema, defineTable } from "convex/server"
import { v } from "convex/values"

export default defineSchema({
  testCases: defineTable({ name: v.string(), slug: v.string() }).index("by_slug", ["slug"]),

  aiModels: defineTable({
    provider: v.string(),
    modelName: v.string(),
    modelVersion: v.optional(v.string()), // the app's own
    apiIdentifier: v.string(),
    slug: v.optional(v.string()),
    contextWindow: v.optional(v.number()),
    costPer1kTokens: v.optional(v.number()),
    isActive: v.boolean(), // a person's choice
  })
    .index("by_provider", ["provider"])
    .index("by_active", ["isActive"])
    .index("by_provider_and_name", ["provider", "modelName"])
    .index("by_slug", ["slug"])
    .index("by_api_identifier", ["apiIdentifier"]),

  testRuns: defineTable({ modelId: v.id("aiModels"), ok: v.boolean() }),
})
"""
MINIMAL_SCHEMA = """import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  messages: defineTable({ body: v.string() }),
});
"""
HELPER_SCHEMA = """import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

const table = (fields: Record<string, any>) => defineTable(fields);

export default defineSchema({
  aiModels: table({ apiIdentifier: v.string(), isActive: v.boolean() }),
});
"""
# The documented upsertModel, as an app that followed the original sync's docs holds it.
DOCUMENTED_SYNC_MODELS = """import { internalMutation } from "../_generated/server";
import { v } from "convex/values";

export const upsertModel = internalMutation({
  args: {
    apiIdentifier: v.string(),
    modelName: v.string(),
    provider: v.string(),
    slug: v.string(),
    contextWindow: v.optional(v.number()),
    isFree: v.boolean(),
    inputCostPer1MTokens: v.optional(v.number()),
    outputCostPer1MTokens: v.optional(v.number()),
    maxCompletionTokens: v.optional(v.number()),
    description: v.optional(v.string()),
    openRouterCreatedAt: v.optional(v.number()),
  },
  handler: async (ctx, args) => {
    const existing = await ctx.db
      .query("aiModels")
      .withIndex("by_api_identifier", (q) => q.eq("apiIdentifier", args.apiIdentifier))
      .first();
    if (existing) {
      await ctx.db.patch(existing._id, { ...args, syncedFromOpenRouter: true });
      return { action: "updated" as const, id: existing._id };
    }
    const id = await ctx.db.insert("aiModels", { ...args, isActive: false });
    return { action: "inserted" as const, id };
  },
});
"""


def app_with(tmp_path: Path, schema: str | None) -> Path:
    """An app folder holding `convex/` (with a `_generated/` of its own) and `schema`."""
    convex = tmp_path / "app" / "convex"
    shutil.copytree(ORIGINAL_APP / "_generated", convex / "_generated")
    if schema is not None:
        (convex / "schema.ts").write_text(schema)
    return convex.parent


def snapshot(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def init(app_root: Path, *args: str, monkeypatch: pytest.MonkeyPatch) -> Result:
    monkeypatch.chdir(app_root)
    return runner.invoke(app, ["init", *args])


# --- the schema merge ----------------------------------------------------------------------------


def test_an_inline_table_keeps_the_apps_fields_and_indexes_and_adds_what_functions_need() -> None:
    merge = merge_schema(INLINE_SCHEMA, REQUIRED)
    text = merge.text
    # Every line the app had is still there (a chain's last comma moves after the additions).
    for line in INLINE_SCHEMA.splitlines():
        assert line.rstrip(",") in text
    for own in ("costPer1kTokens: v.optional(v.number())", '.index("by_provider_and_name"'):
        assert own in text
    assert "    isActive: v.boolean(), // a person's choice\n    updatedAt:" in text
    added_fields = [name for name in REQUIRED.ai_model_fields if f"  {name}:" not in INLINE_SCHEMA]
    assert merge.fields == added_fields
    assert merge.indexes == ["aiModels.by_synced_from_open_router", "aiModels.by_is_active"]
    assert merge.tables == ["modelHistory"]
    assert merge.imports == ["modelHistoryFields"]
    assert 'import { modelHistoryFields } from "./lib/validators";' in text
    assert "modelHistory: defineTable(modelHistoryFields)" in text
    # Merged again: nothing more to add.
    again = merge_schema(text, REQUIRED)
    assert not again.changed and again.text == text


def test_a_fields_constant_of_the_schema_file_is_merged_where_it_is_defined() -> None:
    schema = (ORIGINAL_APP / "schema.ts").read_text()
    merge = merge_schema(schema, REQUIRED)
    assert merge.fields == []  # the fixture declares every field already
    assert "export const aiModelFields = {" in merge.text  # the app's constant, still its own
    assert merge.tables == ["modelHistory"]


def test_an_app_without_ai_models_gets_both_tables() -> None:
    merge = merge_schema(MINIMAL_SCHEMA, REQUIRED)
    assert merge.tables == ["aiModels", "modelHistory"]
    assert merge.imports == ["aiModelFields", "modelHistoryFields"]
    assert "messages: defineTable({ body: v.string() })," in merge.text
    assert "aiModels: defineTable(aiModelFields)" in merge.text


def test_the_packages_own_schema_needs_nothing() -> None:
    own = (CONVEX / "schema.ts").read_text()
    assert not merge_schema(own, REQUIRED).changed


def test_a_table_built_by_a_helper_is_not_edited_and_the_lines_to_add_are_given() -> None:
    with pytest.raises(SchemaNotEditable) as refused:
        merge_schema(HELPER_SCHEMA, REQUIRED)
    lines = refused.value.lines_to_add
    assert "defineTable(...)" in refused.value.reason
    for name, validator in REQUIRED.ai_model_fields.items():
        assert f"{name}: {validator}," in lines
    assert '.index("by_api_identifier", ["apiIdentifier"])' in lines
    assert "modelHistory: defineTable(modelHistoryFields)" in lines


def test_a_helper_built_schema_that_names_everything_is_left_alone() -> None:
    """After a person added the printed lines, init goes on instead of refusing forever."""
    fields = "".join(f"    {n}: {s},\n" for n, s in REQUIRED.ai_model_fields.items())
    indexes = "".join(
        f'\n    .index("{n}", {json.dumps(list(f))})'
        for spec in REQUIRED.tables.values()
        for n, f in spec.indexes
        if spec.fields_name == "aiModelFields"
    )
    history = "".join(
        f'\n    .index("{n}", {json.dumps(list(f))})'
        for n, f in REQUIRED.tables["modelHistory"].indexes
    )
    schema = (
        'import { defineSchema, defineTable } from "convex/server";\n'
        'import { v } from "convex/values";\n'
        'import { modelHistoryFields } from "./lib/validators";\n'
        "const table = (fields: any) => defineTable(fields);\n"
        f"export default defineSchema({{\n  aiModels: table({{\n{fields}  }}){indexes},\n"
        f"  modelHistory: defineTable(modelHistoryFields){history},\n}});\n"
    )
    merge = merge_schema(schema, REQUIRED)
    assert merge.unchecked and not merge.changed and merge.text == schema


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            ("contextWindow: v.optional(v.number())", "contextWindow: v.number()"),
            "aiModels.contextWindow is `v.number()`",
        ),
        (
            ("costPer1kTokens: v.optional(v.number())", "ownerId: v.string()"),
            "aiModels.ownerId is required",
        ),
        (
            (
                '.index("by_api_identifier", ["apiIdentifier"])',
                '.index("by_api_identifier", ["apiIdentifier", "provider"])',
            ),
            "index by_api_identifier is on ['apiIdentifier', 'provider']",
        ),
    ],
)
def test_a_definition_that_differs_from_what_the_functions_need_is_a_conflict(
    change: tuple[str, str], problem: str
) -> None:
    with pytest.raises(SchemaConflict) as conflict:
        merge_schema(INLINE_SCHEMA.replace(*change), REQUIRED)
    assert any(problem in line for line in conflict.value.problems), conflict.value.problems


# --- the command ----------------------------------------------------------------------------------


def test_init_writes_the_functions_merges_the_schema_then_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = app_with(tmp_path, INLINE_SCHEMA)
    generated = snapshot(root / "convex" / "_generated")
    before = snapshot(root)

    dry = init(root, "--dry-run", monkeypatch=monkeypatch)
    assert dry.exit_code == 0, dry.output
    assert snapshot(root) == before
    assert "Dry run: nothing is written" in dry.stdout

    first = init(root, monkeypatch=monkeypatch)
    assert first.exit_code == 0, first.output
    for relative in (*FUNCTION_FILES, *TEMPLATE_FILES):
        assert (root / "convex" / relative).read_text() == (CONVEX / relative).read_text()
    schema = (root / "convex" / "schema.ts").read_text()
    assert "costPer1kTokens" in schema and "modelHistory: defineTable" in schema
    assert snapshot(root / "convex" / "_generated") == generated
    assert "Next: `npx convex deploy`" in first.stdout and "`sync-models doctor`" in first.stdout

    after_first = snapshot(root / "convex")
    second = init(root, "--json", monkeypatch=monkeypatch)
    assert second.exit_code == 0, second.output
    document = json.loads(second.stdout)
    assert document["changed"] is False
    assert {item["action"] for item in document["files"]} == {"unchanged", "kept"}
    assert document["schema"]["action"] == "unchanged"
    assert document["nextSteps"] == ["npx convex deploy", "sync-models doctor"]
    assert snapshot(root / "convex") == after_first
    assert "Nothing to change" in init(root, monkeypatch=monkeypatch).stdout


def test_a_differing_file_is_refused_with_a_diff_and_nothing_is_written_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = app_with(tmp_path, MINIMAL_SCHEMA)
    mine = root / "convex" / "queries" / "aiModels.ts"
    mine.parent.mkdir()
    mine.write_text("export const list = 1;\n")
    before = snapshot(root)

    refused = init(root, monkeypatch=monkeypatch)
    assert refused.exit_code == 2
    assert snapshot(root) == before
    assert "REFUSED     queries/aiModels.ts" in refused.stdout
    assert "--- queries/aiModels.ts (the app's)" in refused.stdout
    assert "-export const list = 1;" in refused.stdout
    assert "error: init wrote nothing: refused queries/aiModels.ts" in refused.stderr
    assert "--force" in refused.stderr

    as_json = init(root, "--json", monkeypatch=monkeypatch)
    assert as_json.exit_code == 2
    document = json.loads(as_json.stdout)
    assert document["error"]["code"] == "config"
    (entry,) = [item for item in document["files"] if item["action"] == "refused"]
    assert entry["path"] == "queries/aiModels.ts" and entry["diff"].startswith("--- ")
    assert snapshot(root) == before

    forced = init(root, "--force", monkeypatch=monkeypatch)
    assert forced.exit_code == 0, forced.output
    assert mine.read_text() == (CONVEX / "queries" / "aiModels.ts").read_text()


def test_the_documented_upsert_model_is_replaced_and_an_extended_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = app_with(tmp_path, MINIMAL_SCHEMA)
    theirs = root / "convex" / "mutations" / "syncModels.ts"
    theirs.parent.mkdir()
    theirs.write_text(DOCUMENTED_SYNC_MODELS + "\nexport const cleanup = internalMutation({});\n")
    refused = init(root, monkeypatch=monkeypatch)
    assert refused.exit_code == 2, refused.output
    assert "REFUSED     mutations/syncModels.ts" in refused.stdout

    theirs.write_text(DOCUMENTED_SYNC_MODELS)
    replaced = init(root, monkeypatch=monkeypatch)
    assert replaced.exit_code == 0, replaced.output
    assert "replaced    mutations/syncModels.ts" in replaced.stdout
    assert "documented contract" in replaced.stdout
    assert theirs.read_text() == (CONVEX / "mutations" / "syncModels.ts").read_text()


def test_the_apps_ranked_lists_are_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = app_with(tmp_path, MINIMAL_SCHEMA)
    paid = root / "convex" / "config" / "topPaidModels.ts"
    paid.parent.mkdir()
    paid.write_text("// mine\nexport const TOP_PAID_MODELS = [] as const;\n")
    result = init(root, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert paid.read_text().startswith("// mine")
    free = root / "convex" / "config" / "topFreeModels.ts"
    assert free.read_text() == (CONVEX / "config" / "topFreeModels.ts").read_text()


def test_a_schema_init_cannot_edit_is_refused_with_the_lines_to_add(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = app_with(tmp_path, HELPER_SCHEMA)
    before = snapshot(root)
    result = init(root, monkeypatch=monkeypatch)
    assert result.exit_code == 2
    assert snapshot(root) == before
    assert "REFUSED     schema.ts" in result.stdout
    assert "Add these lines to" in result.stdout
    assert '    .index("by_synced_from_open_router", ["syncedFromOpenRouter"])' in result.stdout
    assert "error: init wrote nothing: refused schema.ts" in result.stderr


def test_a_schema_conflict_is_refused_and_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = INLINE_SCHEMA.replace("isActive: v.boolean(),", "isActive: v.optional(v.boolean()),")
    root = app_with(tmp_path, schema)
    before = snapshot(root)
    result = init(root, "--force", monkeypatch=monkeypatch)  # --force is for files only
    assert result.exit_code == 2
    assert snapshot(root) == before
    assert "aiModels.isActive is `v.optional(v.boolean())`" in result.stdout


def test_no_convex_folder_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = init(tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 2
    assert "error: no Convex functions folder at" in result.stderr


def test_convex_json_names_the_functions_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "convex.json").write_text('{"functions": "src/backend"}')
    (tmp_path / "src" / "backend").mkdir(parents=True)
    (tmp_path / "src" / "backend" / "schema.ts").write_text(MINIMAL_SCHEMA)
    result = init(tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "src" / "backend" / "lib" / "validators.ts").is_file()
    assert not (tmp_path / "convex").exists()


def test_a_crlf_schema_stays_crlf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = app_with(tmp_path, None)
    (root / "convex" / "schema.ts").write_bytes(MINIMAL_SCHEMA.replace("\n", "\r\n").encode())
    result = init(root, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    merged = (root / "convex" / "schema.ts").read_bytes()
    assert b"modelHistory" in merged and b"\n" not in merged.replace(b"\r\n", b"")


def test_an_app_without_a_schema_gets_the_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = app_with(tmp_path, None)
    result = init(root, "--json", monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["schema"]["action"] == "write"
    assert (root / "convex" / "schema.ts").read_text() == (CONVEX / "schema.ts").read_text()


def test_a_schema_written_on_one_line_is_merged_into_valid_lines() -> None:
    schema = (
        'import { defineSchema, defineTable } from "convex/server";\n'
        'import { v } from "convex/values";\n'
        "export default defineSchema({ notes: defineTable({ b: v.string() }) });\n"
    )
    merge = merge_schema(schema, REQUIRED)
    assert "\n  aiModels: defineTable(aiModelFields)\n" in merge.text
    assert merge.text.endswith("\n });\n")
    assert not merge_schema(merge.text, REQUIRED).changed
