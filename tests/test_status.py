"""Status: synced rows as a table or JSON, with costs, age and stale flags."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from support.local_backend import LocalBackend

from sync_client.convex_store import ConvexStore
from sync_client.settings import Secret
from sync_client.status import build_status, format_age, render_status, status_document

NOW_MS = 1_800_000_000_000.0


@pytest.fixture
def store(backend: LocalBackend) -> Iterator[ConvexStore]:
    with ConvexStore(backend.url, Secret(backend.admin_key), 15.0) as opened:
        yield opened


ROWS: list[dict[str, Any]] = [
    {
        "apiIdentifier": "b/paid",
        "syncedFromOpenRouter": True,
        "isActive": True,
        "isFree": False,
        "inputCostPer1MTokens": 3.0,
        "outputCostPer1MTokens": 15.0,
        "updatedAt": NOW_MS - 2 * 3600 * 1000,
    },
    {
        "apiIdentifier": "a/free:free",
        "syncedFromOpenRouter": True,
        "isActive": False,
        "isFree": True,
        "inputCostPer1MTokens": 0.0,
        "outputCostPer1MTokens": 0.0,
        "_creationTime": NOW_MS - 3 * 86400 * 1000,
    },
    {"apiIdentifier": "c/handmade", "isActive": True},
]


def test_only_synced_rows_sorted_with_age_and_stale() -> None:
    rows = build_status(ROWS, now_ms=NOW_MS, listed_ids={"b/paid"})
    assert [(r.api_id, r.is_active, r.is_free, r.stale) for r in rows] == [
        ("a/free:free", False, True, True),
        ("b/paid", True, False, False),
    ]
    assert rows[0].age_s == 3 * 86400
    assert rows[1].age_s == 2 * 3600
    assert build_status(ROWS, now_ms=NOW_MS, listed_ids=None)[0].stale is None


def test_the_table_lines_up_and_sums_up() -> None:
    text = render_status(build_status(ROWS, now_ms=NOW_MS, catalog_ids={"b/paid"}))
    lines = text.splitlines()
    assert lines[0].split() == [
        "MODEL",
        "ACTIVE",
        "FREE",
        "INPUT/1M",
        "OUTPUT/1M",
        "LAST",
        "SYNCED",
        "STALE",
    ]
    assert lines[1].split() == ["a/free:free", "no", "yes", "$0", "$0", "3d", "ago", "yes"]
    assert lines[2].split() == ["b/paid", "yes", "no", "$3", "$15", "2h", "ago", "no"]
    column = lines[0].index("ACTIVE")
    assert lines[1][column:].startswith("no") and lines[2][column:].startswith("yes")
    assert lines[-2:] == [
        "2 synced, 1 active, 1 stale",
        "stale: not in OpenRouter's models list, fetched now",
    ]
    unknown = render_status(build_status(ROWS, now_ms=NOW_MS)).splitlines()
    assert unknown[-1] == "stale: unknown (OpenRouter not reached)"


def test_a_budget_marks_the_active_models_over_it() -> None:
    rows = build_status(ROWS, now_ms=NOW_MS, max_cost_per_1m=10.0)
    assert [(row.api_id, row.over_budget) for row in rows] == [
        ("a/free:free", False),
        ("b/paid", True),
    ]
    lines = render_status(rows).splitlines()
    assert lines[0].split()[-2:] == ["OVER", "BUDGET"]
    assert lines[1].split()[-1] == "-" and lines[2].split()[-1] == "yes"
    assert lines[-2] == "2 synced, 1 active, 0 stale, 1 over budget"
    assert status_document(rows)["models"][1]["overBudget"] is True
    assert build_status(ROWS, now_ms=NOW_MS)[1].over_budget is None


def test_ages_use_the_largest_whole_unit() -> None:
    assert [format_age(s) for s in (5, 59, 60, 3599, 3600, 86399, 86400, None)] == [
        "5s ago",
        "59s ago",
        "1m ago",
        "59m ago",
        "1h ago",
        "23h ago",
        "1d ago",
        "-",
    ]


def test_status_of_rows_synced_through_convex(store: ConvexStore) -> None:
    before_ms = time.time() * 1000
    store.upsert(
        {
            "apiIdentifier": "acme/one",
            "modelName": "One",
            "provider": "acme",
            "slug": "acme-one",
            "isFree": False,
            "inputCostPer1MTokens": 0.25,
        }
    )
    store.set_active("acme/one", True)
    rows = build_status(
        store.list_models(synced_only=True), now_ms=time.time() * 1000, listed_ids=set()
    )
    assert len(rows) == 1
    row = rows[0]
    assert (row.api_id, row.is_active, row.input_cost, row.output_cost) == (
        "acme/one",
        True,
        0.25,
        None,
    )
    assert row.last_synced_ms is not None and row.last_synced_ms >= before_ms - 1000
    document = json.loads(json.dumps(status_document(rows)))
    assert document["models"][0]["stale"] is True
    assert document["models"][0]["staleReasons"] == ["not in the configured list"]
