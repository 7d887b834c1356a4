"""The guard on active models, end to end: the real CLI, the loopback OpenRouter serving an
edited snapshot, the local backend over a socket (issue 19)."""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from support.convex_cli import convex_project, deploy
from support.local_backend import REPO_ROOT, LocalBackend, start_local_backend
from support.openrouter_server import OpenRouterServer, Respond, load_snapshot
from test_e2e import FREE, NEW_SNAPSHOT, PAID, Harness, runner, write_list

from sync_client.cli import app

DEARER = "anthropic/claude-sonnet-4.5"  # $3 / $15 per 1M: OpenRouter raises it
PROMOTION = "qwen/qwen3-coder:free"  # free: the promotion ends
RETIRING = "x-ai/grok-code-fast-1"  # $0.2 / $1.5 per 1M: OpenRouter announces a retirement
INACTIVE = "google/gemma-3-27b-it:free"  # never activated: gets dearer, never alerts
ACTIVE = (DEARER, PROMOTION, RETIRING)
IN_TEN_DAYS = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=10)).isoformat()


def make_harness(
    backend: LocalBackend,
    openrouter: OpenRouterServer,
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Harness:
    """test_e2e's harness: its ranked lists, in a directory without any .env.local."""
    workdir.mkdir(exist_ok=True)
    monkeypatch.chdir(workdir)
    write_list(workdir / "topPaidModels.ts", "TOP_PAID_MODELS", PAID)
    write_list(workdir / "topFreeModels.ts", "TOP_FREE_MODELS", FREE)
    openrouter.serve_snapshot(NEW_SNAPSHOT)
    return Harness(backend, openrouter, workdir)


@pytest.fixture
def harness(
    backend: LocalBackend,
    openrouter_server: OpenRouterServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Harness:
    return make_harness(backend, openrouter_server, tmp_path, monkeypatch)


def changed_snapshot() -> dict[str, Any]:
    """NEW_SNAPSHOT as OpenRouter changes it: dearer, no longer free, retiring, dearer."""
    snapshot = copy.deepcopy(load_snapshot(NEW_SNAPSHOT))
    models = {model["id"]: model for model in snapshot["data"]}
    models[DEARER]["pricing"]["completion"] = "0.000018"
    models[PROMOTION]["pricing"].update(prompt="0.0000004", completion="0.0000016")
    models[RETIRING]["expiration_date"] = IN_TEN_DAYS
    models[INACTIVE]["pricing"].update(prompt="0.000001", completion="0.000001")
    return snapshot


def activated(harness: Harness) -> Harness:
    assert harness.run("--all").exit_code == 1  # the ranked list holds one vanished id
    for api_id in ACTIVE:
        harness.set_active(api_id, True)
    return harness


def history_of(harness: Harness, api_id: str) -> list[dict[str, Any]]:
    """The model's history rows, newest first (`history` takes no --config-dir)."""
    result = runner.invoke(app, ["history", api_id, "--json"], env=harness.env)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)["history"]
    return rows


def history_alerts(harness: Harness, api_id: str) -> list[list[str]]:
    return [row.get("alerts", []) for row in history_of(harness, api_id)]


def alerts_of(document: dict[str, Any]) -> dict[str, list[str]]:
    return {alert["apiId"]: alert["reasons"] for alert in document["alerts"]}


def test_a_price_rise_an_ended_promotion_and_a_retirement_alert_once_and_exit_4(
    harness: Harness,
) -> None:
    activated(harness).openrouter.serve_json(changed_snapshot())

    result = harness.run("--all", "--json")
    assert result.exit_code == 4, result.output
    document = json.loads(result.stdout)
    assert alerts_of(document) == {
        DEARER: ["price-increase"],
        PROMOTION: ["now-paid"],
        RETIRING: ["expiring"],
    }
    (dearer,) = [alert for alert in document["alerts"] if alert["apiId"] == DEARER]
    assert dearer["before"]["outputCostPer1MTokens"] == 15
    assert dearer["after"]["outputCostPer1MTokens"] == 18
    (retiring,) = [alert for alert in document["alerts"] if alert["apiId"] == RETIRING]
    assert retiring["after"]["expirationDate"] == IN_TEN_DAYS
    # The prices were written: the next run sees no change, only the retirement still ahead.
    assert harness.rows()[DEARER]["outputCostPer1MTokens"] == 18

    assert history_alerts(harness, DEARER) == [["price-increase"], []]  # newest first

    rerun = harness.run("--all")
    assert rerun.exit_code == 4, rerun.output
    alert_lines = [line for line in rerun.stdout.splitlines() if "[ALERT]" in line]
    assert alert_lines == [f"  [ALERT] {RETIRING} — expiring: retired on {IN_TEN_DAYS}"]
    assert "Alerts (1) on active models:" in rerun.stdout


def test_a_budget_flags_the_dearer_active_model_and_can_turn_it_off(harness: Harness) -> None:
    activated(harness)
    budget = ("--max-cost-per-1m", "10")  # DEARER's output costs $15, the others less

    result = harness.run("--all", "--json", *budget)
    assert result.exit_code == 4, result.output
    assert alerts_of(json.loads(result.stdout)) == {DEARER: ["over-budget"]}

    dry = harness.run("--all", "--json", "--dry-run", "--deactivate-over-budget", *budget)
    assert dry.exit_code == 4, dry.output
    assert [item["apiId"] for item in json.loads(dry.stdout)["deactivated"]] == [DEARER]
    before = harness.rows()
    assert all(before[api_id]["isActive"] for api_id in ACTIVE)

    done = harness.run("--all", "--deactivate-over-budget", *budget)
    assert done.exit_code == 4, done.output
    assert history_alerts(harness, DEARER)[0] == ["over-budget", "deactivated"]
    assert f"  [OFF] {DEARER} — over-budget" in done.stdout.splitlines()
    rows = harness.rows()
    assert {api_id for api_id, row in rows.items() if row["isActive"]} == {PROMOTION, RETIRING}
    for api_id, row in rows.items():  # the sync's own writes aside, only the flag changed
        assert {**row, "isActive": True, "updatedAt": 0} == {
            **before[api_id],
            "isActive": True,
            "updatedAt": 0,
        }


def test_the_budget_comes_from_the_env_file_and_needs_to_be_a_number(harness: Harness) -> None:
    activated(harness)
    result = harness.run("--paid", "--json", SYNC_MAX_COST_PER_1M="10")
    assert result.exit_code == 4, result.output
    assert alerts_of(json.loads(result.stdout)) == {DEARER: ["over-budget"]}

    bad = harness.run("--paid", SYNC_MAX_COST_PER_1M="ten")
    assert bad.exit_code == 2
    assert "SYNC_MAX_COST_PER_1M" in bad.output


def test_a_deployment_without_the_guards_query_still_syncs_with_one_warning(
    harness: Harness,
) -> None:
    activated(harness).openrouter.serve_json(changed_snapshot())
    missing = "Could not find function for 'queries/aiModels:listActive'"
    harness.backend.set_faults(failFunctions={"queries/aiModels:listActive": missing})
    result = harness.run("--paid")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "guard" in line]
    assert len(warnings) == 1 and "queries/aiModels:listActive" in warnings[0]
    assert harness.rows()[DEARER]["outputCostPer1MTokens"] == 18


