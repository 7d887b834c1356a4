"""One sync run: fetch the catalog once, map each ranked model, upsert it (or plan it), report.

The store and the catalog fetcher are injected so the rules here can be tested with fakes;
`api.py` wires in `fetch_catalog` and `ConvexStore`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from threading import Event, Lock
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

from sync_client.alerts import (
    GUARD_FUNCTIONS,
    Alert,
    ExpiringWarning,
    GuardRules,
    expiring_warning,
    model_alert,
)
from sync_client.convex_types import SYNCED_FIELDS
from sync_client.errors import (
    ConfigError,
    ConvexCallError,
    ConvexDeadlineError,
    ConvexUnavailableError,
    ExitCode,
    MalformedModelError,
)
from sync_client.rankings import api_id_problem

if TYPE_CHECKING:
    from sync_client.convex_store import UpsertOutcome
    from sync_client.convex_types import FieldValue, ModelRow, SyncedField, UpsertArgs
    from sync_client.openrouter import OpenRouterModel
    from sync_client.rankings import RankedModel

    #: Maps a model to its `upsertModel` arguments (`mapping.to_upsert_args`); a ValueError
    #: marks the model as one that cannot be mapped.
    ToArgs: TypeAlias = Callable[[OpenRouterModel], UpsertArgs]

Action = Literal["inserted", "updated"]
PlannedAction = Literal["insert", "update", "unchanged"]


NOT_LISTED = "not listed by OpenRouter"


class CatalogLike(Protocol):
    """What sync needs of `openrouter.Catalog`: the model, None if unlisted, or
    MalformedModelError if its data has an unexpected shape."""

    def get(self, api_id: str) -> OpenRouterModel | None: ...


class ModelStore(Protocol):
    """What sync needs of `convex_store.ConvexStore`."""

    def upsert(self, args: UpsertArgs) -> UpsertOutcome: ...

    def list_models(self, synced_only: bool = False) -> list[ModelRow]: ...

    def list_active(self) -> list[ModelRow]: ...


@dataclass(frozen=True)
class SyncTarget:
    """A model to sync: from a ranked list, or named with `--model` (list "extra", no rank)."""

    api_id: str
    rank: int | None
    list_name: str


@dataclass(frozen=True)
class FieldChange:
    """One field a dry run would change; `None` on a side means the field is absent."""

    field: SyncedField
    before: FieldValue | None
    after: FieldValue | None


@dataclass(frozen=True)
class ModelResult:
    """What happened (or, in a dry run, would happen) to one model."""

    api_id: str
    rank: int | None
    list_name: str
    action: Action | None = None
    planned: PlannedAction | None = None
    is_free: bool | None = None
    error: str | None = None
    changes: tuple[FieldChange, ...] = ()
    #: The `upsertModel` arguments written (or, in a dry run, planned); None for an error.
    args: UpsertArgs | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class SyncReport:
    """The outcome of a run; `aborted` holds the error that stopped it early, if any."""

    list_synced: str
    dry_run: bool = False
    results: list[ModelResult] = field(default_factory=list)
    not_attempted: list[SyncTarget] = field(default_factory=list)
    aborted: ConvexUnavailableError | None = None
    #: The guard's findings on active models (empty when it did not run).
    alerts: list[Alert] = field(default_factory=list)
    #: Ranked models that are inactive but being retired by OpenRouter.
    expiring: list[ExpiringWarning] = field(default_factory=list)
    #: Why the guard did not run, when it was asked to and could not.
    guard_skipped: str | None = None
    #: Whether that was a failure (the query threw), not a deployment without the query.
    guard_failed: bool = False
    #: Sent, but no answer came before the run stopped: they may have landed.
    unanswered: list[SyncTarget] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.results) + len(self.unanswered) + len(self.not_attempted)

    def _count(self, predicate: Callable[[ModelResult], bool]) -> int:
        return sum(1 for result in self.results if predicate(result))

    @property
    def inserted(self) -> int:
        return self._count(lambda r: r.action == "inserted" or r.planned == "insert")

    @property
    def updated(self) -> int:
        return self._count(lambda r: r.action == "updated" or r.planned == "update")

    @property
    def unchanged(self) -> int:
        return self._count(lambda r: r.planned == "unchanged")

    @property
    def errors(self) -> int:
        return self._count(lambda r: not r.ok)

    @property
    def free(self) -> int:
        return self._count(lambda r: r.ok and r.is_free is True)

    @property
    def paid(self) -> int:
        return self._count(lambda r: r.ok and r.is_free is False)

    @property
    def exit_code(self) -> int:
        if self.aborted is not None:
            return self.aborted.exit_code
        if self.alerts:
            return ExitCode.ALERTS
        return ExitCode.PARTIAL if self.errors or self.guard_failed else ExitCode.OK


def build_targets(ranked: Iterable[RankedModel], extra_ids: Iterable[str] = ()) -> list[SyncTarget]:
    """Ranked models in the order given, then `--model` ids not already among them (once each)."""
    targets = [SyncTarget(model.api_id, model.rank, model.list_name) for model in ranked]
    seen = {target.api_id for target in targets}
    for api_id in extra_ids:
        if (problem := api_id_problem(api_id)) is not None:
            raise ConfigError(f"--model {problem}")
        if api_id not in seen:
            seen.add(api_id)
            targets.append(SyncTarget(api_id, None, "extra"))
    return targets


def default_to_args(model: OpenRouterModel) -> UpsertArgs:
    """`mapping.to_upsert_args`, imported on first use."""
    from sync_client.mapping import to_upsert_args

    return to_upsert_args(model)


class _NotListed(Exception):
    """A target OpenRouter does not list."""


def map_model(api_id: str, model: OpenRouterModel, to_args: ToArgs) -> UpsertArgs:
    """`to_args(model)`; a ValueError from it becomes the model's MalformedModelError."""
    try:
        return to_args(model)
    except ValueError as error:
        raise MalformedModelError(api_id, f"cannot map OpenRouter data: {error}") from None


