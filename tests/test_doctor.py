"""`sync-models doctor` end to end: the local backend (the project's functions, or another
folder of functions) and a loopback OpenRouter. Every run writes nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.local_backend import FIXTURE_FUNCTIONS, LocalBackend, start_local_backend
from support.openrouter_server import OpenRouterServer, Respond, unused_loopback_url
from typer.testing import CliRunner, Result

from sync_client.cli import app
from sync_client.convex_store import LIST_HISTORY, ConvexStore
from sync_client.convex_types import ModelRow
from sync_client.doctor import _probe, _probes, check_functions
from sync_client.errors import ConvexCallError, ConvexUnavailableError
from sync_client.settings import Secret

SNAPSHOT = "models-2025-12-02.json"
PAID = ["anthropic/claude-sonnet-4.5", "openai/gpt-4o"]
FREE = ["qwen/qwen3-coder:free", "google/gemma-3-27b-it:free"]
VANISHED = "deepseek/deepseek-r1-0528:free"  # in no snapshot
API_KEY = "sk-or-v1-doctor-tests-0123456789abcdef"
NAMES = ["settings", "ranked-lists", "openrouter", "convex", "functions", "guard"]

runner = CliRunner()


def write_list(path: Path, constant: str, ids: list[str]) -> None:
    entries = "\n".join(f'  {{ apiId: "{api_id}", rank: {n} }},' for n, api_id in enumerate(ids, 1))
    path.write_text(f"export const {constant} = [\n{entries}\n] as const;\n")


class Doctor:
    def __init__(self, backend: LocalBackend, openrouter: OpenRouterServer, workdir: Path):
        self.backend = backend
        self.openrouter = openrouter
        self.config_dir = workdir / "config"
        self.config_dir.mkdir()
        write_list(self.config_dir / "topPaidModels.ts", "TOP_PAID_MODELS", PAID)
        write_list(self.config_dir / "topFreeModels.ts", "TOP_FREE_MODELS", FREE)
        self.env = {
            "CONVEX_URL": backend.url,
            "CONVEX_DEPLOY_KEY": backend.admin_key,
            "OPENROUTER_BASE_URL": openrouter.base_url,
            "OPENROUTER_API_KEY": API_KEY,
        }

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        result = runner.invoke(
            app,
            ["doctor", "--config-dir", str(self.config_dir), *args],
            env={**self.env, **(env or {})},
        )
        for secret in (self.backend.admin_key, self.backend.admin_key.rpartition("|")[2], API_KEY):
            assert secret not in result.output
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        result = self.run("--json", *args, env=env)
        document: dict[str, Any] = json.loads(result.stdout)
        assert [check["name"] for check in document["checks"]] == NAMES
        return result.exit_code, {check["name"]: check for check in document["checks"]}


def contents(backend: LocalBackend) -> tuple[list[ModelRow], list[dict[str, Any]]]:
    """Every aiModels and modelHistory row, system fields included."""
    with ConvexStore(backend.url, Secret(backend.admin_key), timeout_s=10) as store:
        history = store.call("query", LIST_HISTORY, {"limit": 8192})
        assert isinstance(history, list)
        return store.list_models(), history


@pytest.fixture
def doctor(
    backend: LocalBackend,
    openrouter_server: OpenRouterServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Doctor]:
    monkeypatch.chdir(tmp_path)  # no developer .env.local
    openrouter_server.serve_snapshot(SNAPSHOT)
    doctor = Doctor(backend, openrouter_server, tmp_path)
    # Rows and history to keep unchanged: a real sync first.
    synced = runner.invoke(app, ["--all", "--config-dir", str(doctor.config_dir)], env=doctor.env)
    assert synced.exit_code == 0, synced.output
    before = contents(backend)
    assert len(before[0]) == 4 and len(before[1]) == 4
    yield doctor
    assert contents(backend) == before, "doctor wrote something"


def test_all_ok_exits_0_and_prints_each_check_in_order(doctor: Doctor) -> None:
    result = doctor.run()
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["ok", name] for name in NAMES]
    assert "read" not in lines[0] and "the environment only" in lines[0]
    assert "paid: 2 models, free: 2 models" in lines[1]
    assert "every ranked id is among them" in lines[2]
    assert "upsertModel, upsertModels, setActive, list, history list, recordSync" in lines[4]
    assert doctor.openrouter.request_count == 2  # the sync's GET and the doctor's one

    code, checks = doctor.json()
    assert code == 0
    assert all(check["status"] == "ok" and check["hint"] is None for check in checks.values())


def test_an_unlisted_ranked_id_is_a_warning_and_still_exits_0(doctor: Doctor) -> None:
    write_list(doctor.config_dir / "topFreeModels.ts", "TOP_FREE_MODELS", [*FREE, VANISHED])
    code, checks = doctor.json()
    assert code == 0
    assert checks["openrouter"]["status"] == "warn"
    assert f"1 ranked id(s) not listed: {VANISHED}" in checks["openrouter"]["detail"]
    assert "fix the ids in the ranked lists" in checks["openrouter"]["hint"]


def test_a_wrong_deploy_key_fails_the_convex_check_with_exit_3(doctor: Doctor) -> None:
    wrong = "prod:doctor-test|" + "x" * 40
    started = time.monotonic()
    code, checks = doctor.json("--timeout", "2", env={"CONVEX_DEPLOY_KEY": wrong})
    assert time.monotonic() - started < 15
    assert code == 3
    assert checks["settings"]["status"] == "ok" and checks["openrouter"]["status"] == "ok"
    assert checks["convex"]["status"] == "fail"
    assert "cannot reach or authenticate" in checks["convex"]["detail"]
    assert "CONVEX_DEPLOY_KEY" in checks["convex"]["hint"]
    assert checks["functions"]["status"] == "skipped"

    human = doctor.run("--timeout", "2", env={"CONVEX_DEPLOY_KEY": wrong})
    assert human.exit_code == 3
    assert human.stdout.splitlines()[3].split()[:2] == ["fail", "convex"]
    assert wrong not in human.output and wrong.rpartition("|")[2] not in human.output


def test_an_unreachable_deployment_fails_the_convex_check_with_exit_3(doctor: Doctor) -> None:
    code, checks = doctor.json("--timeout", "2", env={"CONVEX_URL": unused_loopback_url()})
    assert code == 3 and checks["convex"]["status"] == "fail"


def test_functions_missing_from_the_deployment_fail_with_the_deploy_hint(
    doctor: Doctor,
) -> None:
    with start_local_backend(functions_dir=FIXTURE_FUNCTIONS) as other:
        code, checks = doctor.json(
            env={"CONVEX_URL": other.url, "CONVEX_DEPLOY_KEY": other.admin_key}
        )
        assert code == 2
        assert checks["convex"]["status"] == "ok"  # reached, key accepted
        functions = checks["functions"]
        assert functions["status"] == "fail"
        assert "npx convex deploy" in functions["hint"]
        for name in ("upsertModel", "upsertModels", "setActive", "list", "recordSync"):
            assert f"{name} (" in functions["detail"]
        assert functions["detail"].count("not deployed") == 6
        with ConvexStore(other.url, Secret(other.admin_key), timeout_s=10) as store:
            assert store.call("query", "notes:list", {}) == []


def test_an_openrouter_503_fails_with_exit_3_after_one_request(doctor: Doctor) -> None:
    doctor.openrouter.reset()
    doctor.openrouter.serve_snapshot(SNAPSHOT)
    doctor.openrouter.enqueue(Respond.error(503, "upstream down"))
    code, checks = doctor.json()
    assert code == 3
    assert checks["openrouter"]["status"] == "fail" and "503" in checks["openrouter"]["detail"]
    assert doctor.openrouter.request_count == 1  # one GET, no retries
    assert checks["convex"]["status"] == "ok" and checks["functions"]["status"] == "ok"


def test_an_openrouter_host_that_does_not_resolve_names_the_setting_and_the_offline_recipe(
    doctor: Doctor,
) -> None:
    # `.invalid` never resolves (RFC 6761).
    code, checks = doctor.json(env={"OPENROUTER_BASE_URL": "https://openrouter.invalid/api/v1"})
    assert code == 3
    openrouter = checks["openrouter"]
    assert openrouter["status"] == "fail"
    assert "openrouter.invalid did not resolve" in openrouter["hint"]
    assert "OPENROUTER_BASE_URL" in openrouter["hint"]
    assert "No OpenRouter at hand" in openrouter["hint"]


def test_a_malformed_ranked_list_fails_with_exit_2(doctor: Doctor) -> None:
    (doctor.config_dir / "topPaidModels.ts").write_text(
        'export const TOP_PAID_MODELS = [{ apiId: "a/b" rank: 1 }];\n'
    )
    code, checks = doctor.json()
    assert code == 2
    ranked = checks["ranked-lists"]
    assert ranked["status"] == "fail" and "topPaidModels.ts:1:" in ranked["detail"]
    assert checks["openrouter"]["status"] == "ok"
    assert "ranked lists not checked" in checks["openrouter"]["detail"]


def test_missing_settings_fail_first_and_skip_convex(doctor: Doctor) -> None:
    code, checks = doctor.json(env={"CONVEX_URL": "", "CONVEX_DEPLOY_KEY": ""})
    assert code == 2
    assert checks["settings"]["status"] == "fail"
    assert "CONVEX_URL and CONVEX_DEPLOY_KEY not set" in checks["settings"]["detail"]
    assert [checks[name]["status"] for name in ("convex", "functions")] == ["skipped"] * 2
    assert checks["convex"]["detail"] == "needs CONVEX_URL and CONVEX_DEPLOY_KEY"
    # Both set, but a URL the settings refuse: what is skipped waits on the settings check.
    code, checks = doctor.json(env={"CONVEX_URL": "http://convex.example.com"})
    assert code == 2 and "plain http://" in checks["settings"]["detail"]
    assert checks["openrouter"]["detail"] == "needs the settings check"
    assert checks["convex"]["detail"] == "needs the settings check"


class FakeStore:
    """Answers every probe the same way: pure classification logic, no Convex."""

    def __init__(self, answer: object) -> None:
        self.answer = answer

    def call(self, kind: str, name: str, args: dict[str, object]) -> object:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            ConvexCallError("ArgumentValidationError: Object is missing the required field"),
            "incompatible (ArgumentValidationError",
        ),
        (ConvexCallError("rejected", data={"code": "TOO_MANY_ITEMS"}), "incompatible (rejected)"),
        (
            ConvexUnavailableError("h refused x: Could not find function for 'x'"),
            "not deployed",
        ),
        # The two probes that expect a refusal say so instead.
        ({"unexpected": True}, "incompatible (an unexpected result)"),
    ],
)
def test_each_kind_of_answer_names_what_is_wrong(answer: object, expected: str) -> None:
    check = check_functions(FakeStore(answer))  # type: ignore[arg-type]
    assert check.status == "fail" and check.exit_code == 2
    assert check.detail.count("; ") == 5, check.detail  # all six named
    assert check.detail.count(expected) == (4 if isinstance(answer, dict) else 6), check.detail


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        # Convex's wording and convex-test's: the contract passed, only the probe field is extra.
        (
            ConvexCallError(
                "Object contains extra field `syncModelsDoctorProbe` that is not in the validator."
            ),
            None,
        ),
        (
            ConvexCallError("Validator error: Unexpected field `syncModelsDoctorProbe` in object"),
            None,
        ),
        (
            ConvexCallError("Validator error: Missing required field `slug` in object"),
            "incompatible (Validator error: Missing required field `slug` in object)",
        ),
        # A version without an arguments validator ran the call: doctor says so.
        (
            {"action": "inserted", "id": "x"},
            "incompatible (accepted a call with the unknown field syncModelsDoctorProbe)",
        ),
    ],
)
def test_upsert_model_is_compatible_when_its_validator_refuses_only_the_probe_field(
    answer: object, expected: str | None
) -> None:
    probe = next(p for p in _probes() if p.label == "upsertModel")
    assert _probe(FakeStore(answer), probe) == expected  # type: ignore[arg-type]


def test_losing_the_deployment_mid_way_is_exit_3() -> None:
    check = check_functions(FakeStore(ConvexUnavailableError("cannot reach h within 1 s")))  # type: ignore[arg-type]
    assert (check.status, check.exit_code) == ("fail", 3)
