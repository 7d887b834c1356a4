"""The OpenRouter client against a real loopback server: retries, deadlines, bodies, secrets."""

from __future__ import annotations

import email.utils
import gzip
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.openrouter_fixtures import every_snapshot
from support.openrouter_server import (
    SNAPSHOTS,
    BadGzip,
    CutBody,
    Delay,
    OpenRouterServer,
    ResetMidBody,
    Respond,
    Trickle,
    load_snapshot,
    snapshot_path,
    unused_loopback_url,
)

from sync_client import __version__
from sync_client.errors import ExitCode, MalformedModelError, OpenRouterError
from sync_client.openrouter import Catalog, RetryPolicy, fetch_catalog, parse_catalog
from sync_client.settings import Secret

FAST = RetryPolicy(max_attempts=5, deadline_s=10.0, initial_backoff_s=0.01, max_backoff_s=0.05)
SHORT_TIMEOUT = httpx.Timeout(2.0, connect=2.0)
API_KEY = "sk-or-v1-test-secret-0123456789abcdef"
REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL_SHAPE = "OpenRouter's data for this model has an unexpected shape"


def tiny_catalog(*ids: str) -> dict[str, Any]:
    return {
        "data": [
            {"id": api_id, "name": api_id, "pricing": {"prompt": "0", "completion": "0"}}
            for api_id in ids
        ]
    }


class Logged(list[str]):
    def __call__(self, line: str) -> None:
        self.append(line)


def fetch(server: OpenRouterServer, **kwargs: Any) -> Catalog:
    kwargs.setdefault("policy", FAST)
    kwargs.setdefault("timeout", SHORT_TIMEOUT)
    return fetch_catalog(server.base_url, **kwargs)


def fetch_error(server: OpenRouterServer | str, **kwargs: Any) -> OpenRouterError:
    kwargs.setdefault("policy", FAST)
    kwargs.setdefault("timeout", SHORT_TIMEOUT)
    base_url = server if isinstance(server, str) else server.base_url
    with pytest.raises(OpenRouterError) as info:
        fetch_catalog(base_url, **kwargs)
    assert info.value.exit_code == ExitCode.UNAVAILABLE
    return info.value


# --- the happy path --------------------------------------------------------------------------


@pytest.mark.parametrize("snapshot", every_snapshot())
def test_fetches_a_real_snapshot_with_exactly_one_get(
    openrouter_server: OpenRouterServer, snapshot: str | Path
) -> None:
    openrouter_server.serve_snapshot(snapshot)
    catalog = fetch(openrouter_server)
    expected = load_snapshot(snapshot)["data"]
    assert [model.id for model in catalog] == [model["id"] for model in expected]
    for raw in expected[:50]:
        model = catalog.get(raw["id"])
        assert model is not None
        assert model.name == raw["name"]
        assert model.context_length == raw["context_length"]
        assert model.pricing is not None
        assert model.pricing.prompt == raw["pricing"]["prompt"]
    [request] = openrouter_server.requests
    assert (request.method, request.path) == ("GET", "/api/v1/models")
    assert request.header("user-agent") == f"sync-models/{__version__}"
    assert request.header("authorization") is None


