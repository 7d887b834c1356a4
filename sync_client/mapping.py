"""Map an OpenRouter model to the arguments of Convex `mutations/syncModels:upsertModel`.

Prices are converted with Decimal, so `"0.0000002"` per token becomes exactly 0.2 per 1M.
Unknown values — null or absent fields, the `"-1"` router sentinel and an empty price — are
omitted (the stored value is cleared). A value that is there but wrong (a negative or
non-decimal price, a token count or time that is not positive) is a ValueError naming the
field: that model's own error, and its stored row is left as it was.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from .convex_types import UpsertArgs
from .openrouter import OpenRouterModel, Pricing, TopProvider

TOKENS_PER_PRICE_UNIT_EXPONENT = 6  # prices are stored per 1M tokens
#: ASCII decimal notation only (`\d` would admit other scripts' digits, e.g. `"٣e-06"`).
_DECIMAL_PRICE = re.compile(r"\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
#: OpenRouter's price for "varies" (the router ids), and the other way it says "unknown".
_UNKNOWN_PRICES = frozenset({"-1", ""})
_ASCII_BLANKS = " \t\r\n"
#: A date, optionally with a time of day (ignored): `2026-02-17`, `2026-02-17T00:00:00Z`.
_ISO_DATE = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
    re.ASCII,
)
_In = TypeVar("_In")
_Out = TypeVar("_Out")
_NON_ALPHANUMERIC_RUN = re.compile(r"[^a-z0-9]+")


def to_upsert_args(model: OpenRouterModel) -> UpsertArgs:
    """The `upsertModel` arguments for `model`; unknown values are left out. ValueError naming
    the field when a value is there but not valid (see the module docstring), or when
    `expiration_date` is not a date (the schema has no field for it: the guard reads it)."""
    expiration_date(model)
    pricing = model.pricing or Pricing()
    input_cost = _field("pricing.prompt", price_per_million, pricing.prompt)
    output_cost = _field("pricing.completion", price_per_million, pricing.completion)
    top_provider = model.top_provider or TopProvider()
    args: UpsertArgs = {
        "apiIdentifier": model.id,
        "modelName": model.name,
        "provider": model.id.split("/", 1)[0],
        "slug": slugify(model.id),
        # From the values stored, so the flag can never disagree with them.
        "isFree": input_cost == 0.0 and output_cost == 0.0,
    }
    if (context_window := _field("context_length", _positive, model.context_length)) is not None:
        args["contextWindow"] = context_window
    if input_cost is not None:
        args["inputCostPer1MTokens"] = input_cost
    if output_cost is not None:
        args["outputCostPer1MTokens"] = output_cost
    max_completion = _field(
        "top_provider.max_completion_tokens", _positive, top_provider.max_completion_tokens
    )
    if max_completion is not None:
        args["maxCompletionTokens"] = max_completion
    if model.description is not None:
        args["description"] = model.description
    if (created := _field("created", _positive, model.created)) is not None:
        args["openRouterCreatedAt"] = created * 1000
    return args


def price_per_million(value: str | None) -> float | None:
    """USD per 1M tokens from a per-token decimal string; None when the price is unknown
    (null, empty, the `"-1"` sentinel). ValueError for anything else that is not a
    non-negative decimal in ASCII notation (digits, optionally a point and an exponent),
    or that is too large for a float."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a decimal string, got {value!r}")
    text = value.strip(_ASCII_BLANKS)
    if text in _UNKNOWN_PRICES:
        return None
    if not _DECIMAL_PRICE.fullmatch(text):
        raise ValueError(f"not a price in decimal notation: {value[:40]!r}")
    sign, digits, exponent = Decimal(text).as_tuple()
    assert isinstance(exponent, int)  # finite: the pattern admits no NaN or Infinity
    # Shifting the exponent is exact; float() then rounds once, correctly.
    per_million = float(Decimal((sign, digits, exponent + TOKENS_PER_PRICE_UNIT_EXPONENT)))
    if not math.isfinite(per_million):
        raise ValueError(f"price too large: {value[:40]!r}")
    return per_million if per_million != 0 else 0.0


def is_free(pricing: Pricing | None) -> bool:
    """True only when prompt and completion prices are both known, valid and stored as zero
    (a price too small for a float is stored, and so counts, as zero)."""
    if pricing is None:
        return False
    try:
        prompt = price_per_million(pricing.prompt)
        completion = price_per_million(pricing.completion)
    except ValueError:
        return False
    return prompt == 0.0 and completion == 0.0


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


def _field(name: str, parse: Callable[[_In], _Out | None], value: _In) -> _Out | None:
    """`parse(value)`, a ValueError from it prefixed with the field's name."""
    try:
        return parse(value)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _positive(value: int | None) -> int | None:
    if value is not None and value <= 0:
        raise ValueError(f"{value} is not a positive integer")
    return value
