"""OpenRouter's rankings dataset → the top N model ids of the paid or the free list.

`GET {OPENROUTER_BASE_URL}/datasets/rankings-daily` (API key required; 30 requests/minute)
answers, per OpenRouter's API reference (dataset version v1):

    {"data": [{"date": "2026-05-11", "model_permaslug": "openai/gpt-4o-2024-05-13",
               "total_tokens": "12345678"}, ...,
              {"date": "2026-05-11", "model_permaslug": "other", "total_tokens": "4321098"}],
     "meta": {"as_of": "2026-05-12T02:00:00Z", "start_date": "2026-04-12",
              "end_date": "2026-05-11", "version": "v1"}}

Up to 50 models per UTC day plus one aggregated `other` row (skipped here); `total_tokens` is
a decimal string (a JSON integer is accepted too). The window defaults to the 30 days before
the last complete day. Rows are keyed by permaslug — the models list's `canonical_slug`, plus
`:variant` for a non-default variant (`…:free` is its own entry) — so they are joined to ids
through the models list; several ids can share one canonical slug.

The request goes through openrouter.py's `get_with_retries`: transport errors and
408/429/5xx are retried (honouring `Retry-After`), bounded by attempts and a deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError

from .errors import ConfigError, OpenRouterError
from .mapping import is_free
from .openrouter import Catalog, OpenRouterModel, RetryPolicy, get_with_retries
from .settings import Secret

RANKINGS_PATH = "/datasets/rankings-daily"
#: The dataset's source and licence, which asks for attribution: printed with every ranking
#: and written into every ranked-list file made from one.
RANKINGS_SOURCE = "OpenRouter (openrouter.ai/rankings)"
RANKINGS_LICENSE = "CC BY 4.0"
RANKINGS_ATTRIBUTION = f"Ranking data: {RANKINGS_SOURCE}, {RANKINGS_LICENSE}"
OTHER_PERMASLUG = "other"
#: Variant suffixes that name the default variant, i.e. the plain id.
DEFAULT_VARIANTS = frozenset({"default", "standard"})

RankedListName = Literal["paid", "free"]


class _RankingRow(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    date: StrictStr
    model_permaslug: StrictStr
    total_tokens: StrictStr | StrictInt


class _RankingsResponse(BaseModel):
    model_config = ConfigDict(extra="allow")

    data: list[_RankingRow]
    meta: dict[str, object] | None = None


@dataclass(frozen=True)
class RankingsWindow:
    """Token totals per permaslug over the rows returned, and the window they cover."""

    tokens_by_permaslug: dict[str, int]
    start_date: str | None
    end_date: str | None
    as_of: str | None


@dataclass(frozen=True)
class RankedPick:
    """One model chosen for a ranked list."""

    api_id: str
    rank: int
    total_tokens: int


@dataclass(frozen=True)
class RankingSelection:
    """The top models of one list, and the permaslugs no model of the catalog matched."""

    picks: list[RankedPick]
    unmatched: list[str]
    window: RankingsWindow


def parse_rankings(body: bytes | str) -> RankingsWindow:
    """Validate a rankings-daily body and sum `total_tokens` per permaslug (`other` left out)."""
    try:
        response = _RankingsResponse.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise OpenRouterError(
            f"OpenRouter's rankings response has an unexpected shape: {where}: {first['msg']}"
        ) from None
    totals: dict[str, int] = {}
    for index, row in enumerate(response.data):
        if row.model_permaslug == OTHER_PERMASLUG:
            continue
        tokens = _token_count(row.total_tokens)
        if tokens is None:
            raise OpenRouterError(
                f"OpenRouter's rankings response has an unexpected shape: data.{index}."
                f"total_tokens: expected a whole number, got {row.total_tokens!r}"
            )
        totals[row.model_permaslug] = totals.get(row.model_permaslug, 0) + tokens
    meta = response.meta or {}

    def meta_text(key: str) -> str | None:
        value = meta.get(key)
        return value if isinstance(value, str) else None

    return RankingsWindow(
        tokens_by_permaslug=totals,
        start_date=meta_text("start_date"),
        end_date=meta_text("end_date"),
        as_of=meta_text("as_of"),
    )


def _token_count(value: str | int) -> int | None:
    if isinstance(value, int):
        return value if value >= 0 else None
    text = value.strip()
    return int(text) if text.isdigit() else None


def resolve_permaslug(permaslug: str, catalog: Iterable[OpenRouterModel]) -> str | None:
    """The catalog id a permaslug stands for, or None.

    `base:variant` matches an id `…:variant` whose canonical slug is `base` (a default variant
    matches the plain id); `base` matches an id without a variant suffix. Among several,
    ids that are not `~` aliases win, then catalog order. Models without a canonical slug
    (older lists) match on their id.
    """
    base, _, variant = permaslug.partition(":")
    if variant in DEFAULT_VARIANTS:
        variant = ""
    candidates: list[str] = []
    for model in catalog:
        slug = model.canonical_slug or model.id.partition(":")[0]
        if slug != base:
            continue
        _, _, id_variant = model.id.partition(":")
        if id_variant == variant:
            candidates.append(model.id)
    candidates.sort(key=lambda api_id: api_id.startswith("~"))
    return candidates[0] if candidates else None


def select_top(
    window: RankingsWindow, catalog: Catalog, list_name: RankedListName, top: int
) -> RankingSelection:
    """The `top` ids of `list_name` by tokens over the window (ties by id).

    Free takes only ids whose prompt and completion prices are both zero; paid takes ids with
    both prices known and not free (router sentinels like `-1` are neither).
    """
    if top < 1:
        raise ConfigError(f"--top must be at least 1, got {top}")
    tokens_by_id: dict[str, int] = {}
    unmatched: list[str] = []
    models = list(catalog)
    for permaslug, tokens in window.tokens_by_permaslug.items():
        api_id = resolve_permaslug(permaslug, models)
        if api_id is None:
            unmatched.append(permaslug)
            continue
        tokens_by_id[api_id] = tokens_by_id.get(api_id, 0) + tokens
    eligible = [
        (api_id, tokens)
        for api_id, tokens in tokens_by_id.items()
        if _belongs_to(catalog.get(api_id), list_name)
    ]
    eligible.sort(key=lambda item: (-item[1], item[0]))
    picks = [
        RankedPick(api_id=api_id, rank=index + 1, total_tokens=tokens)
        for index, (api_id, tokens) in enumerate(eligible[:top])
    ]
    return RankingSelection(picks=picks, unmatched=sorted(unmatched), window=window)


def _belongs_to(model: OpenRouterModel | None, list_name: RankedListName) -> bool:
    if model is None:
        return False
    if list_name == "free":
        return is_free(model.pricing)
    pricing = model.pricing
    if pricing is None or is_free(pricing):
        return False
    return _known_price(pricing.prompt) and _known_price(pricing.completion)


def _known_price(value: str | None) -> bool:
    if value is None:
        return False
    try:
        price = Decimal(value.strip())
    except ArithmeticError:
        return False
    return price.is_finite() and price >= 0


def fetch_rankings(
    base_url: str,
    *,
    api_key: Secret | None,
    start_date: str | None = None,
    end_date: str | None = None,
    policy: RetryPolicy = RetryPolicy(),  # noqa: B008 - frozen dataclass, safe as a default
    timeout: httpx.Timeout | None = None,
    log: Callable[[str], None] | None = None,
) -> RankingsWindow:
    """GET the rankings dataset (retrying transient failures) and return its token totals."""
    if api_key is None:
        raise ConfigError(
            "OPENROUTER_API_KEY is not set: OpenRouter's rankings API needs an API key",
            hint="set OPENROUTER_API_KEY in .env.local (any valid OpenRouter key works)",
        )
    params: dict[str, str] = {}
    if start_date:
        params["start_date"] = start_date
    if end_date:
        params["end_date"] = end_date
    body = get_with_retries(
        base_url.rstrip("/") + RANKINGS_PATH,
        what="rankings",
        api_key=api_key,
        params=params,
        policy=policy,
        timeout=timeout,
        log=log,
        refusal_hint=_refusal_hint,
        exhausted_hint="OpenRouter may be down or rate-limiting (30 requests/minute); try later",
    )
    return parse_rankings(body)


def _refusal_hint(status: int) -> str | None:
    if status in (401, 403):
        return "check OPENROUTER_API_KEY: the rankings API needs a valid key"
    if status == 404:
        return "check OPENROUTER_BASE_URL (it should end in /api/v1)"
    if status == 400:
        return "check the date window (dates are YYYY-MM-DD, not before 2025-01-01)"
    return None
