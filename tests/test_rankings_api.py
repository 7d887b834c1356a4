"""Rankings API: permaslug → id join, token totals, top-N selection, over a loopback server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.openrouter_server import Respond, load_snapshot
from support.rankings_server import RankingsServer, ranking_row

from sync_client.errors import ConfigError, OpenRouterError
from sync_client.openrouter import Catalog, OpenRouterModel, RetryPolicy, fetch_catalog
from sync_client.rankings_api import (
    fetch_rankings,
    parse_rankings,
    resolve_permaslug,
    select_top,
)
from sync_client.settings import Secret

API_KEY = "sk-or-v1-rankings-test-secret"
FAST = RetryPolicy(max_attempts=3, deadline_s=10.0, initial_backoff_s=0.01, max_backoff_s=0.05)

# Permaslugs as OpenRouter keys them (canonical slugs of the 2025-12-02 snapshot).
SONNET = "anthropic/claude-4.5-sonnet-20250929"  # id anthropic/claude-sonnet-4.5
CODER = "qwen/qwen3-coder-480b-a35b-07-25"  # ids qwen/qwen3-coder, :free, :exacto
LLAMA = "meta-llama/llama-3.3-70b-instruct"  # ids …-instruct and …-instruct:free
GPT4O = "openai/gpt-4o"  # ids openai/gpt-4o and openai/gpt-4o:extended
R1 = "deepseek/deepseek-r1-0528"


@pytest.fixture(scope="module")
def snapshot_models() -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = load_snapshot("models-2025-12-02")["data"]
    return models


@pytest.fixture(scope="module")
def catalog(snapshot_models: list[dict[str, Any]]) -> Catalog:
    return Catalog([OpenRouterModel.model_validate(model) for model in snapshot_models])


@pytest.fixture
def server(snapshot_models: list[dict[str, Any]]) -> Iterator[RankingsServer]:
    with RankingsServer(api_key=API_KEY) as running:
        running.set_models(snapshot_models)
        yield running


def three_days() -> list[dict[str, Any]]:
    rows = []
    for day, scale in (("2026-11-24", 1), ("2026-11-25", 2), ("2026-11-26", 3)):
        rows += [
            ranking_row(day, SONNET, 900 * scale),
            ranking_row(day, f"{CODER}:free", 800 * scale),
            ranking_row(day, GPT4O, 700 * scale),
            ranking_row(day, CODER, 600 * scale),
            ranking_row(day, f"{LLAMA}:free", 500 * scale),
            ranking_row(day, f"{GPT4O}:extended", 400 * scale),
            ranking_row(day, "openrouter/auto", 300 * scale),
            ranking_row(day, "vanished/model-2024", 200 * scale),
        ]
    # A model that only ranks on one day still adds up over the window.
    rows.append(ranking_row("2026-11-26", R1, 5000))
    return rows


def test_permaslugs_join_ids_through_canonical_slug(catalog: Catalog) -> None:
    models = list(catalog)
    assert resolve_permaslug(SONNET, models) == "anthropic/claude-sonnet-4.5"
    assert resolve_permaslug(CODER, models) == "qwen/qwen3-coder"
    assert resolve_permaslug(f"{CODER}:free", models) == "qwen/qwen3-coder:free"
    assert resolve_permaslug(f"{CODER}:exacto", models) == "qwen/qwen3-coder:exacto"
    assert resolve_permaslug(f"{GPT4O}:extended", models) == "openai/gpt-4o:extended"
    assert resolve_permaslug(f"{GPT4O}:standard", models) == "openai/gpt-4o"
    # An id is not a permaslug: claude-sonnet-4.5's canonical slug differs from its id.
    assert resolve_permaslug("anthropic/claude-sonnet-4.5", models) is None
    assert resolve_permaslug(f"{R1}:free", models) is None


def test_models_without_canonical_slug_match_on_their_id() -> None:
    old = load_snapshot("models-2025-05-23")["data"]
    assert all("canonical_slug" not in model for model in old), "predates canonical_slug"
    models = [OpenRouterModel.model_validate(model) for model in old]
    assert resolve_permaslug("qwen/qwen3-235b-a22b", models) == "qwen/qwen3-235b-a22b"
    assert resolve_permaslug("qwen/qwen3-235b-a22b:free", models) == "qwen/qwen3-235b-a22b:free"


def test_tokens_are_summed_over_days_and_the_other_row_is_left_out() -> None:
    body = (
        b'{"data": ['
        b'{"date": "2026-11-25", "model_permaslug": "a/x", "total_tokens": "18446744073709551615"},'
        b'{"date": "2026-11-25", "model_permaslug": "other", "total_tokens": "9"},'
        b'{"date": "2026-11-26", "model_permaslug": "a/x", "total_tokens": 5}],'
        b'"meta": {"as_of": "2026-11-27T02:00:00Z", "start_date": "2026-10-27",'
        b' "end_date": "2026-11-26", "version": "v1"}}'
    )
    window = parse_rankings(body)
    assert window.tokens_by_permaslug == {"a/x": 18446744073709551620}
    assert (window.start_date, window.end_date) == ("2026-10-27", "2026-11-26")


@pytest.mark.parametrize(
    "body",
    [
        b'{"rows": []}',
        b'{"data": [{"date": "2026-11-25", "model_permaslug": "a/x", "total_tokens": "1e3"}]}',
        b'{"data": [{"date": "2026-11-25", "model_permaslug": "a/x", "total_tokens": -1}]}',
        b'{"data": [{"date": "2026-11-25", "total_tokens": "1"}]}',
        b"<html>",
    ],
)
def test_a_malformed_response_is_one_openrouter_error(body: bytes) -> None:
    with pytest.raises(OpenRouterError, match="rankings response has an unexpected shape"):
        parse_rankings(body)


def test_paid_top_over_the_loopback_api(server: RankingsServer) -> None:
    server.set_rows(three_days())
    catalog = fetch_catalog(server.base_url)
    window = fetch_rankings(server.base_url, api_key=Secret(API_KEY), policy=FAST)
    selection = select_top(window, catalog, "paid", 4)

    assert [(p.api_id, p.rank) for p in selection.picks] == [
        ("anthropic/claude-sonnet-4.5", 1),  # 900 x 6
        ("deepseek/deepseek-r1-0528", 2),  # 5000, one day only
        ("openai/gpt-4o", 3),  # 700 x 6
        ("qwen/qwen3-coder", 4),  # 600 x 6
    ]
    assert selection.picks[0].total_tokens == 5400
    assert selection.unmatched == ["vanished/model-2024"]
    request = server.rankings_requests()[0]
    assert request.header("authorization") == f"Bearer {API_KEY}"


def test_free_top_picks_only_free_ids(server: RankingsServer, catalog: Catalog) -> None:
    server.set_rows(three_days())
    window = fetch_rankings(server.base_url, api_key=Secret(API_KEY), policy=FAST)
    selection = select_top(window, catalog, "free", 10)
    assert [p.api_id for p in selection.picks] == [
        "qwen/qwen3-coder:free",
        "meta-llama/llama-3.3-70b-instruct:free",
    ]
    for pick in selection.picks:
        model = catalog.get(pick.api_id)
        assert model is not None and model.pricing is not None
        assert float(model.pricing.prompt or "1") == 0 == float(model.pricing.completion or "1")


def test_router_sentinel_prices_are_in_neither_list(server: RankingsServer) -> None:
    server.set_rows([ranking_row("2026-11-26", "openrouter/auto", 10**9)])
    catalog = fetch_catalog(server.base_url)
    window = fetch_rankings(server.base_url, api_key=Secret(API_KEY), policy=FAST)
    assert select_top(window, catalog, "paid", 5).picks == []
    assert select_top(window, catalog, "free", 5).picks == []


def test_the_date_window_is_sent_and_respected(server: RankingsServer, catalog: Catalog) -> None:
    server.set_rows(three_days())
    window = fetch_rankings(
        server.base_url,
        api_key=Secret(API_KEY),
        start_date="2026-11-26",
        end_date="2026-11-26",
        policy=FAST,
    )
    assert "start_date=2026-11-26" in server.rankings_requests()[0].path
    assert window.start_date == window.end_date == "2026-11-26"
    assert select_top(window, catalog, "paid", 1).picks[0].total_tokens == 5000


def test_rate_limits_are_retried(server: RankingsServer) -> None:
    server.set_rows(three_days())
    server.enqueue(Respond.error(429, "Rate limit exceeded", retry_after="0"), Respond.error(503))
    logged: list[str] = []
    window = fetch_rankings(
        server.base_url, api_key=Secret(API_KEY), policy=FAST, log=logged.append
    )
    assert window.tokens_by_permaslug[SONNET] == 5400
    assert len(server.rankings_requests()) == 3
    assert "429" in logged[0] and API_KEY not in "".join(logged)


def test_a_wrong_key_fails_at_once_without_showing_it(server: RankingsServer) -> None:
    wrong = "sk-or-v1-wrong-key-0123456789"
    with pytest.raises(OpenRouterError) as caught:
        fetch_rankings(server.base_url, api_key=Secret(wrong), policy=FAST)
    assert caught.value.status_code == 401
    assert "OPENROUTER_API_KEY" in (caught.value.hint or "")
    assert wrong not in str(caught.value)
    assert len(server.rankings_requests()) == 1


def test_no_key_is_a_config_error_before_any_request(server: RankingsServer) -> None:
    with pytest.raises(ConfigError, match="OPENROUTER_API_KEY"):
        fetch_rankings(server.base_url, api_key=None)
    assert server.requests == []


def test_top_must_be_positive(catalog: Catalog) -> None:
    with pytest.raises(ConfigError, match="--top"):
        select_top(parse_rankings(b'{"data": []}'), catalog, "paid", 0)
