"""`--catalog`: the batched path lands the same rows as per-model upserts, through the local
backend; chunks respect their limits; a bad item is reported while the rest lands."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest
from support.local_backend import LocalBackend
from support.openrouter_fixtures import every_snapshot
from support.openrouter_server import OpenRouterServer, load_snapshot
from typer.testing import CliRunner

from sync_client.catalog_sync import sync_catalog
from sync_client.cli import app
from sync_client.convex_store import (
    BATCH_SIZE,
    BatchItemResult,
    ConvexStore,
    chunk_items,
    encoded_size,
)
from sync_client.convex_types import ModelRow
from sync_client.errors import ConvexUnavailableError, ExitCode
from sync_client.history import build_entries
from sync_client.openrouter import Catalog, OpenRouterModel, parse_catalog
from sync_client.settings import Secret
from sync_client.sync import NOT_LISTED, SyncTarget, sync_models

OLD_SNAPSHOT = "models-2025-05-23.json"
NEW_SNAPSHOT = "models-2025-12-02.json"
# Fields Convex or the clock sets; everything else must match between the two paths.
VOLATILE = {"_id", "_creationTime", "updatedAt"}
# A positive whole number, so mapping keeps it, but beyond 2**53: the SDK refuses to encode
# it and the whole call fails before reaching the function.
UNSAFE_CONTEXT = 2**60

runner = CliRunner()


def snapshot_catalog(name: str) -> Catalog:
    return parse_catalog(json.dumps(load_snapshot(name)))


def first(name: str, count: int) -> Catalog:
    """The snapshot's first `count` models."""
    return Catalog(snapshot_catalog(name).models[:count])


def open_store(backend: LocalBackend) -> AbstractContextManager[ConvexStore]:
    return ConvexStore(backend.url, Secret(backend.admin_key), timeout_s=20)


def comparable_rows(backend: LocalBackend) -> dict[str, dict[str, Any]]:
    with open_store(backend) as store:
        rows = store.list_models()
    by_id = {
        row["apiIdentifier"]: {k: v for k, v in row.items() if k not in VOLATILE} for row in rows
    }
    assert len(by_id) == len(rows), "one row per model"
    return by_id


def per_model_sync(backend: LocalBackend, catalog: Catalog) -> None:
    targets = [SyncTarget(model.id, None, "catalog") for model in catalog]
    report = sync_models(
        targets,
        fetch_catalog=lambda: catalog,
        open_store=lambda: open_store(backend),
        list_synced="catalog",
    )
    assert report.errors == 0


def catalog_sync(backend: LocalBackend, catalog: Catalog, max_items: int = BATCH_SIZE) -> Any:
    return sync_catalog(
        fetch_catalog=lambda: catalog,
        open_store=lambda: open_store(backend),
        max_items=max_items,
    )


def activate(backend: LocalBackend, api_ids: Sequence[str]) -> None:
    with open_store(backend) as store:
        for api_id in api_ids:
            store.set_active(api_id, True)


def test_batched_rows_equal_per_model_rows_through_insert_and_update(
    backend: LocalBackend,
) -> None:
    old, new = snapshot_catalog(OLD_SNAPSHOT), snapshot_catalog(NEW_SNAPSHOT)
    kept = [model.id for model in new if model.id in old][:3]
    assert len(kept) == 3

    per_model_sync(backend, old)
    activate(backend, kept)
    per_model_sync(backend, new)
    expected = comparable_rows(backend)

    backend.reset()
    first = catalog_sync(backend, old)
    assert (first.inserted, first.updated, first.errors) == (len(old), 0, 0)
    activate(backend, kept)
    second = catalog_sync(backend, new)
    actual = comparable_rows(backend)

    assert second.errors == 0
    assert second.updated == sum(1 for model in new if model.id in old)
    assert second.inserted == len(new) - second.updated
    assert actual == expected
    assert {api_id for api_id, row in actual.items() if row["isActive"]} == set(kept)
    assert all(r.rank is None and r.list_name == "catalog" for r in second.results)


