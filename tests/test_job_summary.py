"""The GitHub job summary: the real CLI syncs into the local backend from a loopback
OpenRouter with GITHUB_STEP_SUMMARY pointing at a file, and the markdown it appends is read
back as a table, cell by cell."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from support.local_backend import LocalBackend
from support.openrouter_server import OpenRouterServer, Respond, load_snapshot
from typer.testing import CliRunner, Result

from sync_client.cli import app
from sync_client.convex_store import ConvexStore
from sync_client.job_summary import ROWS_SHOWN, append_summary, render_sync_summary
from sync_client.settings import Secret
from sync_client.sync import ModelResult, SyncReport

SNAPSHOT = "models-2025-12-02.json"
PAID = ["anthropic/claude-sonnet-4.5", "x-ai/grok-code-fast-1"]
FREE = ["qwen/qwen3-coder:free", "google/gemma-3-27b-it:free"]
HOSTILE_NAME = (
    "Evil | cell\nsecond line <img src=x onerror=alert(1)> [link](https://evil.example) "
    "![pic](https://evil.example/p.png) <b>bold</b> `code` *em*"
)
COLUMNS = ["model", "name", "list", "action", "free", "input \\$/1M", "output \\$/1M"]

runner = CliRunner()


def write_list(path: Path, constant: str, ids: list[str]) -> None:
    entries = "".join(f'{{ apiId: "{api_id}", rank: {n} }},' for n, api_id in enumerate(ids, 1))
    path.write_text(f"export const {constant} = [{entries}];\n", encoding="utf-8")


class Run:
    """`sync-models ARGS` in-process against the backend and the loopback OpenRouter."""

    def __init__(self, backend: LocalBackend, openrouter: OpenRouterServer, tmp: Path) -> None:
        self.backend, self.openrouter = backend, openrouter
        self.config = tmp / "config"
        self.config.mkdir()
        write_list(self.config / "topPaidModels.ts", "TOP_PAID_MODELS", PAID)
        write_list(self.config / "topFreeModels.ts", "TOP_FREE_MODELS", FREE)
        self.summary = tmp / "step-summary.md"
        self.env = {
            "CONVEX_URL": backend.url,
            "CONVEX_DEPLOY_KEY": backend.admin_key,
            "OPENROUTER_BASE_URL": openrouter.base_url,
        }

    def __call__(self, *args: str, summary: bool = True) -> Result:
        env = {**self.env, "GITHUB_STEP_SUMMARY": str(self.summary)} if summary else self.env
        return runner.invoke(app, [*args, "--config-dir", str(self.config)], env=env)

    def set_active(self, api_id: str) -> None:
        with ConvexStore(self.backend.url, Secret(self.backend.admin_key), 10) as store:
            store.set_active(api_id, True)


@pytest.fixture
def run(
    backend: LocalBackend,
    openrouter_server: OpenRouterServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Run:
    monkeypatch.chdir(tmp_path)  # no .env.local
    openrouter_server.serve_snapshot(SNAPSHOT)
    return Run(backend, openrouter_server, tmp_path)


def cells(line: str) -> list[str]:
    """A markdown table row's cells: split on the pipes that are not escaped."""
    assert line.startswith("| ") and line.endswith(" |"), line
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def table(markdown: str) -> list[dict[str, str]]:
    """The rows of the (one) models table, each as {column: cell}; every row has exactly the
    header's cells."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| model "))
    assert cells(lines[start]) == COLUMNS
    assert cells(lines[start + 1]) == ["---"] * len(COLUMNS)
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        row = cells(line)
        assert len(row) == len(COLUMNS), line
        rows.append(dict(zip(COLUMNS, row, strict=True)))
    return rows


def unescape(cell: str) -> str:
    return re.sub(r"\\(.)", r"\1", cell)


def with_model(snapshot: dict[str, Any], api_id: str, **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(snapshot)
    model = next(model for model in changed["data"] if model["id"] == api_id)
    for key, value in changes.items():
        if key == "pricing":
            model["pricing"].update(value)
        else:
            model[key] = value
    return changed


def test_a_sync_appends_the_counts_and_a_table_naming_each_model(run: Run) -> None:
    result = run("--all")
    assert result.exit_code == 0, result.output
    markdown = run.summary.read_text(encoding="utf-8")
    assert "### sync-models: all" in markdown
    assert "Inserted **4** · Updated **0**" in markdown
    rows = table(markdown)
    assert [unescape(row["model"]) for row in rows] == PAID + FREE
    assert {row["action"] for row in rows} == {"inserted"}
    by_id = {unescape(row["model"]): row for row in rows}
    assert by_id["anthropic/claude-sonnet-4.5"]["input \\$/1M"] == "3"
    assert by_id["qwen/qwen3-coder:free"]["free"] == "yes"
    assert "#### Errors" not in markdown

    again = run("--free")  # appended, not overwritten
    assert again.exit_code == 0, again.output
    both = run.summary.read_text(encoding="utf-8")
    assert both.startswith(markdown) and "### sync-models: free" in both[len(markdown) :]


def test_price_changes_show_before_and_after(run: Run) -> None:
    assert run("--paid").exit_code == 0
    run.summary.unlink()
    run.set_active(PAID[0])  # the guard reads active rows, so the run knows their old price
    dearer = with_model(load_snapshot(SNAPSHOT), PAID[0], pricing={"prompt": "0.000004"})
    dearer = with_model(dearer, PAID[1], pricing={"prompt": "0.000009"})
    run.openrouter.serve_json(dearer)

    planned = run("--paid", "--dry-run")
    assert planned.exit_code == 4, planned.output  # the active model's price rose: an alert
    rows = {unescape(row["model"]): row for row in table(run.summary.read_text("utf-8"))}
    assert rows[PAID[0]]["action"] == "would update"
    assert rows[PAID[0]]["input \\$/1M"] == "3 → 4"
    assert rows[PAID[1]]["input \\$/1M"] == "0.2 → 9"  # a dry run knows every old price
    run.summary.unlink()

    written = run("--paid")
    assert written.exit_code == 4, written.output
    markdown = run.summary.read_text(encoding="utf-8")
    rows = {unescape(row["model"]): row for row in table(markdown)}
    assert rows[PAID[0]]["action"] == "updated"
    assert rows[PAID[0]]["input \\$/1M"] == "3 → 4"
    assert rows[PAID[1]]["input \\$/1M"] == "9"  # inactive: the run read no old price
    alerts = markdown.split("#### Alerts on active models (1)", 1)[1]
    assert "anthropic\\/claude\\-sonnet\\-4\\.5" in alerts and "price\\-increase" in alerts


def test_a_hostile_model_name_leaves_the_table_intact(run: Run) -> None:
    hostile = with_model(load_snapshot(SNAPSHOT), FREE[0], name=HOSTILE_NAME)
    run.openrouter.serve_json(hostile)
    result = run("--free")
    assert result.exit_code == 0, result.output
    markdown = run.summary.read_text(encoding="utf-8")
    rows = table(markdown)  # each row has exactly the header's cells
    assert [unescape(row["model"]) for row in rows] == FREE
    name = rows[0]["name"]
    assert unescape(name) == HOSTILE_NAME.replace("\n", "\\n")  # all of it, on one line
    assert not re.search(r"(?<!\\)[<>\[\]()`*!|]", name)  # no tag, link, image, code, emphasis
    assert not re.search(r"(?<!\\)<img|(?<!\\)\]\(", markdown)


def test_errors_are_listed_escaped_after_the_table() -> None:
    report = SyncReport(list_synced="free")
    report.results.append(ModelResult("a/ok", 1, "free", action="inserted", is_free=True))
    report.results.append(
        ModelResult("b/gone", 2, "free", error="rejected: <script>x</script> | [a](b)\nnext")
    )
    markdown = render_sync_summary(report)
    errors = markdown.split("#### Errors (1)\n\n", 1)[1].splitlines()
    assert errors[0] == (
        "- b\\/gone — rejected\\: \\<script\\>x\\<\\/script\\> \\| \\[a\\]\\(b\\)\\\\nnext"
    )
    assert markdown.index("| model ") < markdown.index("#### Errors")


def test_without_the_variable_nothing_is_written(run: Run, tmp_path: Path) -> None:
    before = sorted(path.name for path in tmp_path.iterdir())
    result = run("--free", summary=False)
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in tmp_path.iterdir()) == before
    assert append_summary("x", environ={}) is None
    assert append_summary("x", environ={"GITHUB_STEP_SUMMARY": ""}) is None


def test_a_sync_that_fails_before_writing_says_why(run: Run) -> None:
    run.openrouter.enqueue(*[Respond.error(503, "Service <b>Unavailable</b>")] * 10)
    result = run("--free", "--timeout", "2")
    assert result.exit_code == 3, result.output
    markdown = run.summary.read_text(encoding="utf-8")
    assert markdown.startswith("### sync-models\n\n❌ ")
    assert "<b>" not in markdown


def test_a_summary_that_cannot_be_written_is_a_warning_not_the_outcome(
    run: Run, tmp_path: Path
) -> None:
    run.summary = tmp_path / "a-folder"
    run.summary.mkdir()
    result = run("--free")
    assert result.exit_code == 0, result.output
    assert "warning: could not append to GITHUB_STEP_SUMMARY" in result.stderr


def test_a_long_run_shows_the_first_models_and_counts_the_rest() -> None:
    report = SyncReport(list_synced="catalog")
    report.results += [
        ModelResult(f"vendor/model-{n}", None, "catalog", action="updated", is_free=False)
        for n in range(ROWS_SHOWN + 35)
    ]
    markdown = render_sync_summary(report)
    assert len(table(markdown)) == ROWS_SHOWN
    assert "… and 35 more (the `--json` document lists every one)" in markdown
