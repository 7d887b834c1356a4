"""`sync-models status`: the synced rows as a table (or JSON) — active, free, costs, age, stale,
and (with a budget) the active models over it.

Stale means what it means after a sync: OpenRouter no longer lists the model. Status fetches
OpenRouter's list once to tell (the caller passes its ids); without it, stale is unknown."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .alerts import budget_problem
from .safe_text import printable
from .stale import find_stale

#: What the stale column was judged against, as the text and `--json` say it.
STALE_SOURCE = "OpenRouter's models list, fetched now"


@dataclass(frozen=True)
class StatusRow:
    """One synced model as `status` shows it."""

    api_id: str
    is_active: bool
    is_free: bool | None
    input_cost: float | None
    output_cost: float | None
    last_synced_ms: float | None
    age_s: float | None
    stale: bool | None
    stale_reasons: tuple[str, ...] = ()
    #: With a budget: whether the model is active and over it; None without a budget.
    over_budget: bool | None = None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def build_status(
    rows: Iterable[Mapping[str, Any]],
    *,
    now_ms: float,
    listed_ids: Collection[str] | None = None,
    catalog_ids: Collection[str] | None = None,
    max_cost_per_1m: float | None = None,
) -> list[StatusRow]:
    """Status rows for the synced models, sorted by id.

    An active model is over budget by the rule of `activate --max-cost-per-1m`.

    "Last synced" is the row's `updatedAt` (else its creation time). A row is stale when not
    in `listed_ids` or not in `catalog_ids`; with neither given, staleness is unknown (None).
    """
    synced = [row for row in rows if row.get("syncedFromOpenRouter") is True]
    checked = listed_ids is not None or catalog_ids is not None
    stale = {
        model.api_id: model.reasons
        for model in find_stale(
            synced, listed_ids=listed_ids, list_label="configured", catalog_ids=catalog_ids
        )
    }
    result: list[StatusRow] = []
    for row in synced:
        api_id = str(row.get("apiIdentifier"))
        synced_at = _number(row.get("updatedAt")) or _number(row.get("_creationTime"))
        is_active = bool(row.get("isActive"))
        input_cost = _number(row.get("inputCostPer1MTokens"))
        output_cost = _number(row.get("outputCostPer1MTokens"))
        over_budget = None
        if max_cost_per_1m is not None:
            problem = budget_problem(input_cost, output_cost, max_cost_per_1m)
            over_budget = is_active and problem is not None
        result.append(
            StatusRow(
                api_id=api_id,
                is_active=is_active,
                is_free=row.get("isFree") if isinstance(row.get("isFree"), bool) else None,
                input_cost=input_cost,
                output_cost=output_cost,
                last_synced_ms=synced_at,
                age_s=None if synced_at is None else max((now_ms - synced_at) / 1000, 0.0),
                stale=(api_id in stale) if checked else None,
                stale_reasons=stale.get(api_id, ()),
                over_budget=over_budget,
            )
        )
    return sorted(result, key=lambda status: status.api_id)


def format_age(seconds: float | None) -> str:
    """`42s`, `5m`, `3h`, `2d` ago — the largest whole unit."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:g}"


def _flag(value: bool | None) -> str:
    return "?" if value is None else "yes" if value else "no"


HEADERS = ("MODEL", "ACTIVE", "FREE", "INPUT/1M", "OUTPUT/1M", "LAST SYNCED", "STALE")


def render_status(rows: Sequence[StatusRow]) -> str:
    """A plain-text table, columns padded to their widest cell (an OVER BUDGET column when a
    budget was given), then the counts and what stale was judged against."""
    if not rows:
        return "No synced models yet (run sync-models first).\n"
    budget = any(row.over_budget is not None for row in rows)
    headers = (*HEADERS, "OVER BUDGET") if budget else HEADERS
    cells = [
        (
            printable(row.api_id),
            _flag(row.is_active),
            _flag(row.is_free),
            _money(row.input_cost),
            _money(row.output_cost),
            format_age(row.age_s),
            _flag(row.stale),
            *((_flag(row.over_budget) if row.is_active else "-",) if budget else ()),
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [headers, *cells]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [headers, *cells]
    ]
    active = sum(1 for row in rows if row.is_active)
    stale = sum(1 for row in rows if row.stale)
    checked = any(row.stale is not None for row in rows)
    lines.append("")
    counts = f"{len(rows)} synced, {active} active, {stale} stale"
    if budget:
        counts += f", {sum(1 for row in rows if row.over_budget)} over budget"
    lines.append(counts)
    lines.append(
        f"stale: not in {STALE_SOURCE}" if checked else "stale: unknown (OpenRouter not reached)"
    )
    return "\n".join(lines) + "\n"


def status_document(rows: Sequence[StatusRow]) -> dict[str, Any]:
    """The `--json` document of `status`."""
    return {
        "models": [
            {
                "apiId": row.api_id,
                "isActive": row.is_active,
                "isFree": row.is_free,
                "inputCostPer1MTokens": row.input_cost,
                "outputCostPer1MTokens": row.output_cost,
                "lastSyncedAt": row.last_synced_ms,
                "ageSeconds": row.age_s,
                "stale": row.stale,
                "staleReasons": list(row.stale_reasons),
                "overBudget": row.over_budget,
            }
            for row in rows
        ],
        "staleCheckedAgainst": (
            STALE_SOURCE if any(row.stale is not None for row in rows) else None
        ),
    }