def describe_call_error(error: ConvexCallError) -> str:
    """A ConvexError's `{field, message}` data reads better than its raw message."""
    data = error.data
    if isinstance(data, Mapping):
        message = data.get("message")
        field_name = data.get("field")
        if isinstance(message, str) and isinstance(field_name, str):
            return message if message.startswith(field_name) else f"{field_name}: {message}"
        if isinstance(message, str):
            return message
    return str(error)


def _values_equal(before: FieldValue, after: FieldValue) -> bool:
    # True == 1 in Python, but a flag and a number are different values here.
    if isinstance(before, bool) or isinstance(after, bool):
        return before is after
    return bool(before == after)


def plan_changes(row: ModelRow | None, args: UpsertArgs) -> tuple[FieldChange, ...]:
    """The synced fields whose stored value differs from what upsertModel would write."""
    changes = []
    for name in SYNCED_FIELDS:
        before = None if row is None else row.get(name)
        after = args.get(name)
        if before is None and after is None:
            continue
        if before is None or after is None or not _values_equal(before, after):
            changes.append(FieldChange(name, before, after))
    return tuple(changes)


def silent(_message: str) -> None:
    """A progress callback that says nothing."""
    return None


@dataclass(frozen=True)
class Step:
    """A run's writes so far: `done` of `total` finished, `current` (a model, a chunk) starting
    (or, with `finished`, just finished). `line` is the plain progress line of a start, which
    is all a caller without a bar shows."""

    done: int
    total: int
    current: str
    line: str
    finished: bool = False


StepCallback = Callable[[Step], None]


def step_printer(progress: Callable[[str], None]) -> StepCallback:
    """Report each start as its plain line."""

    def print_start(step: Step) -> None:
        if not step.finished:
            progress(step.line)

    return print_start


@dataclass
class _Run:
    targets: Sequence[SyncTarget]
    catalog: CatalogLike
    to_args: ToArgs
    progress: Callable[[str], None]
    report: SyncReport
    on_step: StepCallback

    def mapped(self) -> Iterator[tuple[int, SyncTarget, UpsertArgs | ModelResult]]:
        """Each target with its upsert args, or the error result of a model that cannot be
        synced."""
        for index, target in enumerate(self.targets):
            try:
                yield index, target, self._args_for(target)
            except (MalformedModelError, _NotListed) as error:
                yield index, target, failed_result(target, str(error))

    def say_failed(self, index: int, result: ModelResult) -> None:
        self.progress(f"[{index + 1}/{len(self.targets)}] {result.api_id}: {result.error}")

    def _args_for(self, target: SyncTarget) -> UpsertArgs:
        model = self.catalog.get(target.api_id)
        if model is None:
            raise _NotListed(NOT_LISTED)
        return map_model(target.api_id, model, self.to_args)


