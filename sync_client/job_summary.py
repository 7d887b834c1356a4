"""The GitHub Actions job summary of a sync: a short markdown report appended to the file
`GITHUB_STEP_SUMMARY` names (the runner shows it on the run's page). Without that variable
nothing is written.

The report: the counts, a table of the models inserted and updated with their prices (before
→ after where the run knows both: a dry run's planned changes, the guard's view of an active
model), the alerts, then the errors. Every string from outside (ids, error text) goes through
`safe_text.markdown_text`, so no id can add a table cell, a line, a link, an image or HTML.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sync_client.alerts import COST_FIELDS, alert_line
from sync_client.safe_text import markdown_text

if TYPE_CHECKING:
    from sync_client.after_sync import AfterSync
    from sync_client.errors import SyncModelsError
    from sync_client.sync import ModelResult, SyncReport

SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"
#: A catalog sync can update hundreds of models; the table and the error list show this many.
ROWS_SHOWN = 100

_ACTIONS = {
    "inserted": "inserted",
    "updated": "updated",
    "insert": "would insert",
    "update": "would update",
}


def summary_path(environ: Mapping[str, str] | None = None) -> Path | None:
    """The summary file the runner gave this step, or None outside GitHub Actions."""
    value = (os.environ if environ is None else environ).get(SUMMARY_VARIABLE, "")
    return Path(value) if value.strip() else None


def append_summary(markdown: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append `markdown` to the step's summary file; returns its path, or None (and writes
    nothing) when `GITHUB_STEP_SUMMARY` is unset. An OSError is the caller's to report."""
    path = summary_path(environ)
    if path is None:
        return None
    with path.open("a", encoding="utf-8", newline="\n") as summary:
        summary.write(markdown)
    return path


def render_sync_summary(report: SyncReport, after: AfterSync | None = None) -> str:
    """A sync's report as markdown: title, counts, changed models, alerts, errors."""
    from sync_client.report import summary_counts, summary_title

    counts = summary_counts(report)
    lines = [
        f"### sync-models: {markdown_text(str(counts[0][1]))}",
        "",
        markdown_text(summary_title(report)),
        "",
        " · ".join(f"{label} **{value}**" for label, value in counts[1:]),
        "",
    ]
    changed = [result for result in report.results if _action(result) is not None]
    if changed:
        lines += _model_table(changed, _known_before(report))
    if report.alerts:
        lines += [f"#### Alerts on active models ({len(report.alerts)})", ""]
        lines += [f"- {markdown_text(alert_line(alert, str).strip())}" for alert in report.alerts]
        lines.append("")
    errors = [f"{result.api_id} — {result.error}" for result in report.results if not result.ok]
    errors += _after_sync_errors(after)
    if report.aborted is not None:
        errors.append(f"stopped early: {report.aborted}")
    if errors:
        lines += [f"#### Errors ({len(errors)})", ""]
        lines += [f"- {markdown_text(error)}" for error in errors[:ROWS_SHOWN]]
        lines += _more(len(errors))
        lines.append("")
    return "\n".join(lines) + "\n"


def render_failure_summary(error: SyncModelsError) -> str:
    """The summary of a sync that stopped before it wrote anything (settings, OpenRouter)."""
    lines = ["### sync-models", "", f"❌ {markdown_text(error.message)}"]
    if error.hint:
        lines += ["", f"Hint: {markdown_text(error.hint)}"]
    return "\n".join(lines) + "\n\n"


def _action(result: ModelResult) -> str | None:
    return _ACTIONS.get(result.action or result.planned or "")


def _known_before(report: SyncReport) -> dict[str, Mapping[str, object]]:
    """The prices stored before the run, by model, where the run read them: a dry run's
    planned changes, and the guard's alerts on active models."""
    before: dict[str, Mapping[str, object]] = {}
    for result in report.results:
        if result.planned == "update":
            before[result.api_id] = {change.field: change.before for change in result.changes}
    for alert in report.alerts:
        before.setdefault(alert.api_id, alert.before)
    return before


def _model_table(
    results: Sequence[ModelResult], known_before: Mapping[str, Mapping[str, object]]
) -> list[str]:
    lines = [
        "| model | name | list | action | free | input \\$/1M | output \\$/1M |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for result in results[:ROWS_SHOWN]:
        after: Mapping[str, object] = result.args or {}
        before = known_before.get(result.api_id, {})
        prices = [_price_cell(before, after, name) for name in COST_FIELDS]
        cells = [
            markdown_text(result.api_id),
            markdown_text(str(after.get("modelName", ""))),
            markdown_text(result.list_name),
            _action(result) or "",
            "yes" if result.is_free else "no",
            *prices,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, *_more(len(results)), ""]


def _price_cell(before: Mapping[str, object], after: Mapping[str, object], name: str) -> str:
    new = _price(after.get(name))
    if name in before and before[name] != after.get(name):
        return f"{_price(before[name])} → {new}"
    return new


def _price(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "unknown"
    return f"{value:g}"


def _after_sync_errors(after: AfterSync | None) -> list[str]:
    if after is None:
        return []
    errors = [
        f"history: {after.history_error}" if after.history_error else "",
        f"stale check: {after.stale_error}" if after.stale_error else "",
        f"over budget: {after.over_budget_error}" if after.over_budget_error else "",
    ]
    errors += [
        f"{outcome.api_id} — could not be deactivated: {outcome.error}"
        for outcome in (*after.deactivated, *after.over_budget)
        if not outcome.ok
    ]
    return [error for error in errors if error]


def _more(count: int) -> list[str]:
    if count <= ROWS_SHOWN:
        return []
    return ["", f"… and {count - ROWS_SHOWN} more (the `--json` document lists every one)"]