def with_model(catalog: Catalog, position: int, **changes: Any) -> Catalog:
    """The catalog with one model replaced by a copy carrying `changes` (by default a new id)."""
    models = list(catalog)
    original = models[position]
    models[position] = original.model_copy(update={"id": original.id + "-crafted", **changes})
    return Catalog(models)


def test_an_item_the_rules_reject_is_reported_and_every_other_item_lands_in_small_chunks(
    backend: LocalBackend,
) -> None:
    # A blank id passes the catalog's schema and mapping; upsertModels' rules refuse it.
    catalog = with_model(first(NEW_SNAPSHOT, 10), 4, id=" ")
    before = backend.stats()["mutations"]

    report = catalog_sync(backend, catalog, max_items=3)

    assert backend.stats()["mutations"] - before == math.ceil(10 / 3)
    assert [r.api_id for r in report.results] == [m.id for m in catalog]
    (failed,) = [r for r in report.results if not r.ok]
    assert failed.api_id == " "
    assert failed.error is not None and "apiIdentifier" in failed.error
    assert report.exit_code == ExitCode.PARTIAL
    rows = comparable_rows(backend)
    assert set(rows) == {m.id for m in catalog} - {" "}
    assert not any(row["isActive"] for row in rows.values())


def test_an_item_that_fails_its_whole_call_is_isolated_by_halving(backend: LocalBackend) -> None:
    catalog = with_model(first(NEW_SNAPSHOT, 8), 5, context_length=UNSAFE_CONTEXT)
    poisoned = list(catalog.ids())[5]

    report = catalog_sync(backend, catalog)

    (failed,) = [r for r in report.results if not r.ok]
    assert failed.api_id == poisoned
    assert failed.error is not None and str(UNSAFE_CONTEXT) in failed.error
    assert set(comparable_rows(backend)) == {m.id for m in catalog} - {poisoned}
    assert report.inserted == 7


def test_a_malformed_model_is_that_items_error_and_every_other_item_lands(
    backend: LocalBackend,
) -> None:
    models = load_snapshot(NEW_SNAPSHOT)["data"][:6]
    models[2] = {**models[2], "context_length": "131072"}
    broken = models[2]["id"]

    report = catalog_sync(backend, parse_catalog(json.dumps({"data": models})))

    (failed,) = [r for r in report.results if not r.ok]
    assert failed.api_id == broken
    assert failed.error == (
        "OpenRouter's data for this model has an unexpected shape: "
        'context_length: expected an integer, got "131072"'
    )
    assert report.exit_code == ExitCode.PARTIAL
    assert report.inserted == 5
    assert set(comparable_rows(backend)) == {m["id"] for m in models} - {broken}


def test_dry_run_plans_against_the_rows_and_writes_nothing(backend: LocalBackend) -> None:
    catalog = first(NEW_SNAPSHOT, 6)
    catalog_sync(backend, Catalog(catalog.models[:2]))
    changed = with_model(catalog, 0, name="Renamed")  # a new id: planned as an insert
    before = backend.stats()["mutations"]

    report = sync_catalog(
        fetch_catalog=lambda: changed, open_store=lambda: open_store(backend), dry_run=True
    )

    assert backend.stats()["mutations"] == before
    assert [r.planned for r in report.results] == ["insert", "unchanged"] + ["insert"] * 4


def test_chunks_respect_the_item_and_byte_limits() -> None:
    items = [{"apiIdentifier": f"p/m{n}", "description": "x" * (n * 10)} for n in range(50)]
    sizes = [encoded_size(item) + 1 for item in items]
    limit = 2 + sum(sizes[:7])

    chunks = list(chunk_items(items, max_items=5, max_bytes=limit))

    assert [i for chunk in chunks for i in chunk] == list(range(50))
    for chunk in chunks:
        assert len(chunk) <= 5
        encoded = json.dumps([items[i] for i in chunk], separators=(",", ":")).encode()
        assert len(encoded) <= limit or len(chunk) == 1
    assert any(len(chunk) < 5 for chunk in chunks[:-1]), "the byte limit cut some chunks"
    oversized = [{"description": "y" * 100}, {"description": "z"}]
    assert list(chunk_items(oversized, max_bytes=50)) == [range(0, 1), range(1, 2)]


