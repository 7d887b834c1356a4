"""Activation through Convex: budget checks, --force, unknown ids, costs always shown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.local_backend import LocalBackend

from sync_client.activation import (
    UnknownModelError,
    exit_code,
    render_results,
    results_document,
    set_models_active,
)
from sync_client.alerts import budget_problem
from sync_client.convex_store import ConvexStore
from sync_client.convex_types import ModelRow
from sync_client.errors import ConfigError
from sync_client.settings import Secret


def model_args(api_id: str, input_cost: float | None, output_cost: float | None) -> dict[str, Any]:
    args: dict[str, Any] = {
        "apiIdentifier": api_id,
        "modelName": api_id.upper(),
        "provider": api_id.split("/")[0],
        "slug": api_id.replace("/", "-").replace(":", "-"),
        "isFree": input_cost == output_cost == 0,
    }
    if input_cost is not None:
        args["inputCostPer1MTokens"] = input_cost
    if output_cost is not None:
        args["outputCostPer1MTokens"] = output_cost
    return args


@pytest.fixture
def store(backend: LocalBackend) -> Iterator[ConvexStore]:
    with ConvexStore(backend.url, Secret(backend.admin_key), 15.0) as opened:
        opened.upsert(model_args("acme/cheap", 0.2, 0.8))
        opened.upsert(model_args("acme/pricey", 3.0, 15.0))
        opened.upsert(model_args("acme/gratis:free", 0.0, 0.0))
        opened.upsert(model_args("acme/router", None, None))
        yield opened


def active_ids(store: ConvexStore) -> set[str]:
    return {row["apiIdentifier"] for row in store.list_models() if row["isActive"]}


def test_within_budget_is_activated_and_above_is_refused(store: ConvexStore) -> None:
    results = set_models_active(
        store, ["acme/cheap", "acme/pricey", "acme/gratis:free"], active=True, max_cost_per_1m=1.0
    )
    assert [r.outcome for r in results] == ["activated", "refused", "activated"]
    assert active_ids(store) == {"acme/cheap", "acme/gratis:free"}
    assert exit_code(results) == 1
    text = render_results(results)
    assert "[ON] acme/cheap — input $0.2/1M, output $0.8/1M" in text
    assert (
        "[REFUSED] acme/pricey — input $3/1M, output $15/1M — input $3/1M and output $15/1M" in text
    )
    assert "--force" in text
    assert "[ON] acme/gratis:free — free" in text


def test_force_activates_above_budget_and_says_so(store: ConvexStore) -> None:
    results = set_models_active(
        store, ["acme/pricey"], active=True, max_cost_per_1m=10.0, force=True
    )
    assert results[0].outcome == "activated"
    assert "forced: output $15/1M exceeds the budget of $10/1M" in render_results(results)
    assert active_ids(store) == {"acme/pricey"}
    assert exit_code(results) == 0


def test_an_active_model_over_budget_is_said_to_be_active_not_refused(
    store: ConvexStore,
) -> None:
    store.set_active("acme/pricey", True)
    results = set_models_active(store, ["acme/pricey"], active=True, max_cost_per_1m=10.0)
    assert results[0].outcome == "unchanged"
    assert results[0].reason == (
        "already active, and over budget: output $15/1M exceeds the budget of $10/1M "
        "(deactivate it to stop)"
    )
    assert results_document(results)["results"][0]["outcome"] == "unchanged"
    assert render_results(results).startswith("[SAME] acme/pricey")
    assert active_ids(store) == {"acme/pricey"}


def test_unknown_cost_is_refused_under_a_budget_but_not_without_one(store: ConvexStore) -> None:
    refused = set_models_active(store, ["acme/router"], active=True, max_cost_per_1m=100.0)
    assert refused[0].outcome == "refused" and "unknown" in (refused[0].reason or "")
    assert "input unknown, output unknown" in render_results(refused)
    assert active_ids(store) == set()
    allowed = set_models_active(store, ["acme/router"], active=True)
    assert allowed[0].outcome == "activated"


def test_unknown_ids_change_nothing(store: ConvexStore) -> None:
    with pytest.raises(UnknownModelError) as caught:
        set_models_active(store, ["acme/cheap", "nope/one", "nope/two"], active=True)
    assert caught.value.api_ids == ["nope/one", "nope/two"]
    assert "nope/one, nope/two" in str(caught.value)
    assert caught.value.exit_code == 2
    assert active_ids(store) == set()


def test_deactivate_and_repeat_are_reported(store: ConvexStore) -> None:
    set_models_active(store, ["acme/cheap"], active=True)
    again = set_models_active(store, ["acme/cheap", "acme/cheap"], active=True)
    assert [r.outcome for r in again] == ["unchanged"]
    off = set_models_active(store, ["acme/cheap", "acme/pricey"], active=False)
    assert [r.outcome for r in off] == ["deactivated", "unchanged"]
    assert active_ids(store) == set()
    document = results_document(off)
    assert document["results"][0] == {
        "apiId": "acme/cheap",
        "outcome": "deactivated",
        "inputCostPer1MTokens": 0.2,
        "outputCostPer1MTokens": 0.8,
        "isFree": False,
    }


def test_budget_rules() -> None:
    assert budget_problem(1.0, 1.0, 1.0) is None
    assert budget_problem(1.0, 1.01, 1.0) == "output $1.01/1M exceeds the budget of $1/1M"
    assert budget_problem(None, 0.0, 5.0) is not None
    with pytest.raises(ConfigError, match="0 or more"):
        set_models_active(_NoStore(), ["a/b"], active=True, max_cost_per_1m=-1.0)


class _NoStore:
    def list_models(self, synced_only: bool = False) -> list[ModelRow]:
        raise AssertionError("not reached")

    def set_active(self, api_id: str, is_active: bool) -> ModelRow:
        raise AssertionError("not reached")