def sync_models(
    targets: Sequence[SyncTarget],
    *,
    fetch_catalog: Callable[[], CatalogLike],
    open_store: Callable[[], AbstractContextManager[ModelStore]],
    list_synced: str,
    dry_run: bool = False,
    to_args: ToArgs = default_to_args,
    progress: Callable[[str], None] = silent,
    on_step: StepCallback | None = None,
    guard: GuardRules | None = None,
    workers: int = 1,
) -> SyncReport:
    """Fetch once, then upsert (or, with `dry_run`, plan) each target, up to `workers` at once;
    the report lists them in the targets' order.

    The store opens first, so that its worker starts (and the guard's read runs) while the
    catalog downloads; an OpenRouter failure propagates before anything is written. A model's
    own failure is recorded and the run goes on; `ConvexUnavailableError` stops the run (no
    further model is sent) and is kept in `report.aborted` with what was done so far. Each
    upsert is announced to `on_step` as it starts and as it finishes (default: its start line
    to `progress`). With `guard`, the active rows are read before any write (one query) and
    the alerts of the models synced are in `report.alerts`.
    """
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers!r}")
    report = SyncReport(list_synced=list_synced, dry_run=dry_run)
    # The guard's read runs while the catalog downloads (the store serves threads at once);
    # the store closes first on the way out, which ends that read should the download fail.
    with ThreadPoolExecutor(1, thread_name_prefix="guard") as meanwhile, open_store() as store:
        active_rows = meanwhile.submit(read_active, store, guard, report)
        progress("fetching the OpenRouter catalog")
        catalog = fetch_catalog()
        run = _Run(targets, catalog, to_args, progress, report, on_step or step_printer(progress))
        try:
            active = active_rows.result()
        except ConvexUnavailableError as error:
            report.aborted = error
            report.not_attempted = list(targets)
            return report
        if dry_run:
            _plan(run, store)
        else:
            _Upserts(run, store).run(workers)
    if guard is not None and active is not None:
        add_alerts(report, active, catalog, to_args, guard)
    return report


class ActiveRowsStore(Protocol):
    """What the guard needs of `convex_store.ConvexStore`."""

    def list_active(self) -> list[ModelRow]: ...


def read_active(
    store: ActiveRowsStore, guard: GuardRules | None, report: SyncReport
) -> dict[str, ModelRow] | None:
    """The active rows before the sync writes, by id; None when there is no guard, or when the
    deployment lacks the query or it failed (then `report.guard_skipped` says why, and the sync
    goes on: a failed query fails the run, exit 1)."""
    from sync_client.convex_store import is_function_missing

    if guard is None:
        return None
    try:
        return rows_by_api_id(store.list_active())
    except ConvexCallError as error:
        report.guard_skipped = (
            f"the guard on active models was skipped: {GUARD_FUNCTIONS} failed: "
            f"{describe_call_error(error)}"
        )
        report.guard_failed = True
        return None
    except ConvexUnavailableError as error:
        if not is_function_missing(error):
            raise
        report.guard_skipped = (
            f"the guard on active models was skipped: the deployment lacks {GUARD_FUNCTIONS}; "
            "deploy this project's convex/ functions (npx convex deploy)"
        )
        return None


def add_alerts(
    report: SyncReport,
    active: Mapping[str, ModelRow],
    catalog: CatalogLike,
    to_args: ToArgs,
    guard: GuardRules,
) -> None:
    """The alerts of the active models this run wrote (or planned) without error, and the
    warnings of the ranked inactive ones being retired."""
    from sync_client.mapping import expiration_date

    seen: set[str] = set()
    for result in report.results:
        if not result.ok or result.api_id in seen:
            continue
        seen.add(result.api_id)
        stored = active.get(result.api_id)
        if stored is None and result.rank is None:
            continue
        model = catalog.get(result.api_id)
        if model is None:
            continue
        expiration = expiration_date(model)
        if stored is None:
            if (warning := expiring_warning(result.api_id, expiration, guard)) is not None:
                report.expiring.append(warning)
        elif (alert := model_alert(stored, to_args(model), expiration, guard)) is not None:
            report.alerts.append(alert)


