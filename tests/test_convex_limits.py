"""Convex's limits from the client's side, over real sockets into the limits-enforcing local
backend: batches cut to fit, a model too large for a document is its own error, and a call
that outlives the deadline after the deployment answered says so."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from support.local_backend import LocalBackend, start_local_backend
from support.openrouter_server import OpenRouterServer
from typer.testing import CliRunner

from sync_client.cli import app
from sync_client.convex_store import (
    MAX_BATCH_BYTES,
    MAX_DOCUMENT_BYTES,
    ConvexStore,
    encoded_size,
    oversized_model,
)
from sync_client.errors import ConvexCallError, ConvexDeadlineError, ExitCode
from sync_client.report import error_code
from sync_client.settings import Secret

runner = CliRunner()

CATALOG_SIZE = 2500
LONG_DESCRIPTION = 200 * 1024  # several of these fill a batch by bytes long before by count
LONG_EVERY = 400  # models 0, 400, ..., 2400: seven of them
HUGE = 2 * 1024 * 1024  # no Convex document holds this


def generated_model(n: int) -> dict[str, Any]:
    description = f"Model {n}. " + (
        "long " * (LONG_DESCRIPTION // 5) if n % LONG_EVERY == 0 else ""
    )
    return {
        "id": f"vendor-{n % 37}/model-{n}",
        "canonical_slug": f"vendor-{n % 37}/model-{n}-20260101",
        "name": f"Vendor {n % 37}: Model {n}",
        "created": 1_750_000_000 + n,
        "description": description,
        "context_length": 1024 * (n % 200 + 1),
        "architecture": {"modality": "text->text", "input_modalities": ["text"]},
        "pricing": {
            "prompt": f"0.00000{n % 10}",
            "completion": f"0.0000{n % 10}",
            "request": "0",
        },
        "top_provider": {"context_length": 1024 * (n % 200 + 1), "max_completion_tokens": 4096},
        "supported_parameters": ["max_tokens", "temperature"],
    }


def expected_row(model: dict[str, Any]) -> dict[str, Any]:
    """What upsertModel should store for `model`, worked out here from the generator's numbers."""
    n = int(model["id"].rsplit("-", 1)[1])
    return {
        "apiIdentifier": model["id"],
        "modelName": model["name"],
        "provider": f"vendor-{n % 37}",
        "slug": f"vendor-{n % 37}-model-{n}",
        "description": model["description"],
        "contextWindow": 1024 * (n % 200 + 1),
        "maxCompletionTokens": 4096,
        "inputCostPer1MTokens": float(n % 10),
        "outputCostPer1MTokens": float(n % 10 * 10),
        "isFree": n % 10 == 0,
        "openRouterCreatedAt": (1_750_000_000 + n) * 1000,
        "isActive": False,
        "syncedFromOpenRouter": True,
    }


