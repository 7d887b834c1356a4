"""Turn models on or off (`mutations/activation:setActive`), with a cost budget for turning on.

Every id must name a row in the table; otherwise nothing is changed and the error lists the
unknown ids. With a budget (USD per 1M tokens), a model whose input or output cost is above
it — or unknown — is refused unless forced; the others are still activated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .alerts import budget_problem
from .errors import ConfigError, ConvexCallError, ExitCode
from .safe_text import printable
from .stale import ActivationStore
from .sync import rows_by_api_id

Outcome = Literal["activated", "deactivated", "unchanged", "refused", "failed"]


class UnknownModelError(ConfigError):
    """Ids that name no row of the aiModels table."""

    def __init__(self, api_ids: Sequence[str]) -> None:
        self.api_ids = list(api_ids)
        names = ", ".join(self.api_ids)
        super().__init__(
            f"unknown model id{'s' if len(self.api_ids) != 1 else ''}: {names}; nothing changed",
            hint="sync the model first (sync-models --model ID), or check `sync-models status`",
        )


@dataclass(frozen=True)
class ActivationResult:
    """What happened to one model, with the costs that were checked."""

    api_id: str
    outcome: Outcome
    input_cost: float | None
    output_cost: float | None
    is_free: bool | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome not in ("refused", "failed")


def exit_code(results: Sequence[ActivationResult]) -> int:
    """0 when every model ended as asked, else 1."""
    return int(ExitCode.OK if all(result.ok for result in results) else ExitCode.PARTIAL)


def _unique(api_ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(api_ids))


def _cost(row: Mapping[str, Any], name: str) -> float | None:
    value = row.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def set_models_active(
    store: ActivationStore,
    api_ids: Sequence[str],
    *,
    active: bool,
    max_cost_per_1m: float | None = None,
    force: bool = False,
) -> list[ActivationResult]:
    """Activate (or deactivate) each id; see the module docstring for the rules."""
    if max_cost_per_1m is not None and max_cost_per_1m < 0:
        raise ConfigError(f"--max-cost-per-1m must be 0 or more, got {max_cost_per_1m:g}")
    ids = _unique(api_ids)
    stored = store.list_models()
    rows = rows_by_api_id(stored)
    unknown = [api_id for api_id in ids if api_id not in rows]
    if unknown:
        raise UnknownModelError(unknown)
    flags = _active_flags(stored)
    return [
        _set_one(store, api_id, rows[api_id], flags[api_id], active, max_cost_per_1m, force)
        for api_id in ids
    ]


def _active_flags(rows: Sequence[Mapping[str, Any]]) -> dict[str, set[bool]]:
    """Each id's `isActive` values: one, or two when an old deployment's duplicates disagree."""
    flags: dict[str, set[bool]] = {}
    for row in rows:
        flags.setdefault(str(row.get("apiIdentifier")), set()).add(bool(row.get("isActive")))
    return flags


def _set_one(
    store: ActivationStore,
    api_id: str,
    row: Mapping[str, Any],
    flags: set[bool],
    active: bool,
    max_cost_per_1m: float | None,
    force: bool,
) -> ActivationResult:
    input_cost = _cost(row, "inputCostPer1MTokens")
    output_cost = _cost(row, "outputCostPer1MTokens")
    is_free = row.get("isFree") if isinstance(row.get("isFree"), bool) else None

    def result(outcome: Outcome, reason: str | None = None) -> ActivationResult:
        return ActivationResult(api_id, outcome, input_cost, output_cost, is_free, reason)

    problem = None
    if active and max_cost_per_1m is not None:
        problem = budget_problem(input_cost, output_cost, max_cost_per_1m)
    if flags == {active}:  # every row of the model (setActive sets them all)
        if problem is not None:  # nothing to refuse: it is on, and the person should know
            return result(
                "unchanged", f"already active, and over budget: {problem} (deactivate it to stop)"
            )
        return result("unchanged", f"already {'active' if active else 'inactive'}")
    if problem is not None and not force:
        return result("refused", problem + " (use --force to activate anyway)")
    forced = None if problem is None else f"forced: {problem}"
    try:
        store.set_active(api_id, active)
    except ConvexCallError as error:
        return result("failed", str(error))
    return result("activated" if active else "deactivated", forced)


def format_costs(result: ActivationResult) -> str:
    """`input $3/1M, output $15/1M` (or `free`, or `cost unknown`)."""
    if result.is_free and not result.input_cost and not result.output_cost:
        return "free"

    def money(value: float | None) -> str:
        return "unknown" if value is None else f"${value:g}/1M"

    return f"input {money(result.input_cost)}, output {money(result.output_cost)}"


_TAGS: dict[Outcome, str] = {
    "activated": "ON",
    "deactivated": "OFF",
    "unchanged": "SAME",
    "refused": "REFUSED",
    "failed": "ERR",
}


def render_results(results: Sequence[ActivationResult]) -> str:
    """One line per model: what happened, its costs, and why when it did not happen."""
    lines = []
    for result in results:
        line = f"[{_TAGS[result.outcome]}] {printable(result.api_id)} — {format_costs(result)}"
        if result.reason:
            line += f" — {printable(result.reason)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def results_document(results: Sequence[ActivationResult]) -> dict[str, Any]:
    """The `--json` document of an activate/deactivate run."""
    return {
        "results": [
            {
                "apiId": result.api_id,
                "outcome": result.outcome,
                "inputCostPer1MTokens": result.input_cost,
                "outputCostPer1MTokens": result.output_cost,
                "isFree": result.is_free,
                **({"reason": result.reason} if result.reason else {}),
            }
            for result in results
        ]
    }
