"""The guard on active models: what a sync saw change for a model someone turned on.

For each model that is active, synced in this run and written (or planned) without error,
the prices just mapped are compared with the ones stored before the run, and OpenRouter's
`expiration_date` is read:

- `price-increase`: the input or output cost per 1M tokens rose;
- `now-paid`: the row was free and now costs money, a known price above 0 (instead of
  `price-increase`);
- `over-budget`: with a budget, the input or output cost is above it, or unknown (the rule
  of `activate --max-cost-per-1m`);
- `expiring`: OpenRouter retires it within `expiring_within_days`, or already did.

Inactive models never alert; a ranked one that is expiring gets a warning instead.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NotRequired, TypedDict

if TYPE_CHECKING:
    from sync_client.convex_types import UpsertArgs

AlertReason = Literal["price-increase", "now-paid", "over-budget", "expiring"]

DEFAULT_EXPIRING_WITHIN_DAYS = 30
CostField = Literal["inputCostPer1MTokens", "outputCostPer1MTokens"]
COST_FIELDS: tuple[CostField, CostField] = ("inputCostPer1MTokens", "outputCostPer1MTokens")
#: The functions the guard needs beyond a sync's own (deploy them to turn it on).
GUARD_FUNCTIONS = "queries/aiModels:listActive"


def today_utc() -> dt.date:
    """Today's date in UTC (OpenRouter's dates carry no zone)."""
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class GuardRules:
    """What counts as an alert: the budget (USD per 1M tokens, None for none) and how close a
    retirement must be; `today` is the date retirements are measured from."""

    max_cost_per_1m: float | None = None
    expiring_within_days: int = DEFAULT_EXPIRING_WITHIN_DAYS
    today: dt.date = field(default_factory=today_utc)


class AlertValues(TypedDict):
    """A model's prices on one side of an alert (None: unknown), as `--json` shows them."""

    isFree: bool
    inputCostPer1MTokens: float | None
    outputCostPer1MTokens: float | None
    #: After the sync, for `expiring`: OpenRouter's retirement date, `YYYY-MM-DD`.
    expirationDate: NotRequired[str]


@dataclass(frozen=True)
class Alert:
    """One active model's alert: its reasons, and the values before and after the sync
    (`after` holds `expirationDate` when the model is expiring)."""

    api_id: str
    reasons: tuple[AlertReason, ...]
    before: AlertValues
    after: AlertValues
    budget_problem: str | None = None


@dataclass(frozen=True)
class ExpiringWarning:
    """A ranked model that is inactive but retired (or soon to be) by OpenRouter."""

    api_id: str
    expiration_date: dt.date
    retired: bool

    def message(self, show: Callable[[str], str]) -> str:
        """The warning line (the id from outside shown through `show`)."""
        when = "retired on" if self.retired else "to be retired on"
        date = self.expiration_date.isoformat()
        return f"{show(self.api_id)}: {when} {date}: replace it in the ranked list"


def expiring_warning(
    api_id: str, expiration: dt.date | None, rules: GuardRules
) -> ExpiringWarning | None:
    """The warning for a ranked inactive model, when it is expiring."""
    if expiration is None or not is_expiring(expiration, rules):
        return None
    return ExpiringWarning(api_id, expiration, retired=expiration <= rules.today)


def _cost(values: Mapping[str, Any], name: str) -> float | None:
    value = values.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _prices(values: Mapping[str, Any]) -> AlertValues:
    return {
        "isFree": values.get("isFree") is True,
        "inputCostPer1MTokens": _cost(values, "inputCostPer1MTokens"),
        "outputCostPer1MTokens": _cost(values, "outputCostPer1MTokens"),
    }


def budget_problem(
    input_cost: float | None, output_cost: float | None, max_cost_per_1m: float
) -> str | None:
    """Why costs break the budget, or None when both are known and within it."""
    if input_cost is None or output_cost is None:
        return f"its cost is unknown, so it cannot be checked against ${max_cost_per_1m:g}/1M"
    over = [
        f"{side} ${cost:g}/1M"
        for side, cost in (("input", input_cost), ("output", output_cost))
        if cost > max_cost_per_1m
    ]
    if over:
        return f"{' and '.join(over)} exceeds the budget of ${max_cost_per_1m:g}/1M"
    return None


def _rose(old: float | None, new: float | None) -> bool:
    # Rows the original sync wrote hold binary-float noise (0.19999999999999998 for $0.2):
    # correcting it is no price increase.
    return old is not None and new is not None and new > old and not math.isclose(old, new)


def is_expiring(expiration: dt.date | None, rules: GuardRules) -> bool:
    """Whether a retirement date is past or within the rules' window."""
    return expiration is not None and (expiration - rules.today).days <= rules.expiring_within_days


def model_alert(
    stored: Mapping[str, Any],
    args: UpsertArgs,
    expiration: dt.date | None,
    rules: GuardRules,
) -> Alert | None:
    """The alert of an active model whose row held `stored` and now gets `args`, if any."""
    before, after = _prices(stored), _prices(args)
    reasons: list[AlertReason] = []
    if before["isFree"] and any(after[name] for name in COST_FIELDS):
        reasons.append("now-paid")
    elif any(_rose(before[name], after[name]) for name in COST_FIELDS):
        reasons.append("price-increase")
    problem = None
    if rules.max_cost_per_1m is not None:
        problem = budget_problem(
            after["inputCostPer1MTokens"], after["outputCostPer1MTokens"], rules.max_cost_per_1m
        )
        if problem is not None:
            reasons.append("over-budget")
    if is_expiring(expiration, rules):
        assert expiration is not None
        reasons.append("expiring")
        after["expirationDate"] = expiration.isoformat()
    if not reasons:
        return None
    return Alert(str(args["apiIdentifier"]), tuple(reasons), before, after, problem)


def alert_line(alert: Alert, show: Callable[[str], str]) -> str:
    """`  [ALERT] id — price-increase: input $1/1M → $2/1M; …` (text from outside via `show`)."""
    parts = []
    for reason in alert.reasons:
        if reason in ("price-increase", "now-paid"):
            changes = [
                f"{label} {_money(alert.before[name])} → {_money(alert.after[name])}"
                for label, name in (("input", COST_FIELDS[0]), ("output", COST_FIELDS[1]))
                if alert.before[name] != alert.after[name]
            ]
            parts.append(f"{reason}: {', '.join(changes) or 'free → paid'}")
        elif reason == "over-budget":
            parts.append(f"{reason}: {alert.budget_problem}")
        else:
            parts.append(f"{reason}: retired on {alert.after['expirationDate']}")
    return f"  [ALERT] {show(alert.api_id)} — {'; '.join(parts)}"


def _money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:g}/1M"


def alert_document(alert: Alert) -> dict[str, Any]:
    """One item of the `--json` document's `alerts`."""
    return {
        "apiId": alert.api_id,
        "reasons": list(alert.reasons),
        "before": dict(alert.before),
        "after": dict(alert.after),
    }
