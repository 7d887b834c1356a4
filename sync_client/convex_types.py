"""What the Convex functions take and return, as Python types (`convex/lib/validators.ts`).

Types only: nothing here checks a value at run time. The functions' own `args` and `returns`
validators are the contract; the SDK hands back every Convex number as a float. (No
`from __future__ import annotations` here: Python 3.11 would then lose `Required` at run time.)
"""

from typing import Literal, NotRequired, Required, TypedDict, get_args

#: A value of one of the model fields a sync writes (`upsertModelArgs`).
FieldValue = str | int | float | bool

#: The `upsertModel` arguments a dry run compares with the stored row.
SyncedField = Literal[
    "modelName",
    "provider",
    "slug",
    "contextWindow",
    "isFree",
    "inputCostPer1MTokens",
    "outputCostPer1MTokens",
    "maxCompletionTokens",
    "description",
    "openRouterCreatedAt",
]

#: The row values a history entry tracks (`historyTrackedFields`, rank and list aside).
TrackedField = Literal[
    "inputCostPer1MTokens", "outputCostPer1MTokens", "contextWindow", "maxCompletionTokens"
]

HistoryList = Literal["paid", "free", "catalog"]

#: What a history row records of the guard (`historyAlert`): its alert reasons, and
#: `deactivated` when `--deactivate-over-budget` turned the model off.
HistoryAlert = Literal["price-increase", "now-paid", "over-budget", "expiring", "deactivated"]

#: Each field a dry run compares (a field the caller omits is cleared by the mutation, so
#: each one is compared even when absent), in the order it shows them.
SYNCED_FIELDS: tuple[SyncedField, ...] = get_args(SyncedField)
#: Each row value a history entry tracks.
TRACKED_ROW_FIELDS: tuple[TrackedField, ...] = get_args(TrackedField)


class UpsertArgs(TypedDict, total=False):
    """`upsertModel`'s arguments (`upsertModelArgs`); optional keys are absent when the value
    is unknown."""

    apiIdentifier: Required[str]
    modelName: Required[str]
    provider: Required[str]
    slug: Required[str]
    isFree: Required[bool]
    contextWindow: NotRequired[int]
    inputCostPer1MTokens: NotRequired[float]
    outputCostPer1MTokens: NotRequired[float]
    maxCompletionTokens: NotRequired[int]
    description: NotRequired[str]
    openRouterCreatedAt: NotRequired[int]


class ModelRow(TypedDict, total=False):
    """An `aiModels` row as `queries/aiModels:list` and `setActive` return it (`aiModelDoc`)."""

    _id: Required[str]
    _creationTime: Required[float]
    provider: Required[str]
    modelName: Required[str]
    modelVersion: str
    apiIdentifier: Required[str]
    slug: str
    contextWindow: float
    isActive: Required[bool]
    updatedAt: float
    syncedFromOpenRouter: bool
    isFree: bool
    openRouterCreatedAt: float
    inputCostPer1MTokens: float
    outputCostPer1MTokens: float
    maxCompletionTokens: float
    description: str


class HistoryEntry(TypedDict, total=False):
    """One `recordSync` entry (`historyEntry`): a model's tracked values after a sync."""

    apiIdentifier: Required[str]
    inputCostPer1MTokens: float
    outputCostPer1MTokens: float
    contextWindow: float
    maxCompletionTokens: float
    rank: int
    list: HistoryList
    alerts: list[HistoryAlert]
