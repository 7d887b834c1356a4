"""`--catalog`: sync every model OpenRouter lists through the batched `upsertModels` mutation.

A per-model sync costs one round trip per model; here the whole catalog goes in chunks cut
by item count and encoded size (`convex_store.BATCH_SIZE`, `MAX_BATCH_BYTES`), so that each
call stays within Convex's limits however long the descriptions. A model too large for one
Convex document is its own error. Results come back per item in the same `SyncReport` a
ranked sync produces (list "catalog", no ranks).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from sync_client.convex_store import BATCH_SIZE, MAX_BATCH_BYTES, chunk_items
from sync_client.errors import ConvexCallError, ConvexUnavailableError, MalformedModelError
from sync_client.sync import (
    NOT_LISTED,
    CatalogLike,
    ModelResult,
    Step,
    StepCallback,
    SyncReport,
    SyncTarget,
    add_alerts,
    default_to_args,
    describe_call_error,
    failed_result,
    map_model,
    planned_result,
    read_active,
    rows_by_api_id,
    silent,
    step_printer,
    written_result,
)

if TYPE_CHECKING:
    from sync_client.alerts import GuardRules
    from sync_client.convex_store import BatchItemResult
    from sync_client.convex_types import ModelRow, UpsertArgs
    from sync_client.sync import ToArgs

CATALOG_LIST = "catalog"


class ListedCatalog(CatalogLike, Protocol):
    """What a catalog sync needs of `openrouter.Catalog`: its ids as well."""

    def ids(self) -> Iterator[str]: ...


class BatchStore(Protocol):
    """What a catalog sync needs of `convex_store.ConvexStore`."""

    def upsert_many(self, items: Sequence[UpsertArgs]) -> list[BatchItemResult]: ...

    def list_models(self, synced_only: bool = False) -> list[ModelRow]: ...

    def list_active(self) -> list[ModelRow]: ...


def sync_catalog(
    *,
    fetch_catalog: Callable[[], ListedCatalog],
    open_store: Callable[[], AbstractContextManager[BatchStore]],
    dry_run: bool = False,
    to_args: ToArgs = default_to_args,
    progress: Callable[[str], None] = silent,
    max_items: int = BATCH_SIZE,
    max_bytes: int = MAX_BATCH_BYTES,
    on_step: StepCallback | None = None,
    guard: GuardRules | None = None,
) -> SyncReport:
    """Fetch once, then upsert (or, with `dry_run`, plan) every listed model in chunks.

    New models are inserted inactive, as in a ranked sync. A model whose data has an unexpected
    shape, that cannot be mapped, that is too large for a Convex document or that
    `upsertModels` rejects is reported and the rest still land. `ConvexUnavailableError` (or
    its `ConvexDeadlineError`) stops the run; the models of unsent chunks are kept in
    `report.not_attempted`. With `guard`, alerts as in `sync.sync_models`.
    """
    progress("fetching the OpenRouter catalog")
    catalog = fetch_catalog()
    report = SyncReport(list_synced=CATALOG_LIST, dry_run=dry_run)
    targets: list[SyncTarget] = []
    mapped: list[UpsertArgs] = []
    for api_id in catalog.ids():  # each id once; the first listing wins, as in Catalog.get
        target = SyncTarget(api_id, None, CATALOG_LIST)
        try:
            model = catalog.get(api_id)
            if model is None:  # not from openrouter.Catalog, whose ids are its listings
                report.results.append(failed_result(target, NOT_LISTED))
                continue
            args = map_model(api_id, model, to_args)
        except MalformedModelError as error:
            report.results.append(failed_result(target, error.message))
            continue
        targets.append(target)
        mapped.append(args)
    with open_store() as store:
        try:
            active = read_active(store, guard, report)
        except ConvexUnavailableError as error:
            report.aborted = error
            report.not_attempted = list(targets)
            return report
        if dry_run:
            _plan(report, store, targets, mapped, progress)
        else:
            step = on_step or step_printer(progress)
            resent = _apply(report, store, targets, mapped, step, max_items, max_bytes)
            if resent:
                progress(
                    f"note: {resent} model(s) new before this run came back as updated: a batch "
                    "was resent after a lost connection and its first attempt had inserted "
                    "them; they are counted as inserted"
                )
    if guard is not None and active is not None:
        add_alerts(report, active, catalog, to_args, guard)
    return report


def _apply(
    report: SyncReport,
    store: BatchStore,
    targets: Sequence[SyncTarget],
    mapped: Sequence[UpsertArgs],
    on_step: StepCallback,
    max_items: int,
    max_bytes: int,
) -> int:
    """Send the chunks; returns how many "updated" answers were inserts (see below)."""
    # The ids stored before this run: a batch the SDK resent after a lost connection answers
    # "updated" for the rows its first attempt inserted, and these say what really happened.
    stored_before = {str(row.get("apiIdentifier")) for row in store.list_models()}
    batches = _Batches(store, stored_before)
    chunks = list(chunk_items(mapped, max_items=max_items, max_bytes=max_bytes))
    for number, indexes in enumerate(chunks, 1):
        line = f"[{number}/{len(chunks)}] upserting {len(indexes)} models"
        on_step(Step(indexes.start, len(mapped), f"chunk {number}/{len(chunks)}", line))
        results: dict[int, ModelResult] = {}
        try:
            batches.send(results, list(indexes), targets, mapped)
        except ConvexUnavailableError as error:
            # A halved chunk may have landed in part before the connection went.
            report.results += [results[i] for i in sorted(results)]
            report.aborted = error
            report.not_attempted = [
                targets[i] for chunk in chunks[number - 1 :] for i in chunk if i not in results
            ]
            return batches.resent_inserts
        report.results += [results[i] for i in sorted(results)]
    return batches.resent_inserts


class _Batches:
    """`upsertModels` calls for a chunk, halving a call that fails as a whole."""

    def __init__(self, store: BatchStore, stored_before: set[str]) -> None:
        self.store = store
        self.stored_before = stored_before
        self.resent_inserts = 0

    def send(
        self,
        results: dict[int, ModelResult],
        indexes: list[int],
        targets: Sequence[SyncTarget],
        mapped: Sequence[UpsertArgs],
        failure: ConvexCallError | None = None,
    ) -> None:
        """Land `indexes` (or, given the `failure` of their call, isolate its cause) and put
        each one's result in `results`.

        Should the whole call fail (an item the function cannot isolate, e.g. one its
        validators reject), nothing was written: halve and resend until the culprit is alone,
        so it is reported and everything else still lands. Should both halves fail as the
        whole did, the function fails whatever the items (it throws, it is broken): each item
        gets that error and no more calls are made, so a broken function costs three calls,
        not one per item."""
        if failure is None:
            failure = self.attempt(results, indexes, targets, mapped)
            if failure is None:
                return
        if len(indexes) == 1:
            results[indexes[0]] = failed_result(targets[indexes[0]], describe_call_error(failure))
            return
        middle = len(indexes) // 2
        halves = (indexes[:middle], indexes[middle:])
        failures = [self.attempt(results, half, targets, mapped) for half in halves]
        if all(f is not None and same_failure(f, failure) for f in failures):
            for index in indexes:
                results[index] = failed_result(targets[index], describe_call_error(failure))
            return
        for half, half_failure in zip(halves, failures, strict=True):
            if half_failure is not None:
                self.send(results, half, targets, mapped, half_failure)

    def attempt(
        self,
        results: dict[int, ModelResult],
        indexes: list[int],
        targets: Sequence[SyncTarget],
        mapped: Sequence[UpsertArgs],
    ) -> ConvexCallError | None:
        """One `upsertModels` call: its items' results, or the error that failed it whole."""
        try:
            outcomes = self.store.upsert_many([mapped[i] for i in indexes])
        except ConvexCallError as error:
            return error
        if len(outcomes) != len(indexes):
            raise ConvexCallError(
                f"upsertModels answered {len(outcomes)} results for {len(indexes)}"
            )
        for index, outcome in zip(indexes, outcomes, strict=True):
            target = targets[index]
            if outcome.api_identifier != target.api_id:
                raise ConvexCallError(
                    f"upsertModels answered for {outcome.api_identifier!r} in "
                    f"{target.api_id!r}'s place"
                )
            if not outcome.ok or outcome.action is None:
                reason = outcome.error or "rejected by upsertModels"
                results[index] = failed_result(target, reason)
                continue
            action = outcome.action
            if action == "updated" and target.api_id not in self.stored_before:
                action = "inserted"  # by this run's first attempt at a resent call
                self.resent_inserts += 1
            results[index] = written_result(target, action, mapped[index])
        return None


_REQUEST_ID = re.compile(r"\[Request ID: [^\]]*\]\s*")


def same_failure(first: ConvexCallError, second: ConvexCallError) -> bool:
    """Whether two calls failed alike (their messages equal but for Convex's request ids)."""
    return _REQUEST_ID.sub("", str(first)) == _REQUEST_ID.sub("", str(second)) and (
        first.data == second.data
    )


def _plan(
    report: SyncReport,
    store: BatchStore,
    targets: Sequence[SyncTarget],
    mapped: Sequence[UpsertArgs],
    progress: Callable[[str], None],
) -> None:
    progress("reading the current rows")
    rows = rows_by_api_id(store.list_models())
    for target, args in zip(targets, mapped, strict=True):
        report.results.append(planned_result(target, rows.get(target.api_id), args))
