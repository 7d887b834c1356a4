"""Sync orchestration rules, with a fake store and catalog standing in for Convex and OpenRouter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from support.rows import model_row

from sync_client.convex_store import UpsertOutcome
from sync_client.convex_types import ModelRow, UpsertArgs
from sync_client.errors import (
    ConfigError,
    ConvexCallError,
    ConvexUnavailableError,
    ExitCode,
    MalformedModelError,
    OpenRouterError,
)
from sync_client.openrouter import OpenRouterModel, Pricing
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
    models: dict[str, OpenRouterModel]
    #: Listed ids whose data has an unexpected shape, and what is wrong with it.
    malformed: dict[str, str] = field(default_factory=dict)

    def get(self, api_id: str) -> OpenRouterModel | None:
        if api_id in self.malformed:
            raise MalformedModelError(api_id, f"unexpected shape: {self.malformed[api_id]}")
        return self.models.get(api_id)


BROKEN = "d/broken"


def fake_args(model: OpenRouterModel) -> UpsertArgs:
    """A stand-in for mapping.to_upsert_args that cannot map `BROKEN`."""
    if model.id == BROKEN:
        raise ValueError("pricing.prompt is not a price")
    args: UpsertArgs = {
        "apiIdentifier": model.id,
        "modelName": model.name,
        "provider": model.id.split("/")[0],
        "slug": model.id.replace("/", "-"),
        "isFree": model.pricing is not None and model.pricing.prompt == "0",
    }
    if model.context_length is not None:
        args["contextWindow"] = model.context_length
    return args


@dataclass
class FakeStore:
    rows: dict[str, ModelRow] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    reject: dict[str, ConvexCallError] = field(default_factory=dict)
    unavailable_after: int | None = None
    opened: int = 0
    closed: int = 0

    def upsert(self, args: UpsertArgs) -> UpsertOutcome:
        api_id = args["apiIdentifier"]
        if self.unavailable_after is not None and len(self.calls) >= self.unavailable_after:
            raise ConvexUnavailableError("cannot reach or authenticate to x within 1 s")
        self.calls.append(api_id)
        if api_id in self.reject:
            raise self.reject[api_id]
        existed = api_id in self.rows
        row: ModelRow = {**self.rows.get(api_id, model_row(api_id)), **args}
        self.rows[api_id] = row
        return UpsertOutcome(action="updated" if existed else "inserted", id=f"id-{api_id}")

    def list_models(self, synced_only: bool = False) -> list[ModelRow]:
        self.calls.append("list")
        return [row.copy() for row in self.rows.values()]

    def list_active(self) -> list[ModelRow]:
        self.calls.append("list_active")
        return [row.copy() for row in self.rows.values() if row["isActive"]]

    @contextmanager
    def open(self) -> Iterator[FakeStore]:
        self.opened += 1
        try:
            yield self
        finally:
            self.closed += 1


FREE = Pricing(prompt="0", completion="0")
CATALOG = FakeCatalog(
    {
        "a/one": OpenRouterModel(id="a/one", name="One", pricing=FREE, context_length=1000),
        "b/two": OpenRouterModel(id="b/two", name="Two", context_length=2000),
        "c/three": OpenRouterModel(id="c/three", name="Three"),
        BROKEN: OpenRouterModel(id=BROKEN, name="Broken"),
    },
    malformed={"e/shape": "pricing.prompt: expected a string, got 3e-06"},
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
    store = FakeStore(rows={"b/two": model_row("b/two", isActive=True)})
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


def test_openrouter_failure_propagates_before_anything_is_written() -> None:
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
    # The store opens first (its worker starts while the catalog downloads), and is closed.
    assert store.calls == [] and store.opened == store.closed == 1


def test_dry_run_plans_inserts_updates_and_unchanged_and_writes_nothing() -> None:
    same = fake_args(CATALOG.models["b/two"])
    stale = {**fake_args(CATALOG.models["a/one"]), "contextWindow": 500.0, "description": "old"}
    rows = {"a/one": model_row("a/one", **stale), "b/two": model_row("b/two", **same)}
    store = FakeStore(rows={**rows, "b/two": {**rows["b/two"], "contextWindow": 2000.0}})
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
    args = fake_args(CATALOG.models["b/two"])
    stored = {**args, "contextWindow": 2000.0}  # the SDK returns every number as a float
    assert plan_changes(model_row("b/two", **stored), args) == ()
    # Rows are not checked on the way in: a number where the flag belongs still differs.
    number = model_row("b/two", **{**stored, "isFree": 0})
    assert plan_changes(number, args) == (FieldChange("isFree", 0, False),)


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