class DroppingStore(ConvexStore):
    """A real store whose socket the backend drops right after each batch mutation arrives
    (committed, unanswered): the SDK reconnects and resends it, and the resent call answers
    "updated" for the rows its first attempt inserted."""

    def __init__(self, backend: LocalBackend) -> None:
        super().__init__(backend.url, Secret(backend.admin_key), timeout_s=20)
        self.backend = backend
        self.calls = 0

    def upsert_many(self, items: Sequence[Mapping[str, Any]]) -> list[BatchItemResult]:
        self.calls += 1
        self.backend.set_faults(drop_after_messages=1)  # the next message: this mutation
        return super().upsert_many(items)


def test_a_batch_resent_after_a_dropped_socket_still_reports_its_inserts(
    backend: LocalBackend,
) -> None:
    catalog = first(NEW_SNAPSHOT, 60)
    store = DroppingStore(backend)
    with store:
        report = sync_catalog(
            fetch_catalog=lambda: catalog, open_store=lambda: nullcontext(store), max_items=25
        )
    assert store.calls == 3 and backend.stats()["connections"] > 3  # it did reconnect
    rows = comparable_rows(backend)
    assert len(rows) == 60 and report.errors == 0
    assert (report.inserted, report.updated) == (len(rows), 0)
    # A rerun updates them all, resent or not.
    store = DroppingStore(backend)
    with store:
        again = sync_catalog(
            fetch_catalog=lambda: catalog, open_store=lambda: nullcontext(store), max_items=25
        )
    assert (again.inserted, again.updated) == (0, 60)


def test_a_batch_function_that_fails_for_every_item_is_not_split_item_by_item(
    backend: LocalBackend,
) -> None:
    catalog = snapshot_catalog(NEW_SNAPSHOT)
    backend.set_faults(
        latency_ms=100, fail_functions={"mutations/syncModels:upsertModels": "disk on fire"}
    )
    calls: list[int] = []

    class CountingStore(ConvexStore):
        def upsert_many(self, items: Sequence[Mapping[str, Any]]) -> list[BatchItemResult]:
            calls.append(len(items))
            return super().upsert_many(items)

    started = time.monotonic()
    with CountingStore(backend.url, Secret(backend.admin_key), timeout_s=20) as store:
        report = sync_catalog(fetch_catalog=lambda: catalog, open_store=lambda: nullcontext(store))
    elapsed = time.monotonic() - started
    count = len(list(catalog.ids()))
    assert count > 300
    assert elapsed < 10
    assert len(calls) <= 2 * math.ceil(math.log2(count))  # not ~2N
    assert len(report.results) == report.errors == count  # each model reported
    assert all(r.error is not None and "disk on fire" in r.error for r in report.results)
    assert [r.api_id for r in report.results] == list(catalog.ids())


class FlakyStore:
    """Answers the first batch, then loses the connection."""

    def __init__(self) -> None:
        self.calls = 0

    def upsert_many(self, items: Sequence[Mapping[str, Any]]) -> list[BatchItemResult]:
        self.calls += 1
        if self.calls > 1:
            raise ConvexUnavailableError("gone")
        return [
            BatchItemResult(str(item["apiIdentifier"]), True, "inserted", f"id{n}")
            for n, item in enumerate(items)
        ]

    def list_models(self, synced_only: bool = False) -> list[ModelRow]:
        return []

    def list_active(self) -> list[ModelRow]:
        return []


def test_losing_convex_stops_the_run_and_lists_the_unsent_models() -> None:
    catalog = first(NEW_SNAPSHOT, 7)
    store = FlakyStore()

    @contextmanager
    def opened() -> Iterator[FlakyStore]:
        yield store

    report = sync_catalog(fetch_catalog=lambda: catalog, open_store=opened, max_items=3)

    assert isinstance(report.aborted, ConvexUnavailableError)
    assert [r.api_id for r in report.results] == list(catalog.ids())[:3]
    assert [t.api_id for t in report.not_attempted] == list(catalog.ids())[3:]
    assert report.exit_code == ExitCode.UNAVAILABLE


