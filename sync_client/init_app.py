"""`sync-models init`: put the package's Convex functions into an existing app's `convex/`.

`plan_init` decides, file by file, without writing: a function or lib file is written when
missing, left alone when identical, and refused (named, with a diff) when it differs, unless
`force`; an existing `mutations/syncModels.ts` whose `upsertModel` is the documented contract
(and that exports nothing else) is replaced. The ranked lists are written only when missing.
`schema.ts` is merged (sync_client.schema_merge). `apply_plan` writes a plan that refuses
nothing. `_generated/` is never touched: the next `npx convex deploy` regenerates it.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync_client.bundled import FUNCTION_FILES, SCHEMA_FILE, TEMPLATE_FILES, convex_file
from sync_client.errors import ConfigError
from sync_client.schema_merge import (
    Merge,
    SchemaConflict,
    SchemaNotEditable,
    merge_schema,
    requirements,
)
from sync_client.ts_source import code_mask, object_literal

CONTRACT_FILE = "mutations/syncModels.ts"
#: Exports a replaceable `mutations/syncModels.ts` may have: the documented function (and
#: the batched one an earlier adoption may have added).
_CONTRACT_EXPORTS = {"upsertModel", "upsertModels"}
NEXT_STEPS = ("npx convex deploy", "sync-models doctor")

# Actions, as `--json` names them.
WRITE = "write"  # missing: written
UNCHANGED = "unchanged"  # already identical, or a ranked list the app has
REPLACE = "replace"  # the app's documented upsertModel, replaced by the package's
OVERWRITE = "overwrite"  # differs, overwritten because of --force
REFUSED = "refused"  # differs: nothing is written
MERGE = "merge"  # schema.ts: what the functions need added
KEPT = "kept"  # a ranked list the app already has


@dataclass(frozen=True)
class FilePlan:
    """What init does to one file (`path` relative to the convex folder, with `/`)."""

    path: str
    action: str
    reason: str = ""
    text: str | None = None  # what is written, for the actions that write
    diff: str | None = None  # for a refused or overwritten file: the app's vs the package's


@dataclass
class InitPlan:
    convex_dir: Path
    files: list[FilePlan]
    schema: FilePlan
    merge: Merge | None = None
    #: Set when the schema is not in a shape init edits: the lines a person adds.
    schema_lines_to_add: str | None = None
    schema_problems: list[str] = field(default_factory=list)

    @property
    def every_file(self) -> list[FilePlan]:
        return [*self.files, self.schema]

    @property
    def refused(self) -> list[FilePlan]:
        return [plan for plan in self.every_file if plan.action == REFUSED]

    @property
    def writes(self) -> list[FilePlan]:
        return [plan for plan in self.every_file if plan.text is not None]


def default_convex_dir(app_root: Path) -> Path:
    """The functions folder `npx convex` uses: `convex.json`'s `functions`, else `convex/`."""
    config = app_root / "convex.json"
    if config.is_file():
        try:
            functions = json.loads(config.read_text(encoding="utf-8")).get("functions")
        except (ValueError, AttributeError):
            functions = None
        if isinstance(functions, str) and functions:
            return app_root / functions
    return app_root / "convex"


def _read(path: Path) -> str | None:
    """The file's text with LF line ends (a Windows checkout may hold CRLF), or None."""
    try:
        return path.read_bytes().decode("utf-8").replace("\r\n", "\n")
    except FileNotFoundError:
        return None


def _diff(relative: str, theirs: str, ours: str) -> str:
    return "".join(
        difflib.unified_diff(
            theirs.splitlines(keepends=True),
            ours.splitlines(keepends=True),
            fromfile=f"{relative} (the app's)",
            tofile=f"{relative} (sync-models)",
        )
    )


def contract_arguments() -> set[str]:
    """The argument names of the documented `upsertModel` (`upsertModelArgs`)."""
    text = convex_file("lib/validators.ts")
    mask = code_mask(text)
    match = re.search(r"\bupsertModelArgs\s*=\s*v\.object\(\s*\{", mask)
    assert match is not None, "lib/validators.ts defines upsertModelArgs"
    literal = object_literal(text, mask, match.end() - 1)
    return {entry.key for entry in literal.entries if entry.key is not None}


