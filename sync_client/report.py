"""Render a SyncReport (and errors) as human text or as the `--json` document."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sync_client.alerts import alert_document, alert_line
from sync_client.errors import SyncModelsError
from sync_client.safe_text import printable
from sync_client.sync import FieldChange, ModelResult, SyncReport, SyncTarget

_TAGS = {"inserted": "NEW", "updated": "UPD", "insert": "NEW", "update": "UPD", "unchanged": "SAME"}
_PLANNED = {"insert": "would insert", "update": "would update", "unchanged": "unchanged"}
_MAX_VALUE_CHARS = 60


def format_value(value: Any) -> str:
    """A stored or mapped value as one short line: `(unset)`, 3, 0.2, "text" (long text cut,
    control characters and newlines shown as escapes)."""
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, str):
        text = value if len(value) <= _MAX_VALUE_CHARS else value[: _MAX_VALUE_CHARS - 1] + "…"
        return '"' + printable(text) + '"'
    return printable(str(value))


def _result_line(result: ModelResult) -> str:
    if result.error is not None:
        return f"[ERR] {printable(result.api_id)} — {printable(result.error)}"
    tag = _TAGS[result.action or result.planned or "unchanged"]
    price = "FREE" if result.is_free else "PAID"
    line = f"[{tag}] [{price}] {printable(result.api_id)}"
    return line if result.planned is None else f"{line} — {_PLANNED[result.planned]}"


def _change_line(change: FieldChange) -> str:
    before, after = format_value(change.before), format_value(change.after)
    return f"      {printable(change.field)}: {before} → {after}"


def summary_title(report: SyncReport) -> str:
    """The report's first line: complete, dry run, or stopped early."""
    if report.aborted is not None:
        return "⛔ Sync stopped early — Convex became unreachable; what was done is listed below"
    if report.dry_run:
        return "🔎 Dry run — nothing was written"
    return "✅ Sync complete!"


def summary_counts(report: SyncReport) -> list[tuple[str, int | str]]:
    """The report's counts, labelled, in the order shown (the list synced first)."""
    counts: list[tuple[str, int | str]] = [
        ("List synced", report.list_synced),
        ("Total", report.total),
    ]
    if report.dry_run:
        counts += [
            ("Would insert", report.inserted),
            ("Would update", report.updated),
            ("Unchanged", report.unchanged),
        ]
    else:
        counts += [("Inserted", report.inserted), ("Updated", report.updated)]
    counts += [("Free", report.free), ("Paid", report.paid), ("Errors", report.errors)]
    if report.unanswered:
        counts.append(("Sent, no answer", len(report.unanswered)))
    if report.not_attempted:
        counts.append(("Not attempted", len(report.not_attempted)))
    return counts


def render_human(report: SyncReport) -> str:
    """The summary block, then one line per model (and, in a dry run, the fields it changes)."""
    title, counts = summary_title(report), summary_counts(report)
    lines = [title, *(f"   {label}: {value}" for label, value in counts), ""]
    for result in report.results:
        lines.append(_result_line(result))
        if result.planned == "update":  # a new row's fields are all "changes"; show updates only
            lines.extend(_change_line(change) for change in result.changes)
    lines.extend(f"[???] {target.api_id} — {UNANSWERED}" for target in report.unanswered)
    lines.extend(_not_attempted_lines(report.not_attempted))
    lines.extend(_guard_lines(report))
    return "\n".join(lines) + "\n"


def _guard_lines(report: SyncReport) -> list[str]:
    """The Alerts section, then the warnings on ranked inactive models being retired."""
    lines: list[str] = []
    if report.alerts:
        lines += ["", f"Alerts ({len(report.alerts)}) on active models:"]
        lines += [alert_line(alert, printable) for alert in report.alerts]
    if report.expiring:
        lines += ["", "Ranked models OpenRouter is retiring (inactive):"]
        lines += [f"  [WARN] {warning.message(printable)}" for warning in report.expiring]
    return lines