def test_sends_the_api_key_as_bearer(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.serve_json(tiny_catalog("a/b"))
    fetch(openrouter_server, api_key=Secret(API_KEY))
    assert openrouter_server.requests[0].header("authorization") == f"Bearer {API_KEY}"


def test_catalog_lookup_and_lenient_fields(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.serve_json(
        {
            "data": [
                {"id": "a/min", "name": "Minimal"},
                {
                    "id": "a/full",
                    "name": "Full",
                    "context_length": None,
                    "pricing": {"prompt": "0.000001", "discount": 0.5, "new_price": "1"},
                    "top_provider": {"max_completion_tokens": None, "brand_new": True},
                    "something_new": {"nested": [1, 2]},
                },
                {"id": "a/min", "name": "Duplicate"},
            ],
            "total_count": 3,
        }
    )
    catalog = fetch(openrouter_server)
    assert len(catalog) == 3
    assert "a/full" in catalog
    assert catalog.get("missing/model") is None
    duplicate = catalog.get("a/min")
    assert duplicate is not None
    assert duplicate.name == "Minimal"
    full = catalog.get("a/full")
    assert full is not None
    assert full.pricing is not None
    assert full.pricing.completion is None
    assert full.top_provider is not None
    assert full.top_provider.max_completion_tokens is None


# --- retries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_then_succeed(
    openrouter_server: OpenRouterServer, status: int
) -> None:
    openrouter_server.serve_json(tiny_catalog("a/b")).enqueue(
        Respond.error(status), Respond.error(status)
    )
    log = Logged()
    catalog = fetch(openrouter_server, log=log)
    assert catalog.get("a/b") is not None
    assert openrouter_server.request_count == 3
    assert len(log) == 2
    assert log[0].startswith(f"OpenRouter returned {status} (error {status}); retrying in ")
    assert log[0].endswith("(attempt 2/5)")
    assert log[1].endswith("(attempt 3/5)")


def test_retry_after_seconds_is_honoured(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.serve_json(tiny_catalog("a/b")).enqueue(
        Respond.error(429, "Rate limit exceeded", retry_after="1")
    )
    log = Logged()
    started = time.monotonic()
    fetch(openrouter_server, log=log)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 2.5
    assert log == ["OpenRouter returned 429 (Rate limit exceeded); retrying in 1.0 s (attempt 2/5)"]


def test_retry_after_http_date_is_honoured(openrouter_server: OpenRouterServer) -> None:
    # An HTTP date has one-second resolution: 2 s ahead means a wait between 1 and 2 s.
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    openrouter_server.serve_json(tiny_catalog("a/b")).enqueue(Respond.error(503, retry_after=when))
    started = time.monotonic()
    fetch(openrouter_server)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3.0
    assert openrouter_server.request_count == 2


def test_retry_after_is_capped(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.serve_json(tiny_catalog("a/b")).enqueue(
        Respond.error(429, retry_after="3600")
    )
    policy = RetryPolicy(max_attempts=3, deadline_s=10, max_retry_after_s=0.3)
    log = Logged()
    started = time.monotonic()
    fetch(openrouter_server, policy=policy, log=log)
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5
    assert "retrying in 0.3 s" in log[0]


@pytest.mark.parametrize("header", ["soon", "nan", "", "Wed, 99 Foo 2026"])
def test_unusable_retry_after_falls_back_to_backoff(
    openrouter_server: OpenRouterServer, header: str
) -> None:
    openrouter_server.serve_json(tiny_catalog("a/b")).enqueue(
        Respond.error(503, retry_after=header)
    )
    log = Logged()
    started = time.monotonic()
    fetch(openrouter_server, log=log)
    assert time.monotonic() - started < 1.0
    assert "retrying in 0.0 s" in log[0] or "retrying in 0.1 s" in log[0]


def test_retry_after_beyond_the_deadline_fails_without_sleeping(
    openrouter_server: OpenRouterServer,
) -> None:
    openrouter_server.enqueue(Respond.error(429, "slow down", retry_after="30"))
    policy = RetryPolicy(max_attempts=5, deadline_s=2.0, max_retry_after_s=30.0)
    started = time.monotonic()
    error = fetch_error(openrouter_server, policy=policy)
    assert time.monotonic() - started < 1.0
    assert "1 attempt in" in str(error)
    assert "last: OpenRouter returned 429 (slow down)" in str(error)
    assert error.status_code == 429


def test_gives_up_after_max_attempts_saying_what_happened(
    openrouter_server: OpenRouterServer,
) -> None:
    openrouter_server.enqueue(*[Respond.error(502, "Bad gateway upstream")] * 10)
    log = Logged()
    error = fetch_error(openrouter_server, policy=FAST, log=log)
    assert openrouter_server.request_count == 5
    assert len(log) == 4
    assert "(5 attempts in " in str(error)
    assert "last: OpenRouter returned 502 (Bad gateway upstream)" in str(error)
    assert error.hint is not None


def test_deadline_bounds_the_whole_fetch(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.enqueue(*[Respond.error(503)] * 100)
    policy = RetryPolicy(max_attempts=100, deadline_s=1.0, initial_backoff_s=0.2, max_backoff_s=0.4)
    started = time.monotonic()
    fetch_error(openrouter_server, policy=policy)
    elapsed = time.monotonic() - started
    assert elapsed < 1.3
    assert 2 <= openrouter_server.request_count < 100


def test_backoff_is_exponential_with_jitter(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.enqueue(*[Respond.error(500)] * 3)
    policy = RetryPolicy(max_attempts=4, deadline_s=10, initial_backoff_s=0.1, max_backoff_s=0.3)
    log = Logged()
    fetch(openrouter_server, policy=policy, log=log)
    waits = [float(line.split("retrying in ")[1].split(" s")[0]) for line in log]
    # Each wait is half to all of min(0.1 * 2**n, 0.3), printed to one decimal.
    for wait, ceiling in zip(waits, [0.1, 0.2, 0.3], strict=True):
        assert ceiling / 2 - 0.05 <= wait <= ceiling + 0.05


def test_connection_refused_is_retried_then_reported() -> None:
    url = unused_loopback_url()
    log = Logged()
    error = fetch_error(url, policy=FAST, log=log)
    assert len(log) == 4
    assert "could not reach OpenRouter (ConnectError" in log[0]
    assert "last: could not reach OpenRouter (ConnectError" in str(error)


def test_a_host_that_does_not_resolve_gets_a_hint_naming_the_setting_and_offline_recipe() -> None:
    # `.invalid` never resolves (RFC 6761).
    error = fetch_error("https://openrouter.invalid/api/v1", policy=FAST)
    assert error.hint is not None
    assert error.hint.startswith("openrouter.invalid did not resolve")
    assert "OPENROUTER_BASE_URL" in error.hint
    assert "No OpenRouter at hand" in error.hint
    assert "No OpenRouter at hand" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def test_a_refused_connection_keeps_the_down_or_rate_limiting_hint() -> None:
    error = fetch_error(unused_loopback_url(), policy=FAST)
    assert error.hint is not None and "may be down" in error.hint


def test_connection_reset_mid_body_is_retried(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.serve_snapshot(SNAPSHOTS[1]).enqueue(ResetMidBody(after_bytes=5000))
    log = Logged()
    catalog = fetch(openrouter_server, log=log)
    assert len(catalog) == len(load_snapshot(SNAPSHOTS[1])["data"])
    assert openrouter_server.request_count == 2
    assert len(log) == 1


def test_cut_body_is_retried(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.serve_snapshot(SNAPSHOTS[0]).enqueue(CutBody(after_bytes=10_000))
    log = Logged()
    catalog = fetch(openrouter_server, log=log)
    assert len(catalog) == len(load_snapshot(SNAPSHOTS[0])["data"])
    assert "broke mid-response" in log[0]


def test_a_gzipped_body_is_decoded(openrouter_server: OpenRouterServer) -> None:
    body = snapshot_path(SNAPSHOTS[0]).read_bytes()
    openrouter_server.enqueue(Respond(200, gzip.compress(body), {"Content-Encoding": "gzip"}))
    catalog = fetch(openrouter_server)
    assert len(catalog) == len(load_snapshot(SNAPSHOTS[0])["data"])
    assert openrouter_server.requests[0].header("accept-encoding") == "gzip"


@pytest.mark.parametrize("truncated", [False, True], ids=["garbage", "truncated"])
def test_a_corrupt_gzip_body_is_retried_like_a_cut_off_one(
    openrouter_server: OpenRouterServer, truncated: bool
) -> None:
    openrouter_server.serve_snapshot(SNAPSHOTS[0]).enqueue(BadGzip(truncated=truncated))
    log = Logged()
    catalog = fetch(openrouter_server, log=log)
    assert len(catalog) == len(load_snapshot(SNAPSHOTS[0])["data"])
    assert openrouter_server.request_count == 2
    assert len(log) == 1 and "gzip body" in log[0]


def test_a_gzip_body_corrupt_on_every_attempt_is_an_openrouter_failure(
    openrouter_server: OpenRouterServer,
) -> None:
    openrouter_server.serve_snapshot(SNAPSHOTS[0]).enqueue(*[BadGzip()] * 5)
    error = fetch_error(openrouter_server)
    assert "5 attempts" in str(error)
    assert "gzip body is corrupt" in str(error)


def test_an_encoding_not_asked_for_is_refused_at_once(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.enqueue(Respond(200, b"xx", {"Content-Encoding": "br"}))
    error = fetch_error(openrouter_server)
    assert "Content-Encoding 'br'" in str(error)
    assert openrouter_server.request_count == 1


def test_read_timeout_is_retried(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.serve_json(tiny_catalog("a/b")).enqueue(Delay(2.0))
    log = Logged()
    started = time.monotonic()
    fetch(openrouter_server, timeout=httpx.Timeout(0.3, connect=1.0), log=log)
    assert time.monotonic() - started < 1.5
    assert "OpenRouter timed out (ReadTimeout)" in log[0]


def test_body_trickling_past_the_deadline_is_cut_off(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.serve_snapshot(SNAPSHOTS[1]).enqueue(
        *[Trickle(chunk_bytes=1000, interval_s=0.05)] * 5
    )
    policy = RetryPolicy(max_attempts=5, deadline_s=1.0, initial_backoff_s=0.01)
    started = time.monotonic()
    error = fetch_error(openrouter_server, policy=policy)
    assert time.monotonic() - started < 1.6
    assert "still arriving at the deadline" in str(error)


# --- failures that are not retried -----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "hint"),
    [
        (401, "No auth credentials found", "OPENROUTER_API_KEY"),
        (403, "Key is disabled", "OPENROUTER_API_KEY"),
        (400, "Invalid request", None),
        (402, "Insufficient credits", None),
        (404, "Not Found", "OPENROUTER_BASE_URL"),
    ],
)
def test_other_4xx_fail_at_once_with_openrouters_message(
    openrouter_server: OpenRouterServer, status: int, message: str, hint: str | None
) -> None:
    openrouter_server.enqueue(Respond.error(status, message))
    error = fetch_error(openrouter_server, api_key=Secret(API_KEY))
    assert str(error) == f"OpenRouter refused the request: HTTP {status}: {message}"
    assert error.status_code == status
    assert openrouter_server.request_count == 1
    assert (hint is None and error.hint is None) or (hint is not None and hint in str(error.hint))


def test_error_without_json_body_uses_the_reason_phrase(
    openrouter_server: OpenRouterServer,
) -> None:
    openrouter_server.enqueue(Respond(403, b"nope", {"Content-Type": "text/plain"}))
    assert str(fetch_error(openrouter_server)).endswith("HTTP 403: Forbidden")


def test_redirect_is_not_followed(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.enqueue(Respond(302, b"", {"Location": "https://elsewhere.example/models"}))
    error = fetch_error(openrouter_server, api_key=Secret(API_KEY))
    assert "a redirect to https://elsewhere.example/models" in str(error)
    assert openrouter_server.request_count == 1


def test_html_page_with_200_is_one_clear_error(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.enqueue(Respond.html(200))
    error = fetch_error(openrouter_server)
    assert str(error).startswith("OpenRouter's response is not JSON: starts with '<!DOCTYPE html>")
    assert openrouter_server.request_count == 1
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_body_over_the_limit_is_refused(openrouter_server: OpenRouterServer) -> None:
    openrouter_server.serve_json(tiny_catalog(*[f"a/m{i}" for i in range(200)]))
    error = fetch_error(openrouter_server, max_body_bytes=5000)
    assert "too large" in str(error)
    assert openrouter_server.request_count == 1


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"models": []}, "unexpected shape: data: missing"),
        ({"data": {"a": 1}}, 'data: expected a list, got {"a": 1}'),
        ([], "not an object with a 'data' list"),
        ({"data": [{"name": "no id"}]}, "data[0].id: missing"),
        ({"data": [{"id": "a/b", "name": "B"}, {"id": 5}]}, "data[1].id: expected a string, got 5"),
        ({"data": ["a/b"]}, 'data[0]: expected an object, got "a/b"'),
    ],
)
def test_a_changed_envelope_is_one_error_naming_the_field(
    openrouter_server: OpenRouterServer, payload: Any, expected: str
) -> None:
    openrouter_server.enqueue(Respond.json(payload))
    error = fetch_error(openrouter_server)
    assert expected in str(error)
    assert "\n" not in str(error)
    assert openrouter_server.request_count == 1


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ({"pricing": {"prompt": 3e-06}}, "pricing.prompt: expected a string, got 3e-06"),
        ({"pricing": {"completion": 0}}, "pricing.completion: expected a string, got 0"),
        ({"context_length": "128000"}, 'context_length: expected an integer, got "128000"'),
        ({"context_length": True}, "context_length: expected an integer, got true"),
        (
            {"top_provider": {"max_completion_tokens": 1.5}},
            "top_provider.max_completion_tokens: expected an integer, got 1.5",
        ),
        ({"created": "2025"}, 'created: expected an integer, got "2025"'),
        ({"name": None}, "name: expected a string, got null"),
        ({"name": ["x"]}, 'name: expected a string, got ["x"]'),
        ({"pricing": "free"}, 'pricing: expected an object, got "free"'),
        ({"top_provider": []}, "top_provider: expected an object, got []"),
        (
            {"description": 7, "created": "x"},
            'created: expected an integer, got "x" (and 1 more problems)',
        ),
    ],
)
def test_a_malformed_model_is_its_own_error_and_the_others_still_load(
    openrouter_server: OpenRouterServer, model: dict[str, Any], expected: str
) -> None:
    broken = {"id": "c/d", "name": "D", **model}
    openrouter_server.serve_json({"data": [*tiny_catalog("a/b")["data"], broken]})
    catalog = fetch(openrouter_server)
    with pytest.raises(MalformedModelError) as info:
        catalog.get("c/d")
    assert str(info.value) == f"{MODEL_SHAPE}: {expected}"
    assert info.value.api_id == "c/d"
    assert info.value.exit_code == ExitCode.PARTIAL
    ok = catalog.get("a/b")
    assert ok is not None and ok.pricing is not None and ok.pricing.prompt == "0"
    # Still listed (so never "gone from OpenRouter"), but skipped where models are iterated.
    assert "c/d" in catalog
    assert list(catalog.ids()) == ["a/b", "c/d"]
    assert [m.id for m in catalog] == ["a/b"]


@pytest.mark.parametrize(
    ("field", "escaped"),
    [("name", "name"), ("description", "description"), ("pricing", "pricing.prompt")],
)
def test_a_lone_surrogate_is_its_models_own_error_not_the_documents(
    field: str, escaped: str
) -> None:
    broken: dict[str, Any] = {"id": "c/d", "name": "D"}
    if field == "pricing":
        broken["pricing"] = {"prompt": "0.1\udfff", "completion": "0"}
    else:
        broken[field] = "x\udfff"
    # json.dumps writes the lone surrogate as the escape `\udfff`, as a broken upstream would.
    body = json.dumps({"data": [*tiny_catalog("a/b")["data"], broken]}).encode()
    assert b"\\udfff" in body
    catalog = parse_catalog(body)
    assert catalog.get("a/b") is not None
    with pytest.raises(MalformedModelError) as info:
        catalog.get("c/d")
    assert f"{escaped}: holds a lone surrogate" in str(info.value)
    assert "\\udfff" in str(info.value)  # shown as an escape, never raw
    str(info.value).encode("utf-8")  # printable: no lone surrogate left in the message
    assert [m.id for m in catalog] == ["a/b"]


@pytest.mark.parametrize(
    "body",
    [b'{"data": [', b'{"data": [{"id": "a/b", "name": "\xff"}]}', b"[" * 100_000],
    ids=["cut", "not-utf8", "deep"],
)
def test_a_document_that_cannot_be_decoded_is_still_not_json(body: bytes) -> None:
    with pytest.raises(OpenRouterError, match="not JSON"):
        parse_catalog(body)


@pytest.mark.parametrize(
    ("api_id", "problem"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("vendor/" + "m" * 300, "characters long"),
        ("vendor/model name", "holds whitespace"),
        (" vendor/model", "holds whitespace"),
        ("vendor/model\n", "holds whitespace"),
        ("evil/\x1b[2Jmodel\x07", "control characters"),
        ("evil/\u009bmodel", "control characters"),
        ("evil/model\udfff", "control characters"),
    ],
)
def test_a_malformed_id_is_its_models_own_error(api_id: str, problem: str) -> None:
    body = json.dumps({"data": [*tiny_catalog("a/b")["data"], {"id": api_id, "name": "X"}]})
    catalog = parse_catalog(body)
    with pytest.raises(MalformedModelError) as info:
        catalog.get(api_id)
    assert str(info.value).startswith("malformed id: ")
    assert problem in str(info.value)
    assert str(info.value).isprintable()
    assert info.value.api_id == api_id
    assert [m.id for m in catalog] == ["a/b"]
    assert list(catalog.ids()) == ["a/b", api_id]


def test_a_missing_name_reads_differently_from_a_null_one() -> None:
    catalog = parse_catalog(json.dumps({"data": [{"id": "a/b"}]}))
    with pytest.raises(MalformedModelError, match=r"shape: name: missing$"):
        catalog.get("a/b")


def test_the_first_listing_of_a_repeated_id_decides() -> None:
    catalog = parse_catalog(
        json.dumps({"data": [{"id": "a/b", "name": 1}, {"id": "a/b", "name": "Fine"}]})
    )
    assert list(catalog.ids()) == ["a/b"]
    assert len(catalog) == 2
    with pytest.raises(MalformedModelError):
        catalog.get("a/b")
    assert [m.name for m in catalog] == ["Fine"]


def test_many_bad_ids_are_summarised_in_one_line() -> None:
    payload = {"data": [{"id": i, "name": "x"} for i in range(1000)]}
    with pytest.raises(OpenRouterError) as info:
        parse_catalog(json.dumps(payload))
    assert str(info.value).endswith("(and 999 more problems)")
    assert len(str(info.value)) < 300


def test_only_the_known_fields_are_kept() -> None:
    raw = {
        "id": "a/b",
        "name": "B",
        "architecture": {"modality": "text->text", "huge": ["x"] * 100},
        "pricing": {"prompt": "0.000001", "completion": "0.000002", "image": "0.1"},
    }
    assert parse_catalog(json.dumps({"data": [raw]})).listed == [
        {
            "id": "a/b",
            "name": "B",
            "pricing": {"prompt": "0.000001", "completion": "0.000002"},
        }
    ]


# --- secrets ---------------------------------------------------------------------------------


def test_api_key_never_appears_in_errors_or_logs(openrouter_server: OpenRouterServer) -> None:
    # A server that echoes the key in its error message must not get it printed.
    openrouter_server.enqueue(
        Respond.error(503, f"bad key {API_KEY}"), Respond.error(401, f"bad key {API_KEY}")
    )
    log = Logged()
    error = fetch_error(openrouter_server, api_key=Secret(API_KEY), log=log)
    texts = [*log, str(error), repr(error), str(error.hint)]
    assert all(API_KEY not in text for text in texts)
    assert "bad key ***" in str(error)


def test_fifty_thousand_models_parse_within_bounds(openrouter_server: OpenRouterServer) -> None:
    template = load_snapshot(SNAPSHOTS[1])["data"][0]
    models = [{**template, "id": f"vendor/model-{i}"} for i in range(50_000)]
    openrouter_server.serve_json({"data": models})
    started = time.monotonic()
    catalog = fetch(openrouter_server)
    elapsed = time.monotonic() - started
    assert len(catalog) == 50_000
    assert catalog.get("vendor/model-49999") is not None
    assert elapsed < 15


def test_wrong_base_path_is_a_404_pointing_at_the_setting(
    openrouter_server: OpenRouterServer,
) -> None:
    error = fetch_error(openrouter_server.origin + "/v1")
    assert error.status_code == 404
    assert error.hint is not None
    assert "OPENROUTER_BASE_URL" in error.hint
    assert [request.path for request in openrouter_server.requests] == ["/v1/models"]