def test_an_inactive_ranked_model_being_retired_is_a_warning_not_an_alert(
    harness: Harness,
) -> None:
    harness.run("--free")
    snapshot = copy.deepcopy(load_snapshot(NEW_SNAPSHOT))
    (model,) = [m for m in snapshot["data"] if m["id"] == INACTIVE]
    model["expiration_date"] = "2020-01-31"
    harness.openrouter.serve_json(snapshot)
    result = harness.run("--free", "--json")
    assert result.exit_code == 1  # the vanished ranked id; no alert
    document = json.loads(result.stdout)
    assert document["alerts"] == []
    assert document["expiringInactive"] == [
        {"apiId": INACTIVE, "expirationDate": "2020-01-31", "retired": True}
    ]
    text = harness.run("--free").stdout
    assert f"  [WARN] {INACTIVE}: retired on 2020-01-31: replace it in the ranked list" in text


@pytest.mark.parametrize("value", ["soon", 20260217, "2026-02-30"])
def test_a_bad_expiration_date_is_that_models_own_error(harness: Harness, value: Any) -> None:
    snapshot = copy.deepcopy(load_snapshot(NEW_SNAPSHOT))
    (model,) = [m for m in snapshot["data"] if m["id"] == INACTIVE]
    model["expiration_date"] = value
    harness.openrouter.serve_json(snapshot)
    result = harness.run("--free", "--json")
    assert result.exit_code == 1
    errors = {r["apiId"]: r["error"] for r in json.loads(result.stdout)["results"] if "error" in r}
    assert set(errors) == {INACTIVE, "deepseek/deepseek-r1-0528:free"}
    assert "expiration_date" in errors[INACTIVE]
    assert set(harness.rows()) == {PROMOTION}


