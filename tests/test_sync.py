"""Sync orchestration rules, with a fake store and catalog standing in for Convex and OpenRouter."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from sync_client.convex_store import UpsertOutcome
from sync_client.errors import (
    ConfigError,
    ConvexCallError,
    ConvexUnavailableError,
    ExitCode,
    MalformedModelError,
    OpenRouterError,
)
from sync_client.rankings import RankedModel
from sync_client.sync import (
    NOT_LISTED,
    FieldChange,
    SyncReport,
    SyncTarget,
    build_targets,
    plan_changes,
    sync_models,
)


@dataclass
class FakeCatalog:
    models: dict[str, dict[str, Any]]

    def get(self, api_id: str) -> dict[str, Any] | None:
        model = self.models.get(api_id)
        if model is not None and model.get("shape"):
            raise MalformedModelError(api_id, f"unexpected shape: {model['shape']}")
        return model


def fake_args(model: dict[str, Any]) -> dict[str, Any]:
    """A stand-in for mapping.to_upsert_args over plain dicts."""
    if model.get("broken"):
        raise ValueError("pricing.prompt is not a price")
    return {
        "apiIdentifier": model["id"],
        "modelName": model["name"],
        "provider": model["id"].split("/")[0],
        "slug": model["id"].replace("/", "-"),
        "isFree": model.get("free", False),
        **({"contextWindow": model["ctx"]} if "ctx" in model else {}),
    }


@dataclass
class FakeStore:
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    reject: dict[str, ConvexCallError] = field(default_factory=dict)
    unavailable_after: int | None = None
    opened: int = 0
    closed: int = 0

    def upsert(self, args: Mapping[str, Any]) -> UpsertOutcome:
        api_id = str(args["apiIdentifier"])
        if self.unavailable_after is not None and len(self.calls) >= self.unavailable_after:
            raise ConvexUnavailableError("cannot reach or authenticate to x within 1 s")
        self.calls.append(api_id)
        if api_id in self.reject:
            raise self.reject[api_id]
        existed = api_id in self.rows
        self.rows[api_id] = {**self.rows.get(api_id, {"isActive": False}), **args}
        return UpsertOutcome(action="updated" if existed else "inserted", id=f"id-{api_id}")

    def list_models(self, synced_only: bool = False) -> list[dict[str, Any]]:
        self.calls.append("list")
        return [dict(row) for row in self.rows.values()]

    @contextmanager
    def open(self) -> Iterator[FakeStore]:
        self.opened += 1
        try:
            yield self
        finally:
            self.closed += 1


CATALOG = FakeCatalog(
    {
        "a/one": {"id": "a/one", "name": "One", "free": True, "ctx": 1000},
        "b/two": {"id": "b/two", "name": "Two", "ctx": 2000},
        "c/three": {"id": "c/three", "name": "Three"},
        "d/broken": {"id": "d/broken", "name": "Broken", "broken": True},
        "e/shape": {"id": "e/shape", "shape": "pricing.prompt: expected a string, got 3e-06"},
    }
)


def targets(*ids: str) -> list[SyncTarget]:
    return [SyncTarget(api_id, rank, "paid") for rank, api_id in enumerate(ids, start=1)]


def run(store: FakeStore, items: list[SyncTarget], **kwargs: Any) -> SyncReport:
    return sync_models(
        items,
        fetch_catalog=lambda: CATALOG,
        open_store=store.open,
        list_synced="paid",
        to_args=fake_args,
        **kwargs,
    )


def test_upserts_in_rank_order_and_counts_inserts_updates_free_and_paid() -> None:
    store = FakeStore(rows={"b/two": {"apiIdentifier": "b/two", "isActive": True}})
    report = run(store, targets("a/one", "b/two", "c/three"))
    assert store.calls == ["a/one", "b/two", "c/three"]
    assert [(r.api_id, r.rank, r.action, r.is_free) for r in report.results] == [
        ("a/one", 1, "inserted", True),
        ("b/two", 2, "updated", False),
        ("c/three", 3, "inserted", False),
    ]
    assert (report.total, report.inserted, report.updated) == (3, 2, 1)
    assert (report.free, report.paid, report.errors) == (1, 2, 0)
    assert report.exit_code == ExitCode.OK
    assert store.opened == store.closed == 1


@pytest.mark.parametrize("dry_run", [False, True])
def test_vanished_malformed_and_unmappable_models_are_errors_and_the_run_goes_on(
    dry_run: bool,
) -> None:
    store = FakeStore()
    progress: list[str] = []
    report = run(
        store,
        targets("gone/model", "a/one", "e/shape", "d/broken", "b/two"),
        dry_run=dry_run,
        progress=progress.append,
    )
    assert store.calls == (["list"] if dry_run else ["a/one", "b/two"])
    assert [r.api_id for r in report.results] == [
        "gone/model",
        "a/one",
        "e/shape",
        "d/broken",
        "b/two",
    ]
    errors = {r.api_id: r.error for r in report.results if not r.ok}
    assert errors == {
        "gone/model": NOT_LISTED,
        "e/shape": "unexpected shape: pricing.prompt: expected a string, got 3e-06",
        "d/broken": "cannot map OpenRouter data: pricing.prompt is not a price",
    }
    assert "[3/5] e/shape: unexpected shape: pricing.prompt" in "\n".join(progress)
    assert report.errors == 3 and report.inserted == 2
    assert report.exit_code == ExitCode.PARTIAL


def test_a_models_convex_error_is_recorded_with_its_field_and_message() -> None:
    rejection = ConvexCallError(
        "Uncaught ConvexError: {...}",
        data={"code": "INVALID_ARGUMENT", "field": "contextWindow", "message": "must be > 0"},
    )
    store = FakeStore(reject={"a/one": rejection})
    report = run(store, targets("a/one", "b/two"))
    assert [(r.api_id, r.error) for r in report.results] == [
        ("a/one", "contextWindow: must be > 0"),
        ("b/two", None),
    ]
    assert report.exit_code == ExitCode.PARTIAL


def test_unavailable_convex_aborts_and_keeps_what_was_done() -> None:
    store = FakeStore(unavailable_after=1)
    report = run(store, targets("a/one", "b/two", "c/three"))
    assert [r.api_id for r in report.results] == ["a/one"]
    assert [t.api_id for t in report.not_attempted] == ["b/two", "c/three"]
    assert isinstance(report.aborted, ConvexUnavailableError)
    assert report.total == 3
    assert report.exit_code == ExitCode.UNAVAILABLE
    assert store.closed == 1


def test_openrouter_failure_propagates_before_the_store_is_opened() -> None:
    store = FakeStore()

    def failing_fetch() -> FakeCatalog:
        raise OpenRouterError("OpenRouter answered 401: No auth credentials found")

    with pytest.raises(OpenRouterError):
        sync_models(
            targets("a/one"),
            fetch_catalog=failing_fetch,
            open_store=store.open,
            list_synced="paid",
            to_args=fake_args,
        )
    assert store.opened == 0 and store.calls == []


def test_dry_run_plans_inserts_updates_and_unchanged_and_writes_nothing() -> None:
    same = fake_args(CATALOG.models["b/two"])
    stale = {**fake_args(CATALOG.models["a/one"]), "contextWindow": 500.0, "description": "old"}
    store = FakeStore(rows={"a/one": stale, "b/two": {**same, "contextWindow": 2000.0}})
    report = run(store, targets("a/one", "b/two", "c/three", "gone/x"), dry_run=True)
    assert store.calls == ["list"]
    planned = {r.api_id: (r.planned, r.changes) for r in report.results}
    assert planned["a/one"] == (
        "update",
        (FieldChange("contextWindow", 500.0, 1000), FieldChange("description", "old", None)),
    )
    assert planned["b/two"] == ("unchanged", ())
    assert planned["c/three"][0] == "insert"
    assert {c.field for c in planned["c/three"][1]} == {
        "modelName",
        "provider",
        "slug",
        "isFree",
    }
    assert (report.inserted, report.updated, report.unchanged, report.errors) == (1, 1, 1, 1)
    assert report.dry_run


def test_plan_changes_tells_a_flag_from_a_number() -> None:
    assert plan_changes({"isFree": True}, {"isFree": 1}) == (FieldChange("isFree", True, 1),)
    assert plan_changes({"contextWindow": 8.0}, {"contextWindow": 8}) == ()


def test_build_targets_appends_model_ids_once_and_unranked() -> None:
    ranked = [RankedModel("p/one", 1, "paid"), RankedModel("f/one:free", 1, "free")]
    built = build_targets(ranked, ["x/extra", "p/one", "x/extra"])
    assert built == [
        SyncTarget("p/one", 1, "paid"),
        SyncTarget("f/one:free", 1, "free"),
        SyncTarget("x/extra", None, "extra"),
    ]


@pytest.mark.parametrize("bad_id", ["", "  ", "a/b c", "a/" + "x" * 300])
def test_build_targets_refuses_a_model_id_that_cannot_be_one(bad_id: str) -> None:
    with pytest.raises(ConfigError, match=r"^--model "):
        build_targets([], [bad_id])
