"""What runs after a finished sync: history recorded, stale models found and, on request,
deactivated. A failure here is kept in `AfterSync` and reported; it never undoes the sync."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sync_client.errors import SyncModelsError

if TYPE_CHECKING:
    from sync_client.convex_types import HistoryEntry
    from sync_client.stale import ActivationStore, Deactivation, StaleModel
    from sync_client.sync import SyncReport


@dataclass
class AfterSync:
    """What ran after a sync: history recorded, stale models found (and deactivated)."""

    history_recorded: int | None = None
    history_error: str | None = None
    stale_error: str | None = None
    stale: list[StaleModel] = field(default_factory=list)
    deactivated: list[Deactivation] = field(default_factory=list)
    deactivate_requested: bool = False

    @property
    def ok(self) -> bool:
        return (
            self.history_error is None
            and self.stale_error is None
            and all(outcome.ok for outcome in self.deactivated)
        )


def follow_up_sync(
    report: SyncReport,
    store: ActivationStore,
    *,
    record_history: Callable[[list[HistoryEntry]], int] | None,
    listed_ids: Collection[str] | None,
    list_label: str,
    catalog_ids: Collection[str] | None,
    deactivate_stale: bool,
) -> AfterSync:
    """After a finished sync: record history (not in a dry run), find stale rows, and
    deactivate them when asked (never in a dry run)."""
    from sync_client.convex_store import BATCH_SIZE
    from sync_client.history import build_entries
    from sync_client.stale import deactivate_stale as deactivate
    from sync_client.stale import find_stale

    after = AfterSync(deactivate_requested=deactivate_stale)
    # The sync itself is done: a failure here is kept and reported, never raised.
    try:
        rows = store.list_models(synced_only=True)
    except SyncModelsError as error:
        after.stale_error = after.history_error = str(error)
        return after
    if not report.dry_run and record_history is not None:
        entries = build_entries(report.results, rows)
        try:
            after.history_recorded = sum(
                record_history(entries[start : start + BATCH_SIZE])
                for start in range(0, len(entries), BATCH_SIZE)
            )
        except SyncModelsError as error:
            after.history_error = str(error)
    after.stale = find_stale(
        rows, listed_ids=listed_ids, list_label=list_label, catalog_ids=catalog_ids
    )
    if deactivate_stale and not report.dry_run:
        try:
            after.deactivated = deactivate(store, after.stale)
        except SyncModelsError as error:
            after.stale_error = f"--deactivate-stale stopped: {error}"
    return after
