"""What a synced `aiModels` row should hold, worked out from an OpenRouter entry with Decimal,
independently of `sync_client.mapping` (the tests' own oracle; `test_mapping` checks the
mapping against cases)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any


def per_million(price: Any) -> float | None:
    """USD per token as OpenRouter sends it → USD per 1M tokens; None for an unknown price."""
    try:
        value = Decimal(price)
    except (InvalidOperation, TypeError, ValueError):
        return None
    if not value.is_finite() or value < 0:
        return None
    return float(value * 1_000_000)


def expected_row(model: Mapping[str, Any]) -> dict[str, Any]:
    """Each synced field of the row for `model`; None where OpenRouter does not know it."""
    pricing = model.get("pricing") or {}
    prompt, completion = per_million(pricing.get("prompt")), per_million(pricing.get("completion"))
    return {
        "modelName": model["name"],
        "provider": model["id"].split("/")[0],
        "slug": re.sub(r"[^a-z0-9]+", "-", model["id"].lower()).strip("-"),
        "contextWindow": model.get("context_length"),
        "isFree": prompt == 0 and completion == 0,
        "inputCostPer1MTokens": prompt,
        "outputCostPer1MTokens": completion,
        "maxCompletionTokens": (model.get("top_provider") or {}).get("max_completion_tokens"),
        "description": model.get("description"),
        "openRouterCreatedAt": model["created"] * 1000,
    }