def holds_documented_upsert_model(text: str) -> bool:
    """True for a `mutations/syncModels.ts` that exports only the documented `upsertModel`
    (args named as the contract's) and perhaps `upsertModels`: replacing it loses nothing."""
    mask = code_mask(text)
    if re.search(r"^\s*export\s+(default\b|\{|\*)", mask, re.M):
        return False
    exported = set(
        re.findall(
            r"^\s*export\s+(?:const|let|var|function|async\s+function|class)\s+([\w$]+)",
            mask,
            re.M,
        )
    )
    if "upsertModel" not in exported or exported - _CONTRACT_EXPORTS:
        return False
    call = re.search(
        r"^\s*export\s+const\s+upsertModel\s*=\s*(?:internalMutation|mutation)\s*\(\s*\{",
        mask,
        re.M,
    )
    if call is None:
        return False
    try:
        definition = object_literal(text, mask, call.end() - 1)
        args = definition.get("args")
        if args is None or not args.value.startswith("{"):
            return False
        names = object_literal(text, mask, args.value_start).entries
    except ValueError:
        return False
    return {entry.key for entry in names} == contract_arguments()


def _plan_function_file(convex_dir: Path, relative: str, force: bool) -> FilePlan:
    ours = convex_file(relative)
    theirs = _read(convex_dir / relative)
    if theirs is None:
        return FilePlan(relative, WRITE, text=ours)
    if theirs == ours:
        return FilePlan(relative, UNCHANGED)
    if relative == CONTRACT_FILE and holds_documented_upsert_model(theirs):
        return FilePlan(
            relative,
            REPLACE,
            "its upsertModel is the documented contract, which this one keeps (and adds "
            "upsertModels)",
            text=ours,
        )
    diff = _diff(relative, theirs, ours)
    if force:
        return FilePlan(relative, OVERWRITE, "differs; --force", text=ours, diff=diff)
    return FilePlan(relative, REFUSED, "differs from the package's", diff=diff)


def _plan_template(convex_dir: Path, relative: str) -> FilePlan:
    if (convex_dir / relative).exists():
        return FilePlan(relative, KEPT, "the app's own list")
    text = convex_file(relative)
    return FilePlan(relative, WRITE, "the package's list: the app had none", text=text)


def plan_init(convex_dir: Path, *, force: bool = False) -> InitPlan:
    """Decide what init does in `convex_dir`; writes nothing."""
    if not convex_dir.is_dir():
        raise ConfigError(
            f"no Convex functions folder at {convex_dir}",
            hint="run `sync-models init` in the app's root (where `npx convex deploy` runs), "
            "or pass --convex-dir",
        )
    files = [_plan_function_file(convex_dir, relative, force) for relative in FUNCTION_FILES]
    files += [_plan_template(convex_dir, relative) for relative in TEMPLATE_FILES]
    plan = InitPlan(convex_dir, files, FilePlan(SCHEMA_FILE, UNCHANGED))
    required = requirements(convex_file(SCHEMA_FILE), convex_file("lib/validators.ts"))
    app_schema_path = convex_dir / SCHEMA_FILE
    raw = app_schema_path.read_bytes().decode("utf-8") if app_schema_path.exists() else None
    if raw is None:
        text = convex_file(SCHEMA_FILE)
        plan.schema = FilePlan(SCHEMA_FILE, WRITE, "the package's: the app had none", text=text)
        return plan
    crlf = "\r\n" in raw
    try:
        merge = merge_schema(raw.replace("\r\n", "\n"), required)
    except SchemaNotEditable as error:
        plan.schema = FilePlan(SCHEMA_FILE, REFUSED, f"not in a shape init edits: {error.reason}")
        plan.schema_lines_to_add = error.lines_to_add
        return plan
    except SchemaConflict as error:
        plan.schema = FilePlan(SCHEMA_FILE, REFUSED, "defines what the functions need differently")
        plan.schema_problems = error.problems
        return plan
    plan.merge = merge
    if merge.unchecked:
        plan.schema = FilePlan(
            SCHEMA_FILE,
            UNCHANGED,
            "not in a shape init edits, but it names every field, index and table the "
            "functions need (the deploy checks the rest)",
        )
    elif merge.changed:
        text = merge.text.replace("\n", "\r\n") if crlf else merge.text
        plan.schema = FilePlan(SCHEMA_FILE, MERGE, _merge_summary(merge), text=text)
    return plan


def _merge_summary(merge: Merge) -> str:
    parts = []
    if merge.fields:
        parts.append(f"aiModels fields {', '.join(merge.fields)}")
    if merge.indexes:
        parts.append(f"indexes {', '.join(merge.indexes)}")
    if merge.tables:
        parts.append(f"tables {', '.join(merge.tables)}")
    if merge.imports:
        parts.append(f"the import of {', '.join(merge.imports)}")
    return "added " + "; ".join(parts) + "; the app's own fields and indexes kept"