def test_prod_without_sync_model_list_syncs_the_paid_list(harness: Harness) -> None:
    Path(".env.prod").write_text("# the environment holds the settings\n")
    result = harness.run("--prod", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["summary"]["listSynced"] == "paid"
    assert [r["apiId"] for r in document["results"]] == PAID
    free = harness.run("--prod", "--json", SYNC_MODEL_LIST="free")
    assert json.loads(free.stdout)["summary"]["listSynced"] == "free"


def test_status_marks_stale_the_models_the_sync_found_stale(harness: Harness) -> None:
    assert harness.run("--paid").exit_code == 0
    snapshot = copy.deepcopy(load_snapshot(NEW_SNAPSHOT))
    snapshot["data"] = [m for m in snapshot["data"] if m["id"] != DEARER]
    harness.openrouter.serve_json(snapshot)
    synced = harness.run("--free", "--json")  # another list: still judged by OpenRouter's list
    sync_stale = [item["apiId"] for item in json.loads(synced.stdout)["stale"]]
    assert sync_stale == [DEARER]

    status = runner.invoke(app, ["status", "--json"], env=harness.env)  # takes no --config-dir
    assert status.exit_code == 0, status.output
    models = json.loads(status.stdout)["models"]
    assert [model["apiId"] for model in models if model["stale"]] == sync_stale
    assert all(model["stale"] is not None for model in models)


def test_switching_between_ranked_and_catalog_runs_writes_no_history(harness: Harness) -> None:
    assert harness.run("--paid").exit_code == 0
    before = {api_id: history_of(harness, api_id) for api_id in PAID}
    for mode in ("--catalog", "--paid", "--catalog"):
        result = harness.run(mode, "--json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["stale"] == []
    assert {api_id: history_of(harness, api_id) for api_id in PAID} == before


def test_doctor_warns_of_active_models_over_budget_and_models_being_retired(
    harness: Harness,
) -> None:
    activated(harness)
    snapshot = copy.deepcopy(load_snapshot(NEW_SNAPSHOT))
    (model,) = [m for m in snapshot["data"] if m["id"] == INACTIVE]
    model["expiration_date"] = IN_TEN_DAYS
    harness.openrouter.serve_json(snapshot)
    result = harness.run("doctor", "--json", SYNC_MAX_COST_PER_1M="10")
    assert result.exit_code == 0, result.output
    (guard,) = [c for c in json.loads(result.stdout)["checks"] if c["name"] == "guard"]
    assert guard["status"] == "warn"
    assert f"1 active over $10/1M: {DEARER}" in guard["detail"]
    assert f"1 being retired: {INACTIVE} (inactive, {IN_TEN_DAYS})" in guard["detail"]

    harness.openrouter.serve_snapshot(NEW_SNAPSHOT)
    calm = harness.run("doctor", "--json", SYNC_MAX_COST_PER_1M="100")
    (guard,) = [c for c in json.loads(calm.stdout)["checks"] if c["name"] == "guard"]
    assert guard == {
        "name": "guard",
        "status": "ok",
        "detail": "3 active; budget $100/1M; none being retired",
        "hint": None,
    }


def test_a_catalog_dry_run_alerts_the_same_and_writes_nothing(harness: Harness) -> None:
    activated(harness).openrouter.serve_json(changed_snapshot())
    before = harness.rows()
    result = harness.run("--catalog", "--dry-run", "--json")
    assert result.exit_code == 4, result.output
    assert alerts_of(json.loads(result.stdout)) == {
        DEARER: ["price-increase"],
        PROMOTION: ["now-paid"],
        RETIRING: ["expiring"],
    }
    assert harness.rows() == before


def test_status_without_openrouter_says_stale_is_unknown(harness: Harness) -> None:
    assert harness.run("--paid").exit_code == 0
    harness.openrouter.enqueue(Respond.error(503, "down"))
    status = runner.invoke(app, ["status", "--json"], env=harness.env)
    assert status.exit_code == 0, status.output
    document = json.loads(status.stdout)
    assert {model["stale"] for model in document["models"]} == {None}
    assert document["staleCheckedAgainst"] is None
    assert "warning: stale is unknown" in status.stderr
    assert harness.openrouter.request_count == 2  # the sync's, and status's one try


def test_the_expiring_window_and_the_budget_flag_are_checked(harness: Harness) -> None:
    activated(harness).openrouter.serve_json(changed_snapshot())
    assert harness.run("--all").exit_code == 4  # writes the new prices
    narrow = harness.run("--all", "--json", "--expiring-within", "9")
    assert narrow.exit_code == 1, narrow.output  # the vanished ranked id; no alert
    assert json.loads(narrow.stdout)["alerts"] == []
    wide = harness.run("--all", "--json", "--expiring-within", "10")
    assert alerts_of(json.loads(wide.stdout)) == {RETIRING: ["expiring"]}

    no_budget = harness.run("--all", "--deactivate-over-budget")
    assert no_budget.exit_code == 2
    assert "--deactivate-over-budget needs a budget" in no_budget.output


def test_a_deployment_pushed_before_the_guard_still_syncs(
    openrouter_server: OpenRouterServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This project's functions as deployed before listActive existed, pushed with
    `npx convex deploy`: the real backend's own "not found", not an injected fault."""
    functions = tmp_path / "functions"
    shutil.copytree(REPO_ROOT / "convex", functions)
    queries = functions / "queries" / "aiModels.ts"
    source = queries.read_text(encoding="utf-8")
    queries.write_text(source[: source.index("/**\n * The active")], encoding="utf-8")
    (tmp_path / "empty").mkdir()
    with start_local_backend(functions_dir=tmp_path / "empty") as backend:
        pushed = deploy(convex_project(tmp_path / "project", functions), backend)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        guarded = make_harness(backend, openrouter_server, tmp_path / "work", monkeypatch)
        activated(guarded).openrouter.serve_json(changed_snapshot())
        result = guarded.run("--paid", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["alerts"] == []
    assert "queries/aiModels:listActive" in document["guardSkipped"]
    assert [r["action"] for r in document["results"]] == ["updated"] * len(PAID)
