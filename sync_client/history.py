"""Model history: the entries a sync records (`mutations/history:recordSync`) and their display.

An entry holds what the table says about a model right after the sync (prices, context
window, max completion tokens) plus its rank and list; the mutation stores a row only when
one of these differs from the model's latest row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .convex_types import TRACKED_ROW_FIELDS
from .report import format_value
from .safe_text import printable
from .sync import rows_by_api_id

if TYPE_CHECKING:
    from .convex_types import HistoryAlert, HistoryEntry, HistoryList, ModelRow
    from .sync import ModelResult

#: The lists the history table knows; a model named only with `--model` records no list.
HISTORY_LISTS: dict[str, HistoryList] = {"paid": "paid", "free": "free", "catalog": "catalog"}


def build_entries(
    results: Iterable[ModelResult],
    rows: Iterable[ModelRow],
    alerts: Mapping[str, Sequence[HistoryAlert]] | None = None,
) -> list[HistoryEntry]:
    """recordSync entries for the models a sync wrote, with values read back from `rows` and
    the guard's `alerts` by id.

    Failed or unwritten results (and dry-run plans) are skipped. With duplicate rows for an
    id the oldest one counts (the one upsertModel's result names).
    """
    by_id = rows_by_api_id(rows)
    entries: list[HistoryEntry] = []
    seen: set[str] = set()
    for result in results:
        if result.error is not None or result.action is None or result.api_id in seen:
            continue
        stored = by_id.get(result.api_id)
        if stored is None:
            continue
        seen.add(result.api_id)
        entry: HistoryEntry = {"apiIdentifier": result.api_id}
        for name in TRACKED_ROW_FIELDS:
            if stored.get(name) is not None:
                entry[name] = stored[name]
        if result.rank is not None:
            entry["rank"] = result.rank
        if (history_list := HISTORY_LISTS.get(result.list_name)) is not None:
            entry["list"] = history_list
        if alerts and (model_alerts := alerts.get(result.api_id)):
            entry["alerts"] = list(model_alerts)
        entries.append(entry)
    return entries


def _change_text(change: Mapping[str, Any]) -> str:
    """`field: from → to`; an absent side (the value was or became unset) shows as `(unset)`."""
    return (
        f"{printable(str(change.get('field')))}: {format_value(change.get('from'))} → "
        f"{format_value(change.get('to'))}"
    )


def format_timestamp(ms: float | None) -> str:
    """Milliseconds since the epoch as `YYYY-MM-DD HH:MM UTC`."""
    if ms is None:
        return "-"
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def render_history(rows: Sequence[Mapping[str, Any]]) -> str:
    """History rows (newest first) as text: one header line per row, one line per change."""
    if not rows:
        return "No history recorded yet.\n"
    lines: list[str] = []
    for row in rows:
        kind = "first seen" if row.get("kind") == "first_seen" else "changed"
        api_id = printable(str(row.get("apiIdentifier")))
        lines.append(f"{format_timestamp(row.get('recordedAt'))}  {api_id}  ({kind})")
        lines.extend(f"    {_change_text(change)}" for change in row.get("changes") or ())
        if row.get("alerts"):
            lines.append(f"    alerts: {printable(', '.join(map(str, row['alerts'])))}")
    return "\n".join(lines) + "\n"


def history_document(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `--json` document: the rows as stored, without Convex system fields."""
    return {
        "history": [
            {key: value for key, value in row.items() if not key.startswith("_")} for row in rows
        ]
    }
