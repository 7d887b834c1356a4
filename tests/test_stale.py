"""Stale models: found among synced rows, deactivated through Convex only when asked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.local_backend import LocalBackend

from sync_client.convex_store import ConvexStore
from sync_client.settings import Secret
from sync_client.stale import (
    VANISHED,
    deactivate_stale,
    find_stale,
    render_stale,
    stale_document,
)


def model_args(api_id: str) -> dict[str, Any]:
    return {
        "apiIdentifier": api_id,
        "modelName": api_id.upper(),
        "provider": api_id.split("/")[0],
        "slug": api_id.replace("/", "-"),
        "isFree": False,
        "inputCostPer1MTokens": 1.0,
        "outputCostPer1MTokens": 2.0,
    }


@pytest.fixture
def store(backend: LocalBackend) -> Iterator[ConvexStore]:
    with ConvexStore(backend.url, Secret(backend.admin_key), 15.0) as opened:
        yield opened


ROWS: list[dict[str, Any]] = [
    {"apiIdentifier": "a/kept", "syncedFromOpenRouter": True, "isActive": True},
    {"apiIdentifier": "a/dropped", "syncedFromOpenRouter": True, "isActive": True},
    {"apiIdentifier": "a/vanished", "syncedFromOpenRouter": True, "isActive": False},
    {"apiIdentifier": "a/handmade", "isActive": True},
    {"apiIdentifier": "a/old-import", "syncedFromOpenRouter": False, "isActive": True},
]


def test_rows_out_of_the_list_or_the_catalog_are_stale_and_others_are_not() -> None:
    stale = find_stale(
        ROWS,
        listed_ids={"a/kept", "a/vanished"},
        list_label="paid",
        catalog_ids={"a/kept", "a/dropped", "a/handmade"},
    )
    assert [(s.api_id, s.reasons, s.is_active) for s in stale] == [
        ("a/dropped", ("not in the paid list",), True),
        ("a/vanished", (VANISHED,), False),
    ]


def test_a_check_without_its_collection_is_skipped() -> None:
    assert find_stale(ROWS, listed_ids=None, catalog_ids=None) == []
    only_catalog = find_stale(ROWS, listed_ids=None, catalog_ids={"a/kept", "a/dropped"})
    assert [s.api_id for s in only_catalog] == ["a/vanished"]


def test_reporting_without_deactivating_points_to_the_flag() -> None:
    stale = find_stale(ROWS, listed_ids={"a/kept"}, list_label="paid")
    text = render_stale(stale)
    assert "[STALE] a/dropped — not in the paid list (active)" in text
    assert "--deactivate-stale" in text
    assert render_stale([]) == ""


def test_deactivating_through_convex_touches_only_active_stale_rows(store: ConvexStore) -> None:
    for api_id in ("acme/kept", "acme/dropped", "acme/dropped-inactive", "acme/vanished"):
        store.upsert(model_args(api_id))
    for api_id in ("acme/kept", "acme/dropped", "acme/vanished"):
        store.set_active(api_id, True)

    rows = store.list_models(synced_only=True)
    stale = find_stale(
        rows,
        listed_ids={"acme/kept", "acme/vanished"},
        list_label="paid",
        catalog_ids={"acme/kept", "acme/dropped", "acme/dropped-inactive"},
    )
    assert [s.api_id for s in stale] == ["acme/dropped", "acme/dropped-inactive", "acme/vanished"]

    outcomes = deactivate_stale(store, stale)
    assert [(o.api_id, o.ok) for o in outcomes] == [("acme/dropped", True), ("acme/vanished", True)]
    active = {r["apiIdentifier"]: r["isActive"] for r in store.list_models(synced_only=True)}
    assert active == {
        "acme/kept": True,
        "acme/dropped": False,
        "acme/dropped-inactive": False,
        "acme/vanished": False,
    }
    text = render_stale(stale, outcomes)
    assert "acme/dropped — not in the paid list (deactivated)" in text
    assert "acme/dropped-inactive — not in the paid list (inactive)" in text
    document = stale_document(stale, outcomes)
    assert document[0] == {
        "apiId": "acme/dropped",
        "isActive": True,
        "reasons": ["not in the paid list"],
        "deactivated": True,
    }


def test_a_row_deleted_meanwhile_is_reported_not_fatal(store: ConvexStore) -> None:
    store.upsert(model_args("acme/kept"))
    ghost = find_stale(
        [{"apiIdentifier": "acme/ghost", "syncedFromOpenRouter": True, "isActive": True}],
        listed_ids=set(),
    )
    outcomes = deactivate_stale(store, ghost)
    assert len(outcomes) == 1 and not outcomes[0].ok
    assert "NOT_FOUND" in (outcomes[0].error or "")