#: A model whose call the deadline cut off: it was sent, so it may have been written.
UNANSWERED = "sent, no answer (may have landed)"
#: A stopped catalog run leaves hundreds of ids unattempted; the text names this many.
NOT_ATTEMPTED_SHOWN = 20


def _not_attempted_lines(targets: Sequence[SyncTarget]) -> list[str]:
    lines = [
        f"[---] {printable(target.api_id)} — not attempted"
        for target in targets[:NOT_ATTEMPTED_SHOWN]
    ]
    if len(targets) > NOT_ATTEMPTED_SHOWN:
        hidden = len(targets) - NOT_ATTEMPTED_SHOWN
        lines.append(f"[---] … and {hidden} more not attempted (--json lists every one)")
    return lines


def _result_document(result: ModelResult) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiId": result.api_id,
        "rank": result.rank,
        "listName": result.list_name,
    }
    if result.error is not None:
        document["error"] = result.error
        return document
    document["isFree"] = result.is_free
    document["action"] = result.action or result.planned
    if result.planned is not None:
        document["changes"] = [
            {"field": change.field, "before": change.before, "after": change.after}
            for change in result.changes
        ]
    return document


def report_document(report: SyncReport) -> dict[str, Any]:
    """The `--json` document of a run: summary, per-model results, and the abort error if any."""
    summary: dict[str, Any] = {
        "listSynced": report.list_synced,
        "total": report.total,
        "inserted": report.inserted,
        "updated": report.updated,
        "errors": report.errors,
        "free": report.free,
        "paid": report.paid,
        "dryRun": report.dry_run,
        "unanswered": len(report.unanswered),
        "notAttempted": len(report.not_attempted),
    }
    if report.dry_run:
        summary["unchanged"] = report.unchanged
    document: dict[str, Any] = {
        "summary": summary,
        "results": [_result_document(result) for result in report.results],
    }
    if report.unanswered:
        document["unanswered"] = [target.api_id for target in report.unanswered]
    if report.not_attempted:
        document["notAttempted"] = [target.api_id for target in report.not_attempted]
    document["alerts"] = [alert_document(alert) for alert in report.alerts]
    if report.expiring:
        document["expiringInactive"] = [
            {
                "apiId": warning.api_id,
                "expirationDate": warning.expiration_date.isoformat(),
                "retired": warning.retired,
            }
            for warning in report.expiring
        ]
    if report.guard_skipped is not None:
        document["guardSkipped"] = report.guard_skipped
    if report.aborted is not None:
        document.update(error_document(report.aborted))
    return document


def error_code(error: BaseException) -> str:
    """A stable snake_case code for an error: `ConvexUnavailableError` → `convex_unavailable`."""
    if not isinstance(error, SyncModelsError):
        return "unexpected"
    name = type(error).__name__.removesuffix("Error").replace("OpenRouter", "Openrouter")
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def error_document(error: SyncModelsError) -> dict[str, Any]:
    """`{"error": {"code", "message", "hint"}}` for `--json` output."""
    return {"error": {"code": error_code(error), "message": error.message, "hint": error.hint}}


_ROW_COLUMNS: Sequence[tuple[str, str]] = (
    ("apiIdentifier", "model"),
    ("isActive", "active"),
    ("isFree", "free"),
    ("inputCostPer1MTokens", "in $/1M"),
    ("outputCostPer1MTokens", "out $/1M"),
    ("contextWindow", "context"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format_value(value).strip('"')


def render_rows(rows: Iterable[Mapping[str, Any]]) -> str:
    """A compact aligned table of aiModels rows, sorted by id."""
    ordered = sorted(rows, key=lambda row: str(row.get("apiIdentifier", "")))
    if not ordered:
        return "(no rows)\n"
    table = [[header for _key, header in _ROW_COLUMNS]]
    table += [[_cell(row.get(key)) for key, _header in _ROW_COLUMNS] for row in ordered]
    widths = [max(len(line[column]) for line in table) for column in range(len(_ROW_COLUMNS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in table
    ]
    return "\n".join(lines) + "\n"
