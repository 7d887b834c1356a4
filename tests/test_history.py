"""History: entries built from a sync's results, recorded through Convex, shown newest first."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from support.local_backend import LocalBackend
from support.rows import model_row

from sync_client.after_sync import AfterSync, follow_up_sync
from sync_client.convex_store import BATCH_SIZE, ConvexStore
from sync_client.convex_types import HistoryEntry, ModelRow
from sync_client.history import build_entries, history_document, render_history
from sync_client.settings import Secret
from sync_client.sync import ModelResult, SyncReport


def model_args(api_id: str, input_cost: float, output_cost: float, **extra: Any) -> dict[str, Any]:
    return {
        "apiIdentifier": api_id,
        "modelName": api_id.upper(),
        "provider": api_id.split("/")[0],
        "slug": api_id.replace("/", "-"),
        "isFree": input_cost == output_cost == 0,
        "inputCostPer1MTokens": input_cost,
        "outputCostPer1MTokens": output_cost,
        **extra,
    }


@pytest.fixture
def store(backend: LocalBackend) -> Iterator[ConvexStore]:
    with ConvexStore(backend.url, Secret(backend.admin_key), 15.0) as opened:
        yield opened


def written(api_id: str, rank: int | None, list_name: str) -> ModelResult:
    return ModelResult(api_id, rank, list_name, action="updated", is_free=False)


def test_entries_take_the_stored_values_and_the_rank_and_list() -> None:
    rows = [
        model_row("a/x", _creationTime=2, inputCostPer1MTokens=9.0),
        model_row(
            "a/x",
            _creationTime=1,
            inputCostPer1MTokens=3.0,
            outputCostPer1MTokens=15.0,
            contextWindow=200000,
            description="not tracked",
        ),
        model_row("b/y:free", _creationTime=3, maxCompletionTokens=4096),
        model_row("c/z", _creationTime=4, inputCostPer1MTokens=1.0),
    ]
    results = [
        written("a/x", 1, "paid"),
        written("b/y:free", None, "extra"),
        ModelResult("c/z", 2, "paid", error="outputCostPer1MTokens: must be >= 0"),
        ModelResult("d/w", 3, "paid", planned="update"),
        written("gone/model", 4, "paid"),
    ]
    assert build_entries(results, rows) == [
        {
            "apiIdentifier": "a/x",
            "inputCostPer1MTokens": 3.0,
            "outputCostPer1MTokens": 15.0,
            "contextWindow": 200000,
            "rank": 1,
            "list": "paid",
        },
        {"apiIdentifier": "b/y:free", "maxCompletionTokens": 4096},
    ]


def test_rendering_names_each_change_with_both_sides() -> None:
    rows = [
        {
            "apiIdentifier": "a/x",
            "recordedAt": dt.datetime(2026, 11, 19, 8, 26, tzinfo=dt.UTC).timestamp() * 1000,
            "kind": "changed",
            "changes": [
                {"field": "inputCostPer1MTokens", "from": 3.0, "to": 2.5},
                {"field": "rank", "from": 1.0},
            ],
            "_id": "h1",
        }
    ]
    text = render_history(rows)
    assert text.splitlines() == [
        "2026-11-19 08:26 UTC  a/x  (changed)",
        "    inputCostPer1MTokens: 3 → 2.5",
        "    rank: 1 → (unset)",
    ]
    assert history_document(rows)["history"][0].keys() == {
        "apiIdentifier",
        "recordedAt",
        "kind",
        "changes",
    }
    assert render_history([]) == "No history recorded yet.\n"


def test_recorded_through_convex_only_when_something_changed(store: ConvexStore) -> None:
    store.upsert(model_args("acme/one", 3.0, 15.0, contextWindow=200000))
    store.upsert(model_args("acme/two", 0.2, 0.8))
    results = [written("acme/one", 1, "paid"), written("acme/two", 2, "paid")]

    first = build_entries(results, store.list_models(synced_only=True))
    assert store.record_history(first) == 2
    assert store.record_history(first) == 0, "a replay with no change records nothing"

    store.upsert(model_args("acme/one", 2.5, 15.0, contextWindow=200000))
    reranked = [written("acme/one", 2, "paid"), written("acme/two", 1, "paid")]
    assert store.record_history(build_entries(reranked, store.list_models(synced_only=True))) == 2

    rows = store.history("acme/one")
    assert [row["kind"] for row in rows] == ["changed", "first_seen"]
    text = render_history(rows)
    assert "inputCostPer1MTokens: 3 → 2.5" in text
    assert "rank: 1 → 2" in text
    assert "contextWindow: (unset) → 200000" in text
    assert len(store.history(limit=1)) == 1


class _RowsOnly:
    def __init__(self, rows: list[ModelRow]) -> None:
        self.rows = rows
        self.deactivated: list[str] = []

    def list_models(self, synced_only: bool = False) -> list[ModelRow]:
        return self.rows

    def set_active(self, api_id: str, is_active: bool) -> ModelRow:
        self.deactivated.append(api_id)
        return model_row(api_id, isActive=is_active)


def test_a_catalog_sized_history_is_sent_in_chunks_and_a_dry_run_records_nothing() -> None:
    ids = [f"vendor/model-{n}" for n in range(9000)]
    rows = [model_row(i, syncedFromOpenRouter=True, contextWindow=8) for i in ids]
    report = SyncReport(list_synced="catalog")
    report.results = [ModelResult(i, None, "catalog", action="inserted") for i in ids]
    calls: list[int] = []

    def record(entries: list[HistoryEntry]) -> int:
        calls.append(len(entries))
        return len(entries)

    def follow(dry_run: bool) -> AfterSync:
        report.dry_run = dry_run
        return follow_up_sync(
            report,
            _RowsOnly(rows),
            record_history=record,
            catalog_ids=set(ids),
            deactivate_stale=True,
        )

    after = follow(dry_run=False)
    assert calls == [BATCH_SIZE] * (9000 // BATCH_SIZE) + [9000 % BATCH_SIZE]
    assert after.history_recorded == 9000 and after.ok and after.stale == []
    calls.clear()
    assert follow(dry_run=True).history_recorded is None
    assert calls == []