class _Upserts:
    """One `upsertModel` call per model, from a pool of threads (each call takes a worker
    process of the store); results are kept by the targets' index, so the report keeps
    their order whatever order the calls finish in."""

    def __init__(self, run: _Run, store: ModelStore) -> None:
        self.run_ = run
        self.store = store
        self.count = len(run.targets)
        self.slots: list[ModelResult | None] = [None] * self.count
        self.unanswered: set[int] = set()
        self.settled = 0
        self.lock = Lock()
        self.stop = Event()
        self.aborted: ConvexUnavailableError | None = None

    def run(self, workers: int) -> None:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="upsert")
        try:
            calls = [pool.submit(self.one, *mapped) for mapped in self.run_.mapped()]
            pool.shutdown(wait=True)
        except BaseException:  # Ctrl-C: send nothing more; the store's close ends the calls
            self.stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        for call in calls:
            call.result()  # a bug in one raises here
        self.report()

    def one(self, index: int, target: SyncTarget, args: UpsertArgs | ModelResult) -> None:
        if isinstance(args, ModelResult):
            self.run_.say_failed(index, args)
            self.settle(index, args, call=False)
            return
        with self.lock:
            if self.stop.is_set():
                return
            line = f"[{index + 1}/{self.count}] upserting {target.api_id}"
            self.run_.on_step(Step(self.settled, self.count, target.api_id, line))
        try:
            outcome = self.store.upsert(args)
        except ConvexCallError as error:
            self.settle(index, failed_result(target, describe_call_error(error)))
        except ConvexUnavailableError as error:
            with self.lock:
                if isinstance(error, ConvexDeadlineError):  # sent; it may have landed
                    self.unanswered.add(index)
                if self.aborted is None:
                    self.aborted = error
                self.stop.set()
        else:
            self.settle(index, written_result(target, outcome.action, args))

    def settle(self, index: int, result: ModelResult, *, call: bool = True) -> None:
        with self.lock:
            self.slots[index] = result
            self.settled += 1
            if call:
                step = Step(self.settled, self.count, result.api_id, "", finished=True)
                self.run_.on_step(step)

    def report(self) -> None:
        report = self.run_.report
        report.aborted = self.aborted
        for index, (target, slot) in enumerate(zip(self.run_.targets, self.slots, strict=True)):
            if isinstance(slot, ModelResult):
                report.results.append(slot)
            elif index in self.unanswered:
                report.unanswered.append(target)
            else:
                report.not_attempted.append(target)


def _plan(run: _Run, store: ModelStore) -> None:
    run.progress("reading the current rows")
    rows = rows_by_api_id(store.list_models())
    for index, target, args in run.mapped():
        if isinstance(args, ModelResult):
            run.say_failed(index, args)
            run.report.results.append(args)
        else:
            run.report.results.append(planned_result(target, rows.get(target.api_id), args))


def rows_by_api_id(rows: Iterable[ModelRow]) -> dict[str, ModelRow]:
    """Stored rows by id; with duplicates, the oldest (the one `upsertModel`'s result names)."""
    by_id: dict[str, ModelRow] = {}
    for row in sorted(rows, key=lambda r: r.get("_creationTime", 0)):
        by_id.setdefault(str(row.get("apiIdentifier")), row)
    return by_id


def failed_result(target: SyncTarget, reason: str) -> ModelResult:
    """The result of a model that could not be synced, and why."""
    return ModelResult(target.api_id, target.rank, target.list_name, error=reason)


def written_result(target: SyncTarget, action: Action, args: UpsertArgs) -> ModelResult:
    """The result of a model `upsertModel` (or `upsertModels`) inserted or updated."""
    return ModelResult(
        target.api_id,
        target.rank,
        target.list_name,
        action=action,
        is_free=bool(args.get("isFree")),
        args=args,
    )


def planned_result(target: SyncTarget, row: ModelRow | None, args: UpsertArgs) -> ModelResult:
    """What a dry run reports for a model: insert, update (with the changes) or unchanged."""
    changes = plan_changes(row, args)
    planned: PlannedAction = "insert" if row is None else "update" if changes else "unchanged"
    return ModelResult(
        target.api_id,
        target.rank,
        target.list_name,
        planned=planned,
        is_free=bool(args.get("isFree")),
        changes=changes,
        args=args,
    )
