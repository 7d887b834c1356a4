"""Map an OpenRouter model to the arguments of Convex `mutations/syncModels:upsertModel`.

Prices are converted with Decimal, so `"0.0000002"` per token becomes exactly 0.2 per 1M.
Unknown values — null or absent fields, the `"-1"` router sentinel, negative, empty or
non-numeric prices, non-positive token counts — are omitted rather than sent.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation

from .convex_types import UpsertArgs
from .openrouter import OpenRouterModel, Pricing

TOKENS_PER_PRICE_UNIT_EXPONENT = 6  # prices are stored per 1M tokens
_DECIMAL_PRICE = re.compile(r"\+?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
#: A date, optionally with a time of day (ignored): `2026-02-17`, `2026-02-17T00:00:00Z`.
_ISO_DATE = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
    re.ASCII,
)
_NON_ALPHANUMERIC_RUN = re.compile(r"[^a-z0-9]+")


def to_upsert_args(model: OpenRouterModel) -> UpsertArgs:
    """The `upsertModel` arguments for `model`; unknown values are left out. ValueError when
    `expiration_date` is not a date (the schema has no field for it: the guard reads it)."""
    expiration_date(model)
    args: UpsertArgs = {
        "apiIdentifier": model.id,
        "modelName": model.name,
        "provider": model.id.split("/", 1)[0],
        "slug": slugify(model.id),
        "isFree": is_free(model.pricing),
    }
    if (context_window := _positive(model.context_length)) is not None:
        args["contextWindow"] = context_window
    if model.pricing is not None:
        if (input_cost := price_per_million(model.pricing.prompt)) is not None:
            args["inputCostPer1MTokens"] = input_cost
        if (output_cost := price_per_million(model.pricing.completion)) is not None:
            args["outputCostPer1MTokens"] = output_cost
    if model.top_provider is not None:
        max_completion = _positive(model.top_provider.max_completion_tokens)
        if max_completion is not None:
            args["maxCompletionTokens"] = max_completion
    if model.description is not None:
        args["description"] = model.description
    if model.created is not None and model.created > 0:
        args["openRouterCreatedAt"] = model.created * 1000
    return args


def price_per_million(value: object) -> float | None:
    """USD per 1M tokens from a per-token decimal string; None when the price is unknown.

    Only strings of plain decimal digits (optionally with an exponent) count; `"-1"`, negative,
    empty, non-numeric, NaN/Infinity and non-strings give None.
    """
    per_token = _parse_price(value)
    if per_token is None:
        return None
    sign, digits, exponent = per_token.as_tuple()
    assert isinstance(exponent, int)  # finite, checked by _parse_price
    # Shifting the exponent is exact; float() then rounds once, correctly.
    per_million = float(Decimal((sign, digits, exponent + TOKENS_PER_PRICE_UNIT_EXPONENT)))
    if not math.isfinite(per_million):
        return None
    return per_million if per_million != 0 else 0.0


def is_free(pricing: Pricing | None) -> bool:
    """True only when prompt and completion prices are both known and numerically zero."""
    if pricing is None:
        return False
    prompt = _parse_price(pricing.prompt)
    completion = _parse_price(pricing.completion)
    return prompt is not None and completion is not None and prompt == 0 and completion == 0


def expiration_date(model: OpenRouterModel) -> dt.date | None:
    """OpenRouter's announced retirement date (`"2026-02-17"`, or an ISO date and time), None
    when none is planned; ValueError for anything else."""
    text = model.expiration_date
    if text is None:
        return None
    match = _ISO_DATE.fullmatch(text.strip())
    try:
        if match is None:
            raise ValueError
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        raise ValueError(f"expiration_date: not a date: {text[:40]!r}") from None


def slugify(api_id: str) -> str:
    """Lower-case, every run of characters other than a-z and 0-9 becomes `-`, trimmed of `-`."""
    return _NON_ALPHANUMERIC_RUN.sub("-", api_id.lower()).strip("-")


def _parse_price(value: object) -> Decimal | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not _DECIMAL_PRICE.fullmatch(text):
        return None
    try:
        price = Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        return None
    return price if price.is_finite() else None


def _positive(value: int | None) -> int | None:
    return value if value is not None and value > 0 else None
