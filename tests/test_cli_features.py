"""The issue-7 commands through the real CLI: a loopback OpenRouter (models list + rankings
dataset) and the local Convex backend; rankings → config file → sync → history, stale models,
budgeted activation and status."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.local_backend import LocalBackend
from support.openrouter_server import load_snapshot
from support.rankings_server import RankingsServer, ranking_row
from typer.testing import CliRunner, Result

from sync_client.cli import app
from sync_client.convex_store import ConvexStore
from sync_client.convex_types import ModelRow
from sync_client.rankings import read_ranked_list
from sync_client.settings import Secret

REPO_CONFIG = Path(__file__).resolve().parents[1] / "convex" / "config"
API_KEY = "sk-or-v1-feature-tests-0123456789abcdef"
SONNET = "anthropic/claude-sonnet-4.5"  # $3 / $15 per 1M in the 2025-12-02 snapshot
GPT4O = "openai/gpt-4o"  # $2.5 / $10
CODER = "qwen/qwen3-coder"  # $0.22 / $0.95
CODER_FREE = "qwen/qwen3-coder:free"
LLAMA_FREE = "meta-llama/llama-3.3-70b-instruct:free"

runner = CliRunner()


def rows_for_days() -> list[dict[str, Any]]:
    rows = []
    for day in ("2026-11-25", "2026-11-26"):
        rows += [
            ranking_row(day, "anthropic/claude-4.5-sonnet-20250929", 9000),
            ranking_row(day, "qwen/qwen3-coder-480b-a35b-07-25:free", 8000),
            ranking_row(day, "openai/gpt-4o", 7000),
            ranking_row(day, "qwen/qwen3-coder-480b-a35b-07-25", 6000),
            ranking_row(day, "meta-llama/llama-3.3-70b-instruct:free", 5000),
        ]
    return rows


class Cli:
    """Runs `sync-models` against the local backend and the loopback OpenRouter."""

    def __init__(self, backend: LocalBackend, openrouter: RankingsServer, workdir: Path) -> None:
        self.backend = backend
        self.openrouter = openrouter
        self.config_dir = workdir / "config"
        self.key = Secret(backend.admin_key)
        self.env = {
            "CONVEX_URL": backend.url,
            "CONVEX_DEPLOY_KEY": backend.admin_key,
            "OPENROUTER_BASE_URL": openrouter.base_url,
            "OPENROUTER_API_KEY": API_KEY,
        }

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        result = runner.invoke(app, list(args), env={**self.env, **(env or {})})
        for secret in (self.key.reveal(), self.key.reveal().rpartition("|")[2], API_KEY):
            assert secret not in result.output
        assert "Traceback" not in result.output
        return result

    def sync(self, *flags: str) -> Result:
        return self.run(*flags, "--config-dir", str(self.config_dir))

    def rows(self) -> dict[str, ModelRow]:
        with ConvexStore(self.backend.url, self.key, timeout_s=10) as store:
            return {row["apiIdentifier"]: row for row in store.list_models()}

    def write_paid(self, *ids: str) -> None:
        self.write_list("Paid", *ids)

    def write_free(self, *ids: str) -> None:
        self.write_list("Free", *ids)

    def write_list(self, which: str, *ids: str) -> None:
        entries = "".join(f'  {{ apiId: "{i}", rank: {n} }},\n' for n, i in enumerate(ids, 1))
        (self.config_dir / f"top{which}Models.ts").write_text(
            f"// {which} list for a test.\n"
            f"export const TOP_{which.upper()}_MODELS = [\n{entries}] as const;\n"
        )


@pytest.fixture
def snapshot_models() -> list[dict[str, Any]]:
    models: list[dict[str, Any]] = load_snapshot("models-2025-12-02")["data"]
    return models


@pytest.fixture
def cli(
    backend: LocalBackend,
    snapshot_models: list[dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Cli]:
    monkeypatch.chdir(tmp_path)  # no developer .env.local
    (tmp_path / "config").mkdir()
    for name in ("topPaidModels.ts", "topFreeModels.ts"):
        shutil.copy(REPO_CONFIG / name, tmp_path / "config" / name)
    with RankingsServer(api_key=API_KEY) as server:
        server.set_models(snapshot_models).set_rows(rows_for_days())
        yield Cli(backend, server, tmp_path)


# --- rankings ---------------------------------------------------------------------------------


def test_rankings_dry_run_shows_the_diff_and_writes_nothing(cli: Cli) -> None:
    path = cli.config_dir / "topPaidModels.ts"
    before = path.read_text()
    result = cli.run(
        "rankings", "--paid", "--top", "3", "--dry-run", "--config-dir", str(cli.config_dir)
    )
    assert result.exit_code == 0, result.output
    assert path.read_text() == before
    assert f"   1. {SONNET}  (18,000 tokens)" in result.stdout
    assert f'+  {{ apiId: "{GPT4O}", rank: 2 }},' in result.stdout
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert f"// Last updated: {today}\n" in result.stdout  # kept or changed, it is today
    assert "Dry run: " in result.stdout
    assert "\nRanking data: OpenRouter (openrouter.ai/rankings), CC BY 4.0\n" in result.stdout
    assert len(cli.openrouter.rankings_requests()) == 1


def test_rankings_then_sync_uses_the_new_list(cli: Cli) -> None:
    result = cli.run("rankings", "--paid", "--top", "3", "--config-dir", str(cli.config_dir))
    assert result.exit_code == 0, result.output
    ranked = read_ranked_list(cli.config_dir / "topPaidModels.ts")
    assert [(m.api_id, m.rank) for m in ranked] == [(SONNET, 1), (GPT4O, 2), (CODER, 3)]
    text = (cli.config_dir / "topPaidModels.ts").read_text()
    assert text.startswith("// Top paid models on OpenRouter, by rank")
    assert "\n// Ranking data: OpenRouter (openrouter.ai/rankings), CC BY 4.0\n" in text

    again = cli.run("rankings", "--paid", "--top", "3", "--config-dir", str(cli.config_dir))
    assert "is already up to date" in again.stdout

    synced = cli.sync("--paid")
    assert synced.exit_code == 0, synced.output
    assert set(cli.rows()) == {SONNET, GPT4O, CODER}


def test_rankings_free_picks_only_free_ids_as_json(cli: Cli) -> None:
    result = cli.run("rankings", "--free", "--json", "--config-dir", str(cli.config_dir))
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [p["apiId"] for p in document["picks"]] == [CODER_FREE, LLAMA_FREE]
    assert document["written"] is True and document["list"] == "free"
    assert document["attribution"] == {
        "source": "OpenRouter (openrouter.ai/rankings)",
        "license": "CC BY 4.0",
    }
    ranked = read_ranked_list(cli.config_dir / "topFreeModels.ts")
    assert [m.api_id for m in ranked] == [CODER_FREE, LLAMA_FREE]


def test_rankings_usage_and_key_errors(cli: Cli) -> None:
    both = cli.run("rankings", "--paid", "--free")
    assert both.exit_code == 2 and "exactly one of --paid and --free" in both.stderr
    no_key = cli.run("rankings", "--paid", env={"OPENROUTER_API_KEY": ""})
    assert no_key.exit_code == 2 and "OPENROUTER_API_KEY is not set" in no_key.stderr
    assert cli.openrouter.requests == [], "a missing key is found before any request"
    wrong = cli.run("rankings", "--paid", env={"OPENROUTER_API_KEY": "sk-or-v1-wrong-key-000000"})
    assert wrong.exit_code == 3 and "HTTP 401" in wrong.stderr
    assert "sk-or-v1-wrong-key-000000" not in wrong.stderr
    assert len(cli.openrouter.requests) == 1, "the models list is not fetched after a 401"


# --- history ----------------------------------------------------------------------------------


def test_each_sync_records_history_only_for_changes(
    cli: Cli, snapshot_models: list[dict[str, Any]]
) -> None:
    cli.write_paid(SONNET, GPT4O)
    first = cli.sync("--paid")
    assert first.exit_code == 0, first.output
    assert "history: 2 change(s) recorded" in first.stderr

    replay = cli.sync("--paid")
    assert "history: 0 change(s) recorded" in replay.stderr
    dry = cli.sync("--paid", "--dry-run")
    assert "history" not in dry.stderr

    repriced = copy.deepcopy(snapshot_models)
    for model in repriced:
        if model["id"] == SONNET:
            model["pricing"]["prompt"] = "0.0000025"
    cli.openrouter.set_models(repriced)
    cli.write_paid(GPT4O, SONNET)
    changed = cli.sync("--paid")
    assert "history: 2 change(s) recorded" in changed.stderr

    shown = cli.run("history", SONNET)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].endswith(f"{SONNET}  (changed)")
    assert "    inputCostPer1MTokens: 3 → 2.5" in lines
    assert "    rank: 1 → 2" in lines
    assert any(line.endswith(f"{SONNET}  (first seen)") for line in lines)

    document = json.loads(cli.run("history", "--limit", "2", "--json").stdout)
    assert len(document["history"]) == 2
    assert {row["apiIdentifier"] for row in document["history"]} == {SONNET, GPT4O}


# --- stale ------------------------------------------------------------------------------------


def test_stale_models_are_reported_and_deactivated_only_on_request(
    cli: Cli, snapshot_models: list[dict[str, Any]]
) -> None:
    cli.write_paid(SONNET, GPT4O, CODER)
    assert cli.sync("--paid").exit_code == 0
    assert cli.run("activate", SONNET, GPT4O, CODER).exit_code == 0

    cli.write_paid(SONNET)  # GPT-4o leaves the ranked list; OpenRouter still lists it
    cli.openrouter.set_models(m for m in snapshot_models if m["id"] != CODER)
    report = cli.sync("--paid")
    assert report.exit_code == 0, report.output
    assert f"[STALE] {CODER} — no longer listed by OpenRouter (active)" in report.stdout
    assert GPT4O not in report.stdout
    assert "--deactivate-stale" in report.stdout
    assert all(row["isActive"] for row in cli.rows().values())
    # status judges stale the same way, against OpenRouter's list, and says so
    status = json.loads(cli.run("status", "--json").stdout)
    assert [model["apiId"] for model in status["models"] if model["stale"]] == [CODER]
    assert status["staleCheckedAgainst"] == "OpenRouter's models list, fetched now"

    dry = cli.sync("--paid", "--deactivate-stale", "--dry-run")
    assert "dry run: --deactivate-stale changed nothing" in dry.stdout
    assert all(row["isActive"] for row in cli.rows().values())

    done = cli.sync("--paid", "--deactivate-stale", "--json")
    assert done.exit_code == 0, done.output
    stale = {item["apiId"]: item for item in json.loads(done.stdout)["stale"]}
    assert set(stale) == {CODER}
    assert stale[CODER]["deactivated"] is True
    active = {api_id: row["isActive"] for api_id, row in cli.rows().items()}
    assert active == {SONNET: True, GPT4O: True, CODER: False}


def test_a_model_another_list_or_mode_synced_is_not_stale(cli: Cli) -> None:
    cli.write_paid(SONNET, GPT4O)
    cli.write_free(CODER_FREE)
    assert cli.sync("--all").exit_code == 0
    assert cli.sync("--catalog").exit_code == 0
    assert cli.run("activate", SONNET, GPT4O, CODER_FREE, CODER).exit_code == 0

    cli.write_paid(SONNET)  # GPT-4o leaves the paid list; OpenRouter lists it still
    for mode in ("--free", "--paid"):
        result = cli.sync(mode, "--deactivate-stale", "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["stale"] == []
    rows = cli.rows()
    assert all(rows[api_id]["isActive"] for api_id in (SONNET, GPT4O, CODER_FREE, CODER))


# --- activation and status ----------------------------------------------------------------------


def test_activation_with_a_budget_and_status(cli: Cli) -> None:
    cli.write_paid(SONNET, GPT4O, CODER)
    assert cli.sync("--paid").exit_code == 0

    refused = cli.run("activate", CODER, SONNET, "--max-cost-per-1m", "5")
    assert refused.exit_code == 1
    assert f"[ON] {CODER} — input $0.22/1M, output $0.95/1M" in refused.stdout
    assert f"[REFUSED] {SONNET} — input $3/1M, output $15/1M" in refused.stdout
    assert not cli.rows()[SONNET]["isActive"]

    forced = cli.run("activate", SONNET, "--max-cost-per-1m", "5", "--force")
    assert forced.exit_code == 0 and "forced: output $15/1M exceeds" in forced.stdout
    assert cli.rows()[SONNET]["isActive"]

    unknown = cli.run("activate", GPT4O, "nobody/model")
    assert unknown.exit_code == 2
    assert "error: unknown model id: nobody/model; nothing changed" in unknown.stderr
    assert not cli.rows()[GPT4O]["isActive"]

    off = cli.run("deactivate", CODER, "--json")
    assert json.loads(off.stdout)["results"][0]["outcome"] == "deactivated"

    status = cli.run("status", "--max-cost-per-1m", "10")
    assert status.exit_code == 0, status.output
    table = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:4]}
    assert table[SONNET][1:5] == ["yes", "no", "$3", "$15"]
    assert table[SONNET][-2:] == ["no", "yes"]  # not stale; over the budget
    assert table[CODER][1] == "no" and table[CODER][-2:] == ["no", "-"]
    assert status.stdout.splitlines()[-2] == "3 synced, 1 active, 0 stale, 1 over budget"

    document = json.loads(cli.run("status", "--json").stdout)
    by_id = {model["apiId"]: model for model in document["models"]}
    assert by_id[GPT4O]["outputCostPer1MTokens"] == 10.0
    assert by_id[GPT4O]["ageSeconds"] < 60


def test_commands_need_a_deployment(cli: Cli) -> None:
    result = cli.run("status", env={"CONVEX_DEPLOY_KEY": ""})
    assert result.exit_code == 2 and "CONVEX_DEPLOY_KEY is not set" in result.stderr
    as_json = cli.run("history", "--json", env={"CONVEX_URL": ""})
    assert as_json.exit_code == 2
    assert json.loads(as_json.stdout)["error"]["code"] == "config"


def test_a_failed_history_write_keeps_the_sync_report_and_exits_1(cli: Cli) -> None:
    cli.write_paid(SONNET)
    cli.backend.set_faults(fail_functions={"mutations/history:recordSync": "history is down"})
    result = cli.sync("--paid")
    assert result.exit_code == 1
    assert f"[NEW] [PAID] {SONNET}" in result.stdout
    assert "warning: history was not recorded:" in result.stderr
    assert "history is down" in result.stderr
    assert SONNET in cli.rows()