def apply_plan(plan: InitPlan) -> None:
    """Write every file the plan writes (each one replaced whole, never half-written)."""
    if plan.refused:
        raise ConfigError("init refuses to write: see the files named above")
    for item in plan.writes:
        assert item.text is not None
        target = plan.convex_dir.joinpath(*item.path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            staging.write_text(item.text, encoding="utf-8", newline="")
            os.replace(staging, target)
        finally:
            staging.unlink(missing_ok=True)


# --- rendering ----------------------------------------------------------------------------------

_LABELS = {
    WRITE: ("write", "written"),
    UNCHANGED: ("unchanged", "unchanged"),
    REPLACE: ("replace", "replaced"),
    OVERWRITE: ("overwrite", "overwritten"),
    REFUSED: ("REFUSED", "REFUSED"),
    MERGE: ("merge", "merged"),
    KEPT: ("keep", "kept"),
}


def render_plan(plan: InitPlan, *, dry_run: bool) -> str:
    """The plan (or what was done) for a person: one line a file, then what comes next."""
    root = plan.convex_dir
    width = max(len(item.path) for item in plan.every_file) + 2
    lines = []
    if dry_run:
        lines.append(f"Dry run: nothing is written. In {root}:")
    else:
        lines.append(f"In {root}:")
    for item in plan.every_file:
        label = _LABELS[item.action][0 if dry_run or item.action == REFUSED else 1]
        reason = f"  ({item.reason})" if item.reason else ""
        lines.append(f"  {label:<11} {item.path:<{width}}{reason}".rstrip())
    for item in plan.every_file:
        if item.diff and item.action == REFUSED:
            lines += ["", item.diff.rstrip("\n")]
    if plan.schema_lines_to_add is not None:
        lines += [
            "",
            f"Add these lines to {root / SCHEMA_FILE} yourself, then run `sync-models init` again:",
            "",
            *(f"    {line}" if line else "" for line in plan.schema_lines_to_add.splitlines()),
        ]
    if plan.schema_problems:
        lines += ["", f"{root / SCHEMA_FILE}:"] + [f"  - {p}" for p in plan.schema_problems]
    if not plan.refused:
        lines.append("")
        if not plan.writes:
            lines.append("Nothing to change: the app already holds the functions.")
        lines.append(
            f"Next: `{NEXT_STEPS[0]}` (it type-checks, regenerates convex/_generated/ and "
            f"pushes), then `{NEXT_STEPS[1]}`."
        )
    return "\n".join(lines) + "\n"


def refusal(plan: InitPlan) -> ConfigError:
    """The error a refused plan ends with (exit 2; nothing was written)."""
    names = ", ".join(item.path for item in plan.refused)
    if plan.schema.action == REFUSED and plan.schema_lines_to_add is not None:
        hint = "add the lines printed above to schema.ts, then run `sync-models init` again"
    elif plan.schema.action == REFUSED:
        hint = "change the definitions named above in schema.ts, then run `sync-models init` again"
    else:
        hint = "compare the diffs above; `sync-models init --force` overwrites those files"
    return ConfigError(f"init wrote nothing: refused {names}", hint=hint)


def plan_document(plan: InitPlan, *, dry_run: bool) -> dict[str, Any]:
    """The plan for `--json`."""

    def entry(item: FilePlan) -> dict[str, Any]:
        document: dict[str, Any] = {
            "path": item.path,
            "action": item.action,
            "written": item.text is not None and not dry_run and not plan.refused,
        }
        if item.reason:
            document["reason"] = item.reason
        if item.diff is not None:
            document["diff"] = item.diff
        return document

    schema = entry(plan.schema)
    if plan.merge is not None:
        schema["added"] = {
            "fields": plan.merge.fields,
            "indexes": plan.merge.indexes,
            "tables": plan.merge.tables,
            "imports": plan.merge.imports,
        }
    if plan.schema_lines_to_add is not None:
        schema["linesToAdd"] = plan.schema_lines_to_add
    if plan.schema_problems:
        schema["problems"] = plan.schema_problems
    return {
        "convexDir": str(plan.convex_dir),
        "dryRun": dry_run,
        "changed": bool(plan.writes) and not plan.refused,
        "files": [entry(item) for item in plan.files],
        "schema": schema,
        "nextSteps": list(NEXT_STEPS),
    }