@pytest.fixture
def cli_env(
    backend: LocalBackend,
    openrouter_server: OpenRouterServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    return {
        "CONVEX_URL": backend.url,
        "CONVEX_DEPLOY_KEY": backend.admin_key,
        "OPENROUTER_BASE_URL": openrouter_server.base_url,
    }


@pytest.mark.parametrize("snapshot", every_snapshot())
def test_cli_catalog_json_syncs_every_listed_model_inactive(
    backend: LocalBackend,
    openrouter_server: OpenRouterServer,
    cli_env: dict[str, str],
    snapshot: str | Path,
) -> None:
    openrouter_server.serve_snapshot(snapshot)
    listed = [model["id"] for model in load_snapshot(snapshot)["data"]]

    dry = runner.invoke(app, ["--catalog", "--dry-run", "--json"], env=cli_env)
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["summary"]["inserted"] == len(listed)
    assert comparable_rows(backend) == {}

    result = runner.invoke(app, ["--catalog", "--json"], env=cli_env)

    assert result.exit_code == 0, result.output
    assert backend.admin_key not in result.output
    document = json.loads(result.stdout)
    summary = document["summary"]
    assert (summary["listSynced"], summary["total"], summary["inserted"]) == (
        "catalog",
        len(listed),
        len(listed),
    )
    assert {r["apiId"] for r in document["results"]} == set(listed)
    assert all(r["rank"] is None and r["listName"] == "catalog" for r in document["results"])
    rows = comparable_rows(backend)
    assert set(rows) == set(listed)
    assert not any(row["isActive"] for row in rows.values())


def test_cli_catalog_refuses_list_flags(cli_env: dict[str, str]) -> None:
    result = runner.invoke(app, ["--catalog", "--free"], env=cli_env)

    assert result.exit_code == ExitCode.USAGE
    assert "--catalog" in result.output


class ForgetfulCatalog:
    """Lists ids its `get` no longer knows (not `openrouter.Catalog`, whose ids are its
    listings): the catalog sync reports them as not listed instead of mapping None."""

    def __init__(self, catalog: Catalog, forgotten: set[str]) -> None:
        self.catalog = catalog
        self.forgotten = forgotten

    def ids(self) -> Iterator[str]:
        return self.catalog.ids()

    def get(self, api_id: str) -> OpenRouterModel | None:
        return None if api_id in self.forgotten else self.catalog.get(api_id)


def test_an_id_the_catalog_cannot_give_is_reported_not_listed_and_the_rest_land() -> None:
    catalog = first(NEW_SNAPSHOT, 4)
    ids = list(catalog.ids())
    store = FlakyStore()

    @contextmanager
    def opened() -> Iterator[FlakyStore]:
        yield store

    report = sync_catalog(
        fetch_catalog=lambda: ForgetfulCatalog(catalog, {ids[1]}), open_store=opened
    )

    assert [(r.api_id, r.error) for r in report.results if not r.ok] == [(ids[1], NOT_LISTED)]
    assert [r.api_id for r in report.results if r.ok] == [ids[0], *ids[2:]]
    assert store.calls == 1


def test_history_resent_after_a_dropped_socket_still_counts_the_new_models(
    backend: LocalBackend,
) -> None:
    catalog = first(NEW_SNAPSHOT, 30)
    with open_store(backend) as store:
        report = catalog_sync(backend, catalog)
        entries = build_entries(report.results, store.list_models(synced_only=True))
        new_ids = {r.api_id for r in report.results if r.action == "inserted"}
        backend.set_faults(drop_after_messages=1)  # recordSync commits, unanswered: resent
        recorded = store.record_history(entries, new_ids=new_ids)
        stored = store.history(limit=1000)
        resent = store.history_resent
    assert backend.stats()["connections"] >= 2  # it reconnected
    assert len(new_ids) == len(stored) == 30
    assert recorded == len(stored)  # the replay recorded nothing; its first attempt did
    assert resent
