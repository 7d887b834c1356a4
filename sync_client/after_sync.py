"""What runs after a finished sync: history recorded, stale models found and, on request,
deactivated, and on request the active models over the budget deactivated. A failure here is
kept in `AfterSync` and reported; it never undoes the sync."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sync_client.errors import SyncModelsError

if TYPE_CHECKING:
    from sync_client.convex_types import HistoryAlert, HistoryEntry
    from sync_client.stale import ActivationStore, Deactivation, StaleModel
    from sync_client.sync import SyncReport


#: What a run says when a `recordSync` call was resent after a lost connection.
RESENT_HISTORY_NOTE = (
    "a history call was resent after a lost connection: the changes its first attempt "
    "recorded for models already stored cannot be counted, so more may have been recorded"
)


@dataclass
class AfterSync:
    """What ran after a sync: history recorded, stale models found (and deactivated)."""

    history_recorded: int | None = None
    #: Why `history_recorded` may fall short of what was stored, when it may.
    history_note: str | None = None
    history_error: str | None = None
    stale_error: str | None = None
    stale: list[StaleModel] = field(default_factory=list)
    deactivated: list[Deactivation] = field(default_factory=list)
    deactivate_requested: bool = False
    #: `--deactivate-over-budget`: the models turned off (in a dry run: to be turned off).
    over_budget: list[Deactivation] = field(default_factory=list)
    over_budget_error: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.history_error is None
            and self.stale_error is None
            and self.over_budget_error is None
            and all(outcome.ok for outcome in (*self.deactivated, *self.over_budget))
        )


def follow_up_sync(
    report: SyncReport,
    store: ActivationStore,
    *,
    record_history: Callable[[list[HistoryEntry]], int] | None,
    catalog_ids: Collection[str] | None,
    deactivate_stale: bool,
    deactivate_over_budget: bool = False,
) -> AfterSync:
    """After a finished sync: turn off the active models over the budget when asked, record
    history (not in a dry run), find stale rows, and deactivate them when asked (in a dry run,
    the over-budget ones are listed and nothing is changed)."""
    from sync_client.convex_store import BATCH_SIZE
    from sync_client.history import build_entries
    from sync_client.stale import Deactivation, deactivate_models, find_stale
    from sync_client.stale import deactivate_stale as deactivate

    after = AfterSync(deactivate_requested=deactivate_stale)
    # The sync itself is done: a failure here is kept and reported, never raised.
    if deactivate_over_budget:
        over = [alert.api_id for alert in report.alerts if "over-budget" in alert.reasons]
        if report.dry_run:
            after.over_budget = [Deactivation(api_id, ok=True, was_active=True) for api_id in over]
        else:
            try:
                after.over_budget = deactivate_models(store, over)
            except SyncModelsError as error:
                after.over_budget_error = f"--deactivate-over-budget stopped: {error}"
    try:
        rows = store.list_models(synced_only=True)
    except SyncModelsError as error:
        after.stale_error = after.history_error = str(error)
        return after
    if not report.dry_run and record_history is not None:
        entries = build_entries(report.results, rows, _history_alerts(report, after))
        try:
            after.history_recorded = sum(
                record_history(entries[start : start + BATCH_SIZE])
                for start in range(0, len(entries), BATCH_SIZE)
            )
        except SyncModelsError as error:
            after.history_error = str(error)
    # Stale is what OpenRouter no longer lists, whichever mode synced the row (status judges
    # it the same way): a model in no ranked list but still listed may be a --catalog row.
    after.stale = find_stale(rows, listed_ids=None, catalog_ids=catalog_ids)
    if deactivate_stale and not report.dry_run:
        try:
            after.deactivated = deactivate(store, after.stale)
        except SyncModelsError as error:
            after.stale_error = f"--deactivate-stale stopped: {error}"
    return after


def _history_alerts(report: SyncReport, after: AfterSync) -> dict[str, list[HistoryAlert]]:
    """What history records of the guard, by id: the alert reasons, and `deactivated` for a
    model `--deactivate-over-budget` turned off."""
    alerts: dict[str, list[HistoryAlert]] = {
        alert.api_id: list(alert.reasons) for alert in report.alerts
    }
    for outcome in after.over_budget:
        if outcome.ok and not report.dry_run:
            alerts.setdefault(outcome.api_id, []).append("deactivated")
    return alerts
