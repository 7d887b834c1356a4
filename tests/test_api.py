"""The library call `sync_client.api.sync`, used directly (no Typer): loopback OpenRouter →
the official SDK → the local backend."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support.local_backend import LocalBackend
from support.openrouter_server import OpenRouterServer, Respond, load_snapshot

from sync_client.api import SyncOptions, SyncResult, sync
from sync_client.convex_store import ConvexStore
from sync_client.convex_types import ModelRow
from sync_client.errors import ConfigError, OpenRouterError
from sync_client.settings import Secret, Settings
from sync_client.sync import Step

SNAPSHOT = "models-2025-12-02.json"
FREE = ["qwen/qwen3-coder:free", "deepseek/deepseek-r1-0528:free", "google/gemma-3-27b-it:free"]
PAID = ["anthropic/claude-sonnet-4.5"]


def write_list(path: Path, constant: str, ids: list[str]) -> None:
    entries = "\n".join(f'  {{ apiId: "{api_id}", rank: {n} }},' for n, api_id in enumerate(ids, 1))
    path.write_text(f"export const {constant} = [\n{entries}\n] as const;\n")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    write_list(tmp_path / "topFreeModels.ts", "TOP_FREE_MODELS", FREE)
    write_list(tmp_path / "topPaidModels.ts", "TOP_PAID_MODELS", PAID)
    return tmp_path


@pytest.fixture
def settings(backend: LocalBackend, openrouter_server: OpenRouterServer) -> Settings:
    openrouter_server.serve_snapshot(SNAPSHOT)
    return Settings(
        convex_url=backend.url,
        deploy_key=Secret(backend.admin_key),
        openrouter_base_url=openrouter_server.base_url,
        openrouter_api_key=None,
        default_list="free",
    )


def rows(settings: Settings) -> dict[str, ModelRow]:
    assert settings.convex_url is not None
    with ConvexStore(settings.convex_url, settings.deploy_key, timeout_s=10) as store:
        return {str(row["apiIdentifier"]): row for row in store.list_models()}


def test_a_library_sync_writes_reports_and_records_history(
    settings: Settings, config_dir: Path
) -> None:
    lines: list[str] = []
    steps: list[Step] = []
    result = sync(
        settings,
        SyncOptions(lists="free", config_dir=config_dir, timeout_s=10),
        progress=lines.append,
        on_step=steps.append,
    )
    assert isinstance(result, SyncResult)
    assert result.exit_code == 1  # the vanished id
    assert result.report.list_synced == "free"
    assert (result.report.inserted, result.report.errors) == (2, 1)
    # Each call is announced as it starts and as it finishes (they run at once, so in any
    # order); `done` counts what has finished, the vanished id included.
    synced = {"qwen/qwen3-coder:free", "google/gemma-3-27b-it:free"}
    starts = [s for s in steps if not s.finished]
    finishes = [s for s in steps if s.finished]
    assert {s.current for s in starts} == {s.current for s in finishes} == synced
    assert len(starts) == len(finishes) == 2 and all(s.total == 3 for s in steps)
    assert [s.done for s in steps] == sorted(s.done for s in steps)
    assert finishes[-1].done >= 2
    assert "fetching the OpenRouter catalog" in lines
    assert not any("upserting" in line for line in lines)  # steps went to on_step only
    stored = rows(settings)
    assert set(stored) == {"qwen/qwen3-coder:free", "google/gemma-3-27b-it:free"}
    assert all(row["isActive"] is False for row in stored.values())
    assert result.after is not None and result.after.history_recorded == 2
    again = sync(settings, SyncOptions(lists="free", config_dir=config_dir, timeout_s=10))
    assert (again.report.inserted, again.report.updated) == (0, 2)
    assert again.after is not None and again.after.history_recorded == 0


def test_only_models_a_dry_run_and_the_stale_report(
    settings: Settings, config_dir: Path, openrouter_server: OpenRouterServer
) -> None:
    first = sync(
        settings,
        SyncOptions(lists=None, models=("openai/gpt-4o",), config_dir=config_dir, timeout_s=10),
    )
    assert first.ok and first.report.list_synced == "--model"
    assert set(rows(settings)) == {"openai/gpt-4o"}
    # A free sync after it, when OpenRouter no longer lists gpt-4o: it is stale (and would be
    # deactivated, but a dry run changes nothing).
    snapshot = load_snapshot(SNAPSHOT)
    snapshot["data"] = [m for m in snapshot["data"] if m["id"] != "openai/gpt-4o"]
    openrouter_server.serve_json(snapshot)
    planned = sync(
        settings,
        SyncOptions(lists="free", dry_run=True, deactivate_stale=True, config_dir=config_dir),
    )
    assert planned.report.dry_run and planned.report.inserted == 2
    assert planned.after is not None
    assert [model.api_id for model in planned.after.stale] == ["openai/gpt-4o"]
    assert planned.after.deactivated == [] and planned.after.history_recorded is None
    assert set(rows(settings)) == {"openai/gpt-4o"}


def test_an_openrouter_failure_raises_and_writes_nothing(
    settings: Settings, config_dir: Path, openrouter_server: OpenRouterServer
) -> None:
    openrouter_server.enqueue(Respond.error(400, "bad request"))
    with pytest.raises(OpenRouterError):
        sync(settings, SyncOptions(lists="free", config_dir=config_dir, timeout_s=10))
    assert rows(settings) == {}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (lambda: SyncOptions(lists="catalog", models=("a/b",)), "takes no models"),
        (lambda: SyncOptions(lists=None), "nothing to sync"),
        (lambda: SyncOptions(timeout_s=0), "timeout"),
        (lambda: SyncOptions(lists="cheap"), "unknown list"),  # type: ignore[arg-type]
    ],
)
def test_options_are_checked_when_made(options: object, message: str) -> None:
    assert callable(options)
    with pytest.raises(ConfigError, match=message):
        options()


def test_a_deployment_is_required(config_dir: Path) -> None:
    bare = Settings(None, None, "https://openrouter.ai/api/v1", None, "free")
    with pytest.raises(ConfigError, match="CONVEX_URL and CONVEX_DEPLOY_KEY"):
        sync(bare, SyncOptions(config_dir=config_dir))


def test_the_library_loads_without_typer() -> None:
    probe = (
        "import sys\n"
        "import sync_client.api, sync_client.sync, sync_client.catalog_sync\n"
        "import sync_client.after_sync, sync_client.doctor\n"
        "print('typer' in sys.modules, 'click' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False False\n"


def test_a_catalog_sync_reports_its_chunks_as_steps(settings: Settings, config_dir: Path) -> None:
    steps: list[Step] = []
    result = sync(settings, SyncOptions(lists="catalog", timeout_s=30), on_step=steps.append)
    written = result.report.inserted
    assert written > 300 and result.report.list_synced == "catalog"
    assert [(s.done, s.current, s.line) for s in steps] == [
        (0, "chunk 1/1", f"[1/1] upserting {steps[0].total} models")
    ]
    assert steps[0].total == written + result.report.errors
    assert len(rows(settings)) == written


def test_from_another_thread_it_writes_the_rows(settings: Settings, config_dir: Path) -> None:
    """The per-call deadline needs no signal, so any thread may sync."""
    results: list[SyncResult] = []
    raised: list[BaseException] = []

    def run() -> None:
        try:
            results.append(
                sync(settings, SyncOptions(lists="free", config_dir=config_dir, timeout_s=10))
            )
        except BaseException as error:
            raised.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(60)
    assert raised == [] and len(results) == 1
    report = results[0].report
    assert (report.inserted, report.errors, report.aborted) == (2, 1, None)  # the vanished id
    assert set(rows(settings)) == {r.api_id for r in report.results if r.ok}
