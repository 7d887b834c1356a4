"""Output is UTF-8 on every OS. On Windows, Python encodes a pipe or a file with the ANSI code
page (cp1252); here PYTHONIOENCODING=cp1252 gives the real CLI the same streams, and a sync
whose report holds ✅ and a model name cp1252 cannot encode must still print all of it."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.env_fixtures import clean_environment
from support.local_backend import LocalBackend
from support.openrouter_server import OpenRouterServer, load_snapshot

SNAPSHOT = "models-2025-12-02.json"
MODEL = "qwen/qwen3-coder:free"
NAME = "Qwen3 Coder ✨ 千问 (free)"


@pytest.mark.parametrize("flags", [[], ["--json"]], ids=["text", "json"])
def test_a_sync_prints_utf8_where_the_platform_would_pick_cp1252(
    backend: LocalBackend,
    openrouter_server: OpenRouterServer,
    tmp_path: Path,
    flags: list[str],
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "topFreeModels.ts").write_text(
        f'export const TOP_FREE_MODELS = [{{ apiId: "{MODEL}", rank: 1 }}];\n', encoding="utf-8"
    )
    (config / "topPaidModels.ts").write_text(
        'export const TOP_PAID_MODELS = [{ apiId: "openai/gpt-4o", rank: 1 }];\n',
        encoding="utf-8",
    )
    env = clean_environment(
        tmp_path,
        CONVEX_URL=backend.url,
        CONVEX_DEPLOY_KEY=backend.admin_key,
        OPENROUTER_BASE_URL=openrouter_server.base_url,
        PYTHONIOENCODING="cp1252",
    )

    def sync(*args: str) -> str:
        command = [sys.executable, "-m", "sync_client", "--free", "--config-dir", str(config)]
        done = subprocess.run(
            [*command, *args], cwd=tmp_path, env=env, capture_output=True, timeout=120
        )
        assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
        return done.stdout.decode("utf-8")  # strict: anything else is not UTF-8

    openrouter_server.serve_snapshot(SNAPSHOT)
    assert sync().startswith("✅ Sync complete!")
    renamed = copy.deepcopy(load_snapshot(SNAPSHOT))
    model = next(model for model in renamed["data"] if model["id"] == MODEL)
    old_name, model["name"] = model["name"], NAME
    openrouter_server.serve_json(renamed)
    stdout = sync("--dry-run", *flags)
    if flags:
        (result,) = json.loads(stdout)["results"]
        assert {"field": "modelName", "before": old_name, "after": NAME} in result["changes"]
    else:
        assert stdout.startswith("🔎 Dry run") and f'"{NAME}"' in stdout
