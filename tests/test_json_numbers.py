"""Whole numbers print as integers in every `--json` document; prices as stored.

The end-to-end test runs each command with `--json` against the local backend and a
loopback OpenRouter and walks every document it prints.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.local_backend import LocalBackend
from support.openrouter_server import load_snapshot
from support.rankings_server import RankingsServer, ranking_row
from typer.testing import CliRunner

from sync_client.cli import app
from sync_client.json_numbers import with_whole_numbers

REPO_CONFIG = Path(__file__).resolve().parents[1] / "convex" / "config"
API_KEY = "sk-or-v1-json-numbers-0123456789abcdef"
SONNET = "anthropic/claude-sonnet-4.5"  # $3 / $15 per 1M: whole prices
CODER_FREE = "qwen/qwen3-coder:free"
# Decided here, independently of sync_client.json_numbers: the only fields a whole float
# may stay a float in.
MONEY = {"inputCostPer1MTokens", "outputCostPer1MTokens"}

runner = CliRunner()


def integral_floats(value: object, path: str = "$", money: bool = False) -> Iterator[str]:
    """Paths of floats with a whole value that are not money."""
    if isinstance(value, float):
        if value.is_integer() and not money:
            yield f"{path} = {value!r}"
    elif isinstance(value, dict):
        price_change = value.get("field") in MONEY
        for key, item in value.items():
            side = price_change and key in ("before", "after", "from", "to")
            yield from integral_floats(item, f"{path}.{key}", key in MONEY or side)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from integral_floats(item, f"{path}[{index}]")


def test_whole_floats_become_ints_and_prices_and_fractions_stay() -> None:
    document = {
        "contextWindow": 131072.0,
        "ageSeconds": 0.25,
        "inputCostPer1MTokens": 3.0,
        "ok": True,
        "huge": 1e300,
        "nan": math.nan,
        "rows": [{"rank": 2.0, "outputCostPer1MTokens": 15.0, "recordedAt": 1796184117078.0}],
        "changes": [
            {"field": "contextWindow", "before": 8192.0, "after": 16384.0},
            {"field": "inputCostPer1MTokens", "from": 1.0, "to": 0.5},
        ],
    }
    converted = with_whole_numbers(document)
    assert isinstance(converted, dict)
    text = json.dumps(converted)
    assert '"contextWindow": 131072,' in text and '"recordedAt": 1796184117078}' in text
    assert '"rank": 2,' in text and '"before": 8192, "after": 16384' in text
    assert '"inputCostPer1MTokens": 3.0' in text and '"outputCostPer1MTokens": 15.0' in text
    assert '"from": 1.0, "to": 0.5' in text and '"ageSeconds": 0.25' in text
    assert converted["ok"] is True and converted["huge"] == 1e300
    assert list(integral_floats(converted)) == ["$.huge = 1e+300"]  # too big to be exact
    assert document["contextWindow"] == 131072.0  # the input is left alone


@pytest.fixture
def env(backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config"
    config.mkdir()
    for name in ("topPaidModels.ts", "topFreeModels.ts"):
        shutil.copy(REPO_CONFIG / name, config / name)
    models: list[dict[str, Any]] = load_snapshot("models-2025-12-02")["data"]
    rows = [ranking_row("2026-11-26", "anthropic/claude-4.5-sonnet-20250929", 9000)]
    with RankingsServer(api_key=API_KEY) as server:
        server.set_models(models).set_rows(rows)
        yield (
            server,
            models,
            config,
            {
                "CONVEX_URL": backend.url,
                "CONVEX_DEPLOY_KEY": backend.admin_key,
                "OPENROUTER_BASE_URL": server.base_url,
                "OPENROUTER_API_KEY": API_KEY,
            },
        )


def test_no_json_document_holds_a_whole_float_outside_a_price(env: Any) -> None:
    server, models, config, variables = env
    config_flag = ("--config-dir", str(config))
    (config / "topPaidModels.ts").write_text(
        f'export const TOP_PAID_MODELS = [{{ apiId: "{SONNET}", rank: 1 }}] as const;\n'
    )
    documents: dict[str, Any] = {}

    def run(name: str, *args: str, codes: tuple[int, ...] = (0, 1)) -> None:
        result = runner.invoke(app, [*args, "--json"], env=variables)
        assert result.exit_code in codes, (name, result.output)
        documents[name] = json.loads(result.stdout)

    run("sync", "--all", "--model", CODER_FREE, *config_flag)
    # OpenRouter changes two whole-number fields: the dry run and history show before/after.
    changed = copy.deepcopy(models)
    for model in changed:
        if model["id"] == SONNET:
            model["context_length"] = 2 * int(model["context_length"])
            model["top_provider"]["max_completion_tokens"] = 12345
    server.set_models(changed)
    run("dry-run", "--paid", "--dry-run", *config_flag)
    run("catalog dry-run", "--catalog", "--dry-run")
    run("resync", "--paid", *config_flag)
    run("history", "history")
    run("status", "status")
    run("activate", "activate", SONNET)
    run("deactivate", "deactivate", SONNET)
    run("rankings", "rankings", "--paid", "--top", "1", "--dry-run", *config_flag)
    run("doctor", "doctor", *config_flag)
    run("local", "--local", "--free", *config_flag)

    sonnet_update = next(
        r for r in documents["dry-run"]["results"] if r["apiId"] == SONNET and r["changes"]
    )
    before = {c["field"]: c["before"] for c in sonnet_update["changes"]}
    assert isinstance(before["contextWindow"], int)  # read back from Convex as a float
    assert isinstance(documents["status"]["models"][0]["lastSyncedAt"], int)
    history_fields = {
        change["field"] for row in documents["history"]["history"] for change in row["changes"]
    }
    assert {"contextWindow", "maxCompletionTokens"} <= history_fields
    prices = [m["inputCostPer1MTokens"] for m in documents["status"]["models"]]
    assert 3.0 in prices and all(isinstance(p, float) for p in prices)
    for name, document in documents.items():
        assert list(integral_floats(document)) == [], name
