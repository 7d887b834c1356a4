"""Stale models: rows synced from OpenRouter that OpenRouter no longer lists (the sync and
`status` both judge so; `find_stale` can also compare with a list of ids). Reported after
every sync; deactivated only on request."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .errors import ConvexCallError
from .safe_text import printable

if TYPE_CHECKING:
    from .convex_types import ModelRow

NOT_IN_LIST = "not in the {list} list"
VANISHED = "no longer listed by OpenRouter"


class ActivationStore(Protocol):
    """What stale (and activation) needs of `convex_store.ConvexStore`."""

    def list_models(self, synced_only: bool = False) -> list[ModelRow]: ...

    def set_active(self, api_id: str, is_active: bool) -> ModelRow: ...


@dataclass(frozen=True)
class StaleModel:
    """A synced row that is stale, and why."""

    api_id: str
    is_active: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Deactivation:
    """The outcome of deactivating one stale model."""

    api_id: str
    ok: bool
    was_active: bool
    error: str | None = None


def find_stale(
    rows: Iterable[Mapping[str, Any]],
    *,
    listed_ids: Collection[str] | None,
    list_label: str = "chosen",
    catalog_ids: Collection[str] | None = None,
) -> list[StaleModel]:
    """Rows with `syncedFromOpenRouter` that are not in `listed_ids` or not in `catalog_ids`.

    Either check is skipped when its collection is None (e.g. a `--model`-only run has no
    list to compare against). Each id appears once, sorted.
    """
    stale: dict[str, StaleModel] = {}
    for row in rows:
        if row.get("syncedFromOpenRouter") is not True:
            continue
        api_id = str(row.get("apiIdentifier"))
        reasons: list[str] = []
        if listed_ids is not None and api_id not in listed_ids:
            reasons.append(NOT_IN_LIST.format(list=list_label))
        if catalog_ids is not None and api_id not in catalog_ids:
            reasons.append(VANISHED)
        if reasons:
            previous = stale.get(api_id)
            is_active = bool(row.get("isActive")) or (previous is not None and previous.is_active)
            stale[api_id] = StaleModel(api_id, is_active, tuple(reasons))
    return [stale[api_id] for api_id in sorted(stale)]


def deactivate_stale(store: ActivationStore, stale: Sequence[StaleModel]) -> list[Deactivation]:
    """Set every active stale model inactive (inactive ones are left alone)."""
    return deactivate_models(store, [model.api_id for model in stale if model.is_active])


def deactivate_models(store: ActivationStore, api_ids: Sequence[str]) -> list[Deactivation]:
    """Set each of these active models inactive; a call that fails is that model's outcome
    (`ConvexUnavailableError` stops the rest and propagates)."""
    outcomes: list[Deactivation] = []
    for api_id in api_ids:
        try:
            store.set_active(api_id, False)
        except ConvexCallError as error:
            outcomes.append(Deactivation(api_id, ok=False, was_active=True, error=str(error)))
            continue
        outcomes.append(Deactivation(api_id, ok=True, was_active=True))
    return outcomes


def render_stale(stale: Sequence[StaleModel], deactivated: Sequence[Deactivation] = ()) -> str:
    """Human lines for the stale report (empty string when nothing is stale)."""
    if not stale:
        return ""
    done = {outcome.api_id: outcome for outcome in deactivated}
    lines = [f"Stale models ({len(stale)}):"]
    for model in stale:
        state = "active" if model.is_active else "inactive"
        outcome = done.get(model.api_id)
        if outcome is not None:
            failure = printable(str(outcome.error))
            state = "deactivated" if outcome.ok else f"deactivation failed: {failure}"
        reasons = "; ".join(model.reasons)
        lines.append(f"  [STALE] {printable(model.api_id)} — {reasons} ({state})")
    if not deactivated and any(model.is_active for model in stale):
        lines.append("  (pass --deactivate-stale to set the active ones inactive)")
    return "\n".join(lines) + "\n"


def stale_document(
    stale: Sequence[StaleModel], deactivated: Sequence[Deactivation] = ()
) -> list[dict[str, Any]]:
    """The `stale` part of the `--json` document."""
    done = {outcome.api_id: outcome for outcome in deactivated}
    items: list[dict[str, Any]] = []
    for model in stale:
        item: dict[str, Any] = {
            "apiId": model.api_id,
            "isActive": model.is_active,
            "reasons": list(model.reasons),
        }
        outcome = done.get(model.api_id)
        if outcome is not None:
            item["deactivated"] = outcome.ok
            if outcome.error is not None:
                item["error"] = outcome.error
        items.append(item)
    return items
