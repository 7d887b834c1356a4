"""Mapping OpenRouter models to upsertModel args: Decimal prices, sentinels, slugs, omissions."""

from __future__ import annotations

import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.openrouter_fixtures import every_snapshot
from support.openrouter_server import load_snapshot, snapshot_path

from sync_client.convex_types import UpsertArgs
from sync_client.mapping import is_free, price_per_million, slugify, to_upsert_args
from sync_client.openrouter import OpenRouterModel, Pricing, parse_catalog

UPSERT_KEYS = set(UpsertArgs.__required_keys__) | set(UpsertArgs.__optional_keys__)


def model(**fields: Any) -> OpenRouterModel:
    return OpenRouterModel.model_validate({"id": "vendor/model", "name": "Model", **fields})


# --- prices ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.0000002", 0.2),
        ("0.000003", 3.0),
        ("0.000015", 15.0),
        ("0.000000005", 0.005),
        ("0.00000001703012", 0.01703012),
        ("0", 0.0),
        ("0.0", 0.0),
        ("1e-7", 0.1),
        ("3E-6", 3.0),
        (" 0.000001 ", 1.0),
        ("+0.000001", 1.0),
        (".000001", 1.0),
        ("60", 60_000_000.0),
    ],
)
def test_price_per_million_is_exact(value: str, expected: float) -> None:
    assert price_per_million(value) == expected


def test_binary_float_would_have_been_wrong() -> None:
    # The reason for Decimal: the naive conversion is off.
    assert float("0.0000002") * 1e6 != 0.2
    assert price_per_million("0.0000002") == 0.2


@pytest.mark.parametrize("value", ["-1", "", "   ", " -1 ", None])
def test_unknown_prices_are_none(value: str | None) -> None:
    assert price_per_million(value) is None


@pytest.mark.parametrize(
    "value",
    ["-0.000001", "-2", "free", "NaN", "nan", "Infinity", "-Infinity", "sNaN", "1_000", "0x10",
     "1e999999", "1e400", "1.2.3", "$0.01", "٣e-06", "\u0663", "\uff11", "0.000001\u00a0",
     0.000003, 3, True, Decimal("1")],
)  # fmt: skip
def test_invalid_prices_are_value_errors(value: object) -> None:
    with pytest.raises(ValueError):
        price_per_million(value)  # type: ignore[arg-type]


def test_a_price_too_small_for_a_float_is_stored_as_zero() -> None:
    assert price_per_million("1e-400") == 0.0


@given(st.decimals(min_value=0, max_value=Decimal("1e6"), allow_nan=False, allow_infinity=False))
def test_price_conversion_matches_decimal_arithmetic(per_token: Decimal) -> None:
    for text in {str(per_token), format(per_token, "f")}:
        expected = float(per_token * Decimal(1_000_000))
        assert price_per_million(text) == expected
        assert price_per_million(text) == float(Decimal(text).scaleb(6))


@given(st.decimals(max_value=Decimal("-1e-30"), allow_nan=False, allow_infinity=False))
def test_negative_prices_are_refused(per_token: Decimal) -> None:
    if per_token != -1:
        with pytest.raises(ValueError):
            price_per_million(str(per_token))


@given(st.text(max_size=30))
def test_price_per_million_raises_only_value_error_and_is_never_negative(text: str) -> None:
    try:
        result = price_per_million(text)
    except ValueError:
        return
    assert result is None or (math.isfinite(result) and result >= 0)
    assert text.strip(" \t\r\n") in ("", "-1") or text.isascii()


# --- isFree ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "completion", "free"),
    [
        ("0", "0", True),
        ("0.0", "0e0", True),
        ("0", "0.000001", False),
        ("0.000001", "0", False),
        ("-1", "-1", False),
        ("0", None, False),
        (None, None, False),
        ("", "", False),
        ("0", "-1", False),
    ],
)
def test_is_free_needs_both_prices_known_and_zero(
    prompt: str | None, completion: str | None, free: bool
) -> None:
    assert is_free(Pricing(prompt=prompt, completion=completion)) is free


def test_no_pricing_is_not_free() -> None:
    assert is_free(None) is False


# --- slugify ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_id", "slug"),
    [
        ("anthropic/claude-sonnet-4.5", "anthropic-claude-sonnet-4-5"),
        ("qwen/qwen3-coder:free", "qwen-qwen3-coder-free"),
        ("~openai/GPT-Latest", "openai-gpt-latest"),
        ("Meta-Llama/Llama-3.1-405B-Instruct", "meta-llama-llama-3-1-405b-instruct"),
        ("a//b__c", "a-b-c"),
        ("--x--", "x"),
        ("ünïcode/modèl", "n-code-mod-l"),
        ("///", ""),
    ],
)
def test_slugify_examples(api_id: str, slug: str) -> None:
    assert slugify(api_id) == slug


@given(st.text(max_size=60))
def test_slugify_properties(api_id: str) -> None:
    slug = slugify(api_id)
    assert re.fullmatch(r"([a-z0-9]+(-[a-z0-9]+)*)?", slug)
    assert slugify(slug) == slug
    # The ASCII letters and digits survive, in order, lower-cased.
    assert slug.replace("-", "") == "".join(
        char for char in api_id.lower() if char.isascii() and char.isalnum()
    )


# --- the whole mapping -----------------------------------------------------------------------


