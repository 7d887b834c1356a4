"""The guard's rules for one active model (pure logic; end to end in test_guard.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from sync_client.alerts import GuardRules, expiring_warning, model_alert
from sync_client.convex_types import UpsertArgs
from sync_client.mapping import expiration_date
from sync_client.openrouter import OpenRouterModel

TODAY = dt.date(2026, 1, 10)
RULES = GuardRules(today=TODAY)


def args(input_cost: float | None, output_cost: float | None, free: bool = False) -> UpsertArgs:
    result: UpsertArgs = {
        "apiIdentifier": "a/b",
        "modelName": "B",
        "provider": "a",
        "slug": "a-b",
        "isFree": free,
    }
    if input_cost is not None:
        result["inputCostPer1MTokens"] = input_cost
    if output_cost is not None:
        result["outputCostPer1MTokens"] = output_cost
    return result


def row(input_cost: float | None, output_cost: float | None, free: bool = False) -> dict[str, Any]:
    return {**args(input_cost, output_cost, free), "isActive": True}


def reasons(stored: dict[str, Any], new: UpsertArgs, **rules: Any) -> tuple[str, ...]:
    expiration = rules.pop("expiration", None)
    alert = model_alert(stored, new, expiration, GuardRules(today=TODAY, **rules))
    return () if alert is None else alert.reasons


@pytest.mark.parametrize(
    ("stored", "new", "expected"),
    [
        (row(3, 15), args(3, 15), ()),
        (row(3, 15), args(3, 18), ("price-increase",)),
        (row(3, 15), args(4, 15), ("price-increase",)),
        (row(3, 15), args(2, 12), ()),
        (row(3, 15), args(None, None), ()),  # unknown now: no rise to report (a budget would)
        (row(0.19999999999999998, 0.5), args(0.2, 0.5), ()),  # float noise corrected
        (row(0, 0, free=True), args(0.4, 1.6), ("now-paid",)),
        (row(0, 0, free=True), args(None, None), ()),  # not free, but no price known
        (row(0, 0, free=True), args(0, 0, free=True), ()),
    ],
)
def test_price_rules(stored: dict[str, Any], new: UpsertArgs, expected: tuple[str, ...]) -> None:
    assert reasons(stored, new) == expected


def test_the_budget_is_the_rule_of_activate() -> None:
    assert reasons(row(3, 15), args(3, 15), max_cost_per_1m=15) == ()
    assert reasons(row(3, 15), args(3, 15), max_cost_per_1m=10) == ("over-budget",)
    assert reasons(row(3, 15), args(None, 15), max_cost_per_1m=100) == ("over-budget",)
    alert = model_alert(row(3, 15), args(3, 18), None, GuardRules(10, today=TODAY))
    assert alert is not None and alert.reasons == ("price-increase", "over-budget")
    assert alert.budget_problem == "output $18/1M exceeds the budget of $10/1M"


@pytest.mark.parametrize(
    ("days", "within", "expiring"),
    [(30, 30, True), (31, 30, False), (0, 30, True), (-100, 30, True), (5, 0, False)],
)
def test_expiring_counts_from_today(days: int, within: int, expiring: bool) -> None:
    date = TODAY + dt.timedelta(days=days)
    found = reasons(row(1, 1), args(1, 1), expiration=date, expiring_within_days=within)
    assert found == (("expiring",) if expiring else ())
    alert = model_alert(row(1, 1), args(1, 1), date, GuardRules(today=TODAY))
    if alert is not None:
        assert alert.after["expirationDate"] == date.isoformat()


def test_a_warning_says_retired_or_to_be_retired() -> None:
    past = expiring_warning("a/b", TODAY, RULES)
    ahead = expiring_warning("a/b", TODAY + dt.timedelta(days=3), RULES)
    assert past is not None and past.message(str).startswith("a/b: retired on 2026-01-10")
    assert ahead is not None and "to be retired on 2026-01-13" in ahead.message(str)
    assert expiring_warning("a/b", None, RULES) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("2026-02-17", dt.date(2026, 2, 17)),
        ("2026-02-17T00:00:00Z", dt.date(2026, 2, 17)),
        ("2026-02-17 12:30:00+02:00", dt.date(2026, 2, 17)),
    ],
)
def test_expiration_dates_openrouter_writes(value: str | None, expected: dt.date | None) -> None:
    model = OpenRouterModel(id="a/b", name="B", expiration_date=value)
    assert expiration_date(model) == expected


FULLWIDTH_DATE = "\uff12\uff10\uff12\uff16-02-17"


@pytest.mark.parametrize("value", ["", "soon", "2026-02-30", "17/02/2026", FULLWIDTH_DATE])
def test_any_other_expiration_date_is_a_value_error_naming_the_field(value: str) -> None:
    with pytest.raises(ValueError, match="expiration_date"):
        expiration_date(OpenRouterModel(id="a/b", name="B", expiration_date=value))