def test_a_large_catalog_with_long_descriptions_syncs_whole_except_the_one_too_large(
    backend: LocalBackend,
    openrouter_server: OpenRouterServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    models = [generated_model(n) for n in range(CATALOG_SIZE)]
    huge = {**generated_model(CATALOG_SIZE), "description": "x" * HUGE}
    models.insert(1234, huge)
    openrouter_server.serve_json({"data": models})
    monkeypatch.chdir(tmp_path)
    env = {
        "CONVEX_URL": backend.url,
        "CONVEX_DEPLOY_KEY": backend.admin_key,
        "OPENROUTER_BASE_URL": openrouter_server.base_url,
    }

    result = runner.invoke(app, ["--catalog", "--json", "--timeout", "60"], env=env)

    assert result.exit_code == ExitCode.PARTIAL, result.output
    document = json.loads(result.stdout)
    assert document["summary"]["inserted"] == CATALOG_SIZE
    (failed,) = [r for r in document["results"] if "error" in r]
    assert failed["apiId"] == huge["id"]
    assert "too large for Convex" in failed["error"] and "1 MiB per document" in failed["error"]
    with ConvexStore(backend.url, Secret(backend.admin_key), timeout_s=60) as store:
        rows = {row["apiIdentifier"]: row for row in store.list_models()}
    assert set(rows) == {model["id"] for model in models} - {huge["id"]}
    for model in models:
        if model is huge:
            continue
        row = rows[model["id"]]
        expected = expected_row(model)
        assert {field: row.get(field) for field in expected} == expected, model["id"]


def test_long_descriptions_split_a_batch_instead_of_breaking_it(backend: LocalBackend) -> None:
    """20 models of 200 KB fit Convex's 1,024 items, but not upsertModels' ~1.75 MiB per call
    (it refuses more, writing nothing): the client must cut them by bytes."""
    items = [
        {"apiIdentifier": f"acme/long-{n}", "modelName": "L", "provider": "acme", "slug": "l"}
        | {"isFree": True, "description": f"{n} " + "long " * (LONG_DESCRIPTION // 5)}
        for n in range(20)
    ]
    total = encoded_size(items)
    with ConvexStore(backend.url, Secret(backend.admin_key), timeout_s=30) as store:
        before = backend.stats()["mutations"]
        results = store.upsert_many(items)
        calls = backend.stats()["mutations"] - before
        rows = {row["apiIdentifier"]: row for row in store.list_models()}
    assert [r.action for r in results] == ["inserted"] * 20
    assert calls == -(-total // MAX_BATCH_BYTES)  # as few calls as the byte budget allows
    assert {api_id: row["description"] for api_id, row in rows.items()} == {
        item["apiIdentifier"]: item["description"] for item in items
    }


def test_a_model_too_large_for_a_document_is_its_own_error_and_never_sent(
    backend: LocalBackend,
) -> None:
    small: dict[str, Any] = {"apiIdentifier": "acme/small", "modelName": "S", "provider": "acme"}
    small |= {"slug": "s", "isFree": True}
    too_large = {**small, "apiIdentifier": "acme/huge", "description": "é" * (HUGE // 2)}
    assert encoded_size(too_large) > MAX_DOCUMENT_BYTES
    problem = oversized_model(too_large)
    assert problem is not None and "description: 2,097,154" in problem
    with ConvexStore(backend.url, Secret(backend.admin_key), timeout_s=10) as store:
        before = backend.stats()["mutations"]
        huge_result, small_result = store.upsert_many([too_large, small])
        assert backend.stats()["mutations"] - before == 1
        assert not huge_result.ok and huge_result.api_identifier == "acme/huge"
        assert huge_result.error == problem
        assert small_result.ok and small_result.action == "inserted"
        with pytest.raises(ConvexCallError, match="too large for Convex"):
            store.upsert(too_large)
        assert [row["apiIdentifier"] for row in store.list_models()] == ["acme/small"]


def test_history_is_recorded_in_batches_cut_by_bytes(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = [{"apiIdentifier": f"acme/{'m' * 200}-{n}", "rank": n + 1} for n in range(40)]
    monkeypatch.setattr("sync_client.convex_store.MAX_BATCH_BYTES", 10 * encoded_size(entries[0]))
    with ConvexStore(backend.url, Secret(backend.admin_key), timeout_s=10) as store:
        before = backend.stats()["mutations"]
        assert store.record_history(entries) == 40
        assert backend.stats()["mutations"] - before == 5
        assert len(store.history()) == 40
    assert 10 * encoded_size(entries[0]) < MAX_BATCH_BYTES  # the patch really lowered it


def test_a_call_outliving_the_deadline_after_an_answer_may_have_landed() -> None:
    """The deployment answered, then one call got no answer in time: not "cannot reach"."""
    # Its own backend: the late upsert still lands after the test has moved on.
    with start_local_backend() as backend:
        with ConvexStore(backend.url, Secret(backend.admin_key), timeout_s=1) as store:
            assert store.list_models() == []
            backend.set_faults(latency_ms=2500)
            started = time.monotonic()
            with pytest.raises(ConvexDeadlineError) as caught:
                store.upsert(
                    {"apiIdentifier": "acme/late", "modelName": "L", "provider": "acme"}
                    | {"slug": "late", "isFree": True}
                )
            assert time.monotonic() - started < 2.5
        message = str(caught.value)
        assert message.startswith(
            f"mutations/syncModels:upsertModel got no answer from {backend.url[7:]} within 1 s"
        )
        assert "may still have landed" in message and "rerunning is safe" in message
        assert "cannot reach" not in message
        assert caught.value.hint is not None and "--timeout" in caught.value.hint
        assert caught.value.exit_code == ExitCode.UNAVAILABLE
        assert error_code(caught.value) == "convex_deadline"  # --json's error code
        backend.set_faults(latency_ms=0)
        # It did land: the message's "may" is real.
        deadline = time.monotonic() + 10
        with ConvexStore(backend.url, Secret(backend.admin_key), timeout_s=10) as store:
            while not store.list_models() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert [row["apiIdentifier"] for row in store.list_models()] == ["acme/late"]