def test_full_model_maps_every_field() -> None:
    args = to_upsert_args(
        model(
            id="anthropic/claude-sonnet-4.5",
            name="Anthropic: Claude Sonnet 4.5",
            created=1759161676,
            description="Sonnet.",
            context_length=1_000_000,
            pricing={"prompt": "0.000003", "completion": "0.000015", "request": "0"},
            top_provider={"context_length": 1_000_000, "max_completion_tokens": 64000},
        )
    )
    assert args == {
        "apiIdentifier": "anthropic/claude-sonnet-4.5",
        "modelName": "Anthropic: Claude Sonnet 4.5",
        "provider": "anthropic",
        "slug": "anthropic-claude-sonnet-4-5",
        "isFree": False,
        "contextWindow": 1_000_000,
        "inputCostPer1MTokens": 3.0,
        "outputCostPer1MTokens": 15.0,
        "maxCompletionTokens": 64000,
        "description": "Sonnet.",
        "openRouterCreatedAt": 1759161676000,
    }


def test_free_model() -> None:
    args = to_upsert_args(
        model(id="qwen/qwen3-coder:free", pricing={"prompt": "0", "completion": "0"})
    )
    assert args["isFree"] is True
    assert args["inputCostPer1MTokens"] == 0.0
    assert args["outputCostPer1MTokens"] == 0.0


def test_null_absent_and_sentinel_values_are_omitted() -> None:
    args = to_upsert_args(
        model(
            id="openrouter/auto",
            context_length=None,
            description=None,
            pricing={"prompt": "-1", "completion": "-1"},
            top_provider={"context_length": None, "max_completion_tokens": None},
        )
    )
    assert args == {
        "apiIdentifier": "openrouter/auto",
        "modelName": "Model",
        "provider": "openrouter",
        "slug": "openrouter-auto",
        "isFree": False,
    }
    minimal = to_upsert_args(model())
    assert set(minimal) == {"apiIdentifier", "modelName", "provider", "slug", "isFree"}
    assert None not in minimal.values()


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"context_length": 0}, "context_length: 0 is not a positive integer"),
        ({"context_length": -5}, "context_length: -5 is not a positive integer"),
        ({"created": 0}, "created: 0 is not a positive integer"),
        (
            {"top_provider": {"max_completion_tokens": -1}},
            "top_provider.max_completion_tokens: -1 is not a positive integer",
        ),
        ({"pricing": {"prompt": "٣e-06"}}, "pricing.prompt: not a price in decimal notation"),
        ({"pricing": {"completion": "-0.5"}}, "pricing.completion: not a price"),
        ({"pricing": {"prompt": "1e400"}}, "pricing.prompt: price too large"),
    ],
)
def test_an_invalid_value_is_an_error_naming_the_field_not_an_omission(
    fields: dict[str, Any], named: str
) -> None:
    # Omitting it would clear the stored value; only an absent (or null) field does that.
    with pytest.raises(ValueError, match=re.escape(named)):
        to_upsert_args(model(**fields))


@pytest.mark.parametrize(
    ("prompt", "completion", "free"),
    [("1e-400", "0", True), ("1e-400", "0.000001", False), ("0", "-1", False)],
)
def test_is_free_is_derived_from_the_prices_stored(
    prompt: str, completion: str, free: bool
) -> None:
    args = to_upsert_args(model(pricing={"prompt": prompt, "completion": completion}))
    stored = (args.get("inputCostPer1MTokens"), args.get("outputCostPer1MTokens"))
    assert args["isFree"] is free
    assert args["isFree"] is (stored == (0.0, 0.0))
    assert is_free(Pricing(prompt=prompt, completion=completion)) is free


def test_id_without_slash_is_its_own_provider() -> None:
    assert to_upsert_args(model(id="solo"))["provider"] == "solo"


@pytest.mark.parametrize("snapshot", every_snapshot())
def test_every_snapshot_model_maps_cleanly(snapshot: str | Path) -> None:
    raw_models = load_snapshot(snapshot)["data"]
    catalog = parse_catalog(snapshot_path(snapshot).read_bytes())
    free_count = 0
    for raw, parsed in zip(raw_models, catalog, strict=True):
        args = to_upsert_args(parsed)
        values: dict[str, Any] = dict(args)
        assert set(args) <= UPSERT_KEYS
        assert None not in args.values()
        assert args["apiIdentifier"] == raw["id"]
        assert args["provider"] == raw["id"].split("/")[0]
        for key, raw_key in (
            ("inputCostPer1MTokens", "prompt"),
            ("outputCostPer1MTokens", "completion"),
        ):
            raw_price = raw["pricing"].get(raw_key)
            if key in values:
                assert values[key] >= 0
                assert math.isfinite(values[key])
                assert values[key] == float(Decimal(raw_price) * 1_000_000)
            else:
                assert raw_price is None or Decimal(raw_price) < 0
        assert args["isFree"] == (
            raw["pricing"]["prompt"] == "0" and raw["pricing"]["completion"] == "0"
        )
        free_count += args["isFree"]
        if raw["context_length"]:
            assert args["contextWindow"] == raw["context_length"]
        assert args.get("maxCompletionTokens") == raw["top_provider"].get("max_completion_tokens")
        assert args["openRouterCreatedAt"] == raw["created"] * 1000
    assert free_count > 0
    # The router sentinel is in every snapshot and never becomes a cost.
    auto = catalog.get("openrouter/auto")
    assert auto is not None
    assert "inputCostPer1MTokens" not in to_upsert_args(auto)
