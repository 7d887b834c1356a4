"""The reliability matrix (issue 5): faults, bad input and secrets, each one scenario.

Every scenario runs the real CLI (`python -m sync_client` in a subprocess with a clean
environment and its own working directory) against real sockets: the loopback OpenRouter of
support.openrouter_server and the local Convex backend. Each one checks the outcome (recovered,
or one clear `error:` line), the exit code, an upper bound on the time, the database afterwards
(read over the backend's HTTP API, independently of sync_client), and that neither the deploy
key nor the OpenRouter key appears in stdout or stderr. Each test records its measurement with
the `scenario` fixture; `scripts/reliability_report.py` turns the records into
docs/RELIABILITY.md.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.hostile_text import raw_controls
from support.local_backend import LocalBackend, deadline, start_local_backend
from support.openrouter_server import (
    BadGzip,
    CutBody,
    Delay,
    OpenRouterServer,
    ResetMidBody,
    Respond,
    load_snapshot,
    unused_loopback_url,
)
from support.rankings_server import RankingsServer, ranking_row
from support.reliability import (  # noqa: F401  (scenario_fixture is a fixture)
    MATRIX_SNAPSHOT,
    ScenarioRecord,
    scenario_fixture,
)

pytestmark = pytest.mark.posix_only(
    reason="reaps each CLI run with os.wait4 for its peak RSS (a figure of the matrix) and "
    "injects faults with POSIX signals (SIGKILL to the backend's group, SIGINT to the CLI)"
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = MATRIX_SNAPSHOT
PAID = ["anthropic/claude-sonnet-4.5", "x-ai/grok-code-fast-1", "openrouter/auto"]
FREE = ["qwen/qwen3-coder:free", "google/gemma-3-27b-it:free"]
ALL_IDS = PAID + FREE  # the order `--all` syncs them in

# Distinctive fake secrets: any of these in stdout or stderr fails the scenario. Each ends in
# its own random tail, grepped for alone too, so a key cut short or masked at the front is
# still caught.
_TAILS = [secrets.token_hex(8) for _ in range(3)]
DEPLOY_KEY = f"prod:reliability-matrix|secret-deploy-key-XYZ{_TAILS[0]}"
OPENROUTER_KEY = f"sk-or-v1-secret-openrouter-key-XYZ{_TAILS[1]}"
WRONG_DEPLOY_KEY = f"prod:reliability-matrix|wrong-deploy-key-XYZ{_TAILS[2]}"
SECRETS = (
    DEPLOY_KEY,
    DEPLOY_KEY.rpartition("|")[2],
    OPENROUTER_KEY,
    WRONG_DEPLOY_KEY.rpartition("|")[2],
    *_TAILS,
)
# Fields that differ between two runs that wrote the same data.
VOLATILE_FIELDS = ("_id", "_creationTime", "updatedAt")

OPENROUTER = "OpenRouter"
CONVEX = "Convex"
INPUT = "Input"
SECURITY = "Security"


# --- running the CLI -------------------------------------------------------------------------


@dataclass
class CliRun:
    """A finished `sync-models` process."""

    args: tuple[str, ...]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_bytes: int
    workdir: str = ""

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]

    def outcome(self) -> str:
        """One line for the matrix: the error line, else the summary's title and counts."""
        if self.error_lines:
            return _shorten(self.error_lines[0].replace(self.workdir + os.sep, ""))
        lines = [line.strip() for line in self.stdout.splitlines() if line.strip()]
        counts = [line for line in lines if line.split(":")[0] in {"Inserted", "Updated", "Errors"}]
        title = lines[0] if lines else "(no output)"
        return _shorten(" ".join([title.lstrip("✅⛔🔎 "), *counts]))

    def assert_no_secrets(self) -> None:
        for secret in SECRETS:
            assert secret not in self.stdout, "a secret leaked to stdout"
            assert secret not in self.stderr, "a secret leaked to stderr"

    def assert_one_clear_error(self, *fragments: str) -> None:
        """Exactly one `error:` line, containing each fragment; no traceback."""
        assert len(self.error_lines) == 1, self.stderr
        for fragment in fragments:
            assert fragment in self.error_lines[0], self.stderr
        assert "Traceback" not in self.stderr


def _shorten(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RunningCli:
    """A `sync-models` process started in the background; `finish()` collects it."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
        self.args = tuple(args)
        self.cwd = cwd
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sync_client", *args],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._output: dict[str, bytes] = {}
        self._readers = [
            threading.Thread(target=self._drain, args=(name, stream), daemon=True)
            for name, stream in (("stdout", self.process.stdout), ("stderr", self.process.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def _drain(self, name: str, stream: Any) -> None:
        self._output[name] = stream.read()

    def finish(self, timeout_s: float) -> CliRun:
        """Wait (bounded) and reap the process with wait4, which reports its own peak RSS."""
        pid = self.process.pid
        deadline = self.started + timeout_s
        while True:
            reaped, status, usage = os.wait4(pid, os.WNOHANG)
            if reaped == pid:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                _, status, usage = os.wait4(pid, 0)
                self.process.returncode = -9
                pytest.fail(f"sync-models {' '.join(self.args)[:200]} hung past {timeout_s} s")
            time.sleep(0.005)
        seconds = time.monotonic() - self.started
        exit_code = os.waitstatus_to_exitcode(status)
        self.process.returncode = exit_code
        for reader in self._readers:
            reader.join(timeout=5)
        run = CliRun(
            args=self.args,
            exit_code=exit_code,
            stdout=self._output.get("stdout", b"").decode("utf-8", "replace"),
            stderr=self._output.get("stderr", b"").decode("utf-8", "replace"),
            seconds=seconds,
            # ru_maxrss counts KiB on Linux and bytes on macOS.
            peak_rss_bytes=usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024),
            workdir=str(self.cwd),
        )
        run.assert_no_secrets()
        return run


class Workdir:
    """A working directory with ranked lists of our own and no .env file, plus the env."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_dir = root / "config"
        self.config_dir.mkdir(exist_ok=True)
        self.write_list("topPaidModels.ts", "TOP_PAID_MODELS", PAID)
        self.write_list("topFreeModels.ts", "TOP_FREE_MODELS", FREE)

    def write_list(self, file_name: str, constant: str, ids: Sequence[str]) -> Path:
        entries = "\n".join(
            f"  {{ apiId: {json.dumps(i)}, rank: {n} }}," for n, i in enumerate(ids, 1)
        )
        path = self.config_dir / file_name
        path.write_text(f"// test list\nexport const {constant} = [\n{entries}\n] as const;\n")
        return path

    def env(self, **values: str | None) -> dict[str, str]:
        """A clean environment: PATH, HOME, locale, and only the given settings."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "LANG": "C.UTF-8",
            "PYTHONPATH": str(REPO_ROOT),
        }
        env.update({name: value for name, value in values.items() if value is not None})
        return env

    def start(self, *args: str, env: Mapping[str, str]) -> RunningCli:
        return RunningCli([*args, "--config-dir", str(self.config_dir)], env, self.root)

    def run(self, *args: str, env: Mapping[str, str], timeout_s: float = 60.0) -> CliRun:
        return self.start(*args, env=env).finish(timeout_s)


# --- reading the database (over HTTP, independently of sync_client) -------------------------


class Database:
    """The backend's HTTP API as an admin (or anonymous) client would use it."""

    def __init__(self, url: str, admin_key: str | None) -> None:
        headers = {} if admin_key is None else {"Authorization": f"Convex {admin_key}"}
        self._http = httpx.Client(base_url=url, headers=headers, timeout=20.0)

    def call(self, kind: str, path: str, args: Mapping[str, Any]) -> dict[str, Any]:
        response = self._http.post(f"/api/{kind}", json={"path": path, "args": dict(args)})
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def rows(self) -> list[dict[str, Any]]:
        body = self.call("query", "queries/aiModels:list", {})
        assert body["status"] == "success", body
        rows: list[dict[str, Any]] = body["value"]
        return rows

    def set_active(self, api_id: str, is_active: bool) -> None:
        """What a person does in the dashboard."""
        body = self.call(
            "mutation",
            "mutations/activation:setActive",
            {"apiIdentifier": api_id, "isActive": is_active},
        )
        assert body["status"] == "success", body

    def close(self) -> None:
        self._http.close()


def wait_for_mutations(backend: LocalBackend, at_least: int, timeout_s: float = 20.0) -> None:
    """Wait until the backend has committed `at_least` mutations in all (a running CLI is then
    mid-run), or `timeout_s` has passed: the scenario's own checks then say what went wrong."""
    give_up = time.monotonic() + timeout_s
    while backend.stats()["mutations"] < at_least and time.monotonic() < give_up:
        time.sleep(0.01)


def normalized(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows without the fields that differ between equal writes, sorted by id."""
    kept = [{k: v for k, v in row.items() if k not in VOLATILE_FIELDS} for row in rows]
    return sorted(kept, key=lambda row: str(row["apiIdentifier"]))


def converged(rows: Sequence[Mapping[str, Any]], reference: list[dict[str, Any]]) -> str:
    return f"{describe_rows(rows)}; equal to a clean run: {normalized(rows) == reference}"


def describe_rows(rows: Sequence[Mapping[str, Any]]) -> str:
    per_id = Counter(str(row["apiIdentifier"]) for row in rows)
    dupes = sum(count - 1 for count in per_id.values())
    return f"{len(rows)} rows, {dupes} duplicates"


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def matrix_backend() -> Iterator[LocalBackend]:
    """One local backend for the matrix, whose admin key is the distinctive DEPLOY_KEY."""
    with start_local_backend(admin_key=DEPLOY_KEY) as backend:
        yield backend


@pytest.fixture
def convex(matrix_backend: LocalBackend) -> Iterator[LocalBackend]:
    """The matrix backend, emptied and without faults."""
    matrix_backend.reset()
    yield matrix_backend
    matrix_backend.reset()


@pytest.fixture
def db(convex: LocalBackend) -> Iterator[Database]:
    database = Database(convex.url, DEPLOY_KEY)
    yield database
    database.close()


@pytest.fixture
def work(tmp_path: Path) -> Workdir:
    return Workdir(tmp_path)


@pytest.fixture
def openrouter(openrouter_server: OpenRouterServer) -> OpenRouterServer:
    """The loopback OpenRouter serving the real snapshot."""
    return openrouter_server.serve_snapshot(SNAPSHOT)


def settings_env(
    work: Workdir,
    convex: LocalBackend | None,
    openrouter: OpenRouterServer | str,
    **extra: str | None,
) -> dict[str, str]:
    base_url = openrouter if isinstance(openrouter, str) else openrouter.base_url
    values: dict[str, str | None] = {
        "CONVEX_URL": None if convex is None else convex.url,
        "CONVEX_DEPLOY_KEY": DEPLOY_KEY,
        "OPENROUTER_BASE_URL": base_url,
        "OPENROUTER_API_KEY": OPENROUTER_KEY,
    }
    values.update(extra)
    return work.env(**values)


@pytest.fixture(scope="module")
def reference_rows(
    matrix_backend: LocalBackend, tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    """The rows a clean `--all` run writes: what every recovered run must converge to."""
    matrix_backend.reset()
    work = Workdir(tmp_path_factory.mktemp("reference"))
    with OpenRouterServer() as server:
        server.serve_snapshot(SNAPSHOT)
        run = work.run("--all", env=settings_env(work, matrix_backend, server))
    assert run.exit_code == 0, run.stderr
    database = Database(matrix_backend.url, DEPLOY_KEY)
    rows = normalized(database.rows())
    database.close()
    matrix_backend.reset()
    assert [row["apiIdentifier"] for row in rows] == sorted(ALL_IDS)
    return rows


def seed(
    work: Workdir, convex: LocalBackend, openrouter: OpenRouterServer, db: Database
) -> list[dict[str, Any]]:
    """A successful run first, so a failing run has rows it must leave alone."""
    run = work.run("--all", env=settings_env(work, convex, openrouter))
    assert run.exit_code == 0, run.stderr
    openrouter.reset()
    return db.rows()


def snapshot_with(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    snapshot = copy.deepcopy(load_snapshot(SNAPSHOT))
    change(snapshot)
    return snapshot


def model_in(snapshot: dict[str, Any], api_id: str) -> dict[str, Any]:
    model: dict[str, Any] = next(m for m in snapshot["data"] if m["id"] == api_id)
    return model


# --- OpenRouter faults -----------------------------------------------------------------------


RECOVERABLE: dict[str, tuple[str, Callable[[], Any], float]] = {
    "429-retry-after-seconds": (
        "429 with Retry-After: 1 (seconds), then the list",
        lambda: Respond.error(429, "Rate limit exceeded", retry_after="1"),
        8.0,
    ),
    "429-retry-after-date": (
        "429 with Retry-After as an HTTP date 2 s ahead, then the list",
        lambda: Respond.error(
            429,
            "Rate limit exceeded",
            retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True),
        ),
        9.0,
    ),
    "500-then-ok": ("HTTP 500 once, then the list", lambda: Respond.error(500), 7.0),
    "502-then-ok": (
        "HTTP 502 (HTML from a proxy) once, then the list",
        lambda: Respond.html(502),
        7.0,
    ),
    "503-then-ok": ("HTTP 503 once, then the list", lambda: Respond.error(503), 7.0),
    "504-then-ok": ("HTTP 504 once, then the list", lambda: Respond.error(504), 7.0),
    "reset-mid-body": (
        "connection reset after 4 KB of the body, then the list",
        lambda: ResetMidBody(after_bytes=4096),
        7.0,
    ),
    "cut-mid-json": (
        "body cut mid-JSON (short of its Content-Length, clean close), then the list",
        lambda: CutBody(after_bytes=10_000),
        7.0,
    ),
    "gzip-garbage": (
        "Content-Encoding: gzip over a body that is not gzip, then the list",
        lambda: BadGzip(),
        7.0,
    ),
    "gzip-truncated": (
        "a gzip body cut at half its length (a whole HTTP message), then the list",
        lambda: BadGzip(truncated=True),
        7.0,
    ),
    "read-timeout": (
        "no answer for 6 s with --timeout 1.5 (read timeout), then the list",
        lambda: Delay(6.0),
        9.0,
    ),
}


@pytest.mark.parametrize("case", list(RECOVERABLE))
def test_openrouter_transient_fault_is_retried(
    case: str,
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
    reference_rows: list[dict[str, Any]],
) -> None:
    description, fault, bound_s = RECOVERABLE[case]
    scenario.describe(OPENROUTER, description, "retried; exit 0; rows = a clean run's")
    openrouter.enqueue(fault())

    run = work.run("--all", "--timeout", "1.5", env=settings_env(work, convex, openrouter))
    rows = db.rows()
    scenario.measured(
        outcome=f"{run.outcome()} after {openrouter.request_count} requests",
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=converged(rows, reference_rows),
    )

    assert run.exit_code == 0, run.stderr
    assert openrouter.request_count == 2
    assert "retrying in" in run.stderr
    assert normalized(rows) == reference_rows
    assert run.seconds < bound_s


PERMANENT: dict[str, tuple[str, Callable[[dict[str, Any]], None] | Respond, tuple[str, ...]]] = {
    "html-200": (
        "an HTML error page with status 200",
        Respond.html(200),
        ("not JSON",),
    ),
    "no-data": ('JSON without "data"', Respond.json({"models": []}), ("data: missing",)),
    "data-not-list": ('"data" is an object, not a list', Respond.json({"data": {}}), ("data",)),
    "entry-without-id": (
        'an entry of "data" whose id is a number',
        lambda s: s["data"].insert(3, {**s["data"][3], "id": 12345}),
        ("data", "id"),
    ),
    "401": (
        "401 with OpenRouter's error JSON",
        Respond.error(401, "No auth credentials found"),
        ("401", "No auth credentials found"),
    ),
    "403": (
        "403 with OpenRouter's error JSON",
        Respond.error(403, "Key disabled"),
        ("403", "Key disabled"),
    ),
    "404-base-path": (
        "OPENROUTER_BASE_URL with a wrong path (404)",
        Respond.error(404, "Not Found"),
        ("404",),
    ),
}


@pytest.mark.parametrize("case", list(PERMANENT))
def test_openrouter_bad_answer_writes_nothing(
    case: str,
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    description, answer, fragments = PERMANENT[case]
    scenario.describe(OPENROUTER, description, "one clear error, exit 3, no retry; table unchanged")
    before = normalized(seed(work, convex, openrouter, db))
    if isinstance(answer, Respond):
        openrouter.serve_body(
            answer.body, answer.headers.get("Content-Type", "text/plain"), answer.status
        )
    else:
        openrouter.serve_json(snapshot_with(answer))

    run = work.run("--all", env=settings_env(work, convex, openrouter))
    after = normalized(db.rows())
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(after)}; unchanged: {after == before}",
    )

    assert run.exit_code == 3
    run.assert_one_clear_error(*fragments)
    assert openrouter.request_count == 1
    assert openrouter.requests[0].header("authorization") == f"Bearer {OPENROUTER_KEY}"
    assert after == before
    assert run.seconds < 6


MALFORMED_MODELS: dict[str, tuple[str, str, Callable[[dict[str, Any]], object], str]] = {
    "ranked-price-number": (
        "a ranked model whose pricing.prompt is a number, not a decimal string",
        PAID[0],
        lambda model: model["pricing"].update(prompt=3e-06),
        "pricing.prompt",
    ),
    "ranked-context-string": (
        "a ranked model whose context_length is a string",
        FREE[0],
        lambda model: model.update(context_length="262144"),
        "context_length",
    ),
    "unranked-wrong-types": (
        "a model nobody ranked with a number price and a string context_length",
        "openai/gpt-4o",
        lambda model: (model["pricing"].update(prompt=3e-06), model.update(context_length="1")),
        "",
    ),
    "ranked-lone-surrogate": (
        "a ranked model whose name holds a lone surrogate escape (`\\udfff`)",
        FREE[0],
        lambda model: model.update(name="Qwen \udfff"),
        "name: holds a lone surrogate",
    ),
    "unranked-lone-surrogate": (
        "a model nobody ranked whose name holds a lone surrogate escape (`\\udfff`)",
        "openai/gpt-4o",
        lambda model: model.update(name="GPT \udfff"),
        "",
    ),
    "ranked-negative-context": (
        "a stored ranked model whose context_length turns -5",
        FREE[0],
        lambda model: model.update(context_length=-5),
        "context_length: -5 is not a positive integer",
    ),
    "ranked-non-ascii-price": (
        'a ranked model priced in Arabic-Indic digits (`"٣e-06"`)',
        PAID[0],
        lambda model: model["pricing"].update(prompt="٣e-06"),
        "pricing.prompt: not a price in decimal notation",
    ),
    "unranked-malformed-id": (
        "a model nobody ranked whose id holds a space and a control character",
        "openai/gpt-4o",
        lambda model: model.update(id="openai/gpt 4o\x1b[2J"),
        "",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED_MODELS))
def test_openrouter_malformed_model_is_its_own_error(
    case: str,
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
    reference_rows: list[dict[str, Any]],
) -> None:
    description, broken_id, break_model, field = MALFORMED_MODELS[case]
    ranked = broken_id in ALL_IDS
    scenario.describe(
        OPENROUTER,
        description,
        "that model's own error naming the field, exit 1; the others synced, its row untouched"
        if ranked
        else "ignored: exit 0; rows = a clean run's",
    )
    before = {row["apiIdentifier"]: row for row in normalized(seed(work, convex, openrouter, db))}
    openrouter.serve_json(
        snapshot_with(lambda snapshot: break_model(model_in(snapshot, broken_id)))
    )

    run = work.run("--all", env=settings_env(work, convex, openrouter))
    after = {row["apiIdentifier"]: row for row in normalized(db.rows())}
    others_synced = [row for i, row in after.items() if i != broken_id] == [
        row for row in reference_rows if row["apiIdentifier"] != broken_id
    ]
    untouched = after.get(broken_id) == before.get(broken_id)
    error_lines = [line for line in run.stdout.splitlines() if line.startswith("[ERR]")]
    scenario.measured(
        outcome=_shorten("; ".join([run.outcome(), *error_lines])),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(list(after.values()))}; others = a clean run's: "
        f"{others_synced}; its row untouched: {untouched}",
    )

    assert run.exit_code == (1 if ranked else 0), run.stderr
    assert others_synced
    assert untouched
    if ranked:
        assert len(error_lines) == 1 and broken_id in error_lines[0], run.stdout
        assert field in error_lines[0]
    else:
        assert error_lines == []
    assert "Traceback" not in run.stderr
    assert openrouter.request_count == 1
    assert run.seconds < 6


def test_openrouter_price_too_small_for_a_float(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        OPENROUTER,
        'a ranked model priced "1e-400" per token (below the smallest float)',
        "stored as 0.0, isFree derived from the stored prices; exit 0",
    )

    def tiny_prices(snapshot: dict[str, Any]) -> None:
        model_in(snapshot, PAID[0])["pricing"].update(prompt="1e-400", completion="1e-400")

    openrouter.serve_json(snapshot_with(tiny_prices))
    run = work.run("--all", env=settings_env(work, convex, openrouter))
    row = next(row for row in db.rows() if row["apiIdentifier"] == PAID[0])
    stored = (row.get("inputCostPer1MTokens"), row.get("outputCostPer1MTokens"))
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"stored prices {stored}, isFree {row.get('isFree')}",
    )

    assert run.exit_code == 0, run.stderr
    assert stored == (0.0, 0.0)
    assert row["isFree"] is True
    assert run.seconds < 10


def test_openrouter_persistent_503_gives_up(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        OPENROUTER,
        "HTTP 503 with Retry-After: 0 on every attempt",
        "5 attempts, then one clear error, exit 3; table unchanged",
    )
    before = normalized(seed(work, convex, openrouter, db))
    unavailable = Respond.error(503, "Service Unavailable", retry_after="0")
    openrouter.serve_body(unavailable.body, "application/json", 503)
    openrouter.enqueue(*[unavailable] * 10)

    run = work.run("--all", env=settings_env(work, convex, openrouter))
    after = normalized(db.rows())
    scenario.measured(
        outcome=f"{run.outcome()} ({openrouter.request_count} requests)",
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(after)}; unchanged: {after == before}",
    )

    assert run.exit_code == 3
    run.assert_one_clear_error("5 attempts", "503")
    assert openrouter.request_count == 5
    assert after == before
    assert run.seconds < 6


def test_openrouter_corrupt_gzip_every_time_gives_up(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        OPENROUTER,
        "a corrupt gzip body on every attempt",
        "retried, then one clear OpenRouter error, exit 3; table unchanged",
    )
    before = normalized(seed(work, convex, openrouter, db))
    openrouter.enqueue(*[BadGzip()] * 10)

    run = work.run("--all", env=settings_env(work, convex, openrouter))
    after = normalized(db.rows())
    scenario.measured(
        outcome=f"{run.outcome()} ({openrouter.request_count} requests)",
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(after)}; unchanged: {after == before}",
    )

    assert run.exit_code == 3
    run.assert_one_clear_error("5 attempts", "gzip body is corrupt")
    assert openrouter.request_count == 5
    assert after == before
    assert run.seconds < 12


def test_openrouter_connection_refused(
    scenario: ScenarioRecord, work: Workdir, convex: LocalBackend, db: Database
) -> None:
    scenario.describe(
        OPENROUTER,
        "connection refused (nothing listens on the port)",
        "retried with backoff, then one clear error, exit 3; nothing written",
    )
    run = work.run("--all", env=settings_env(work, convex, unused_loopback_url()))
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 3
    run.assert_one_clear_error("could not fetch", "ConnectError")
    assert rows == []
    assert run.seconds < 15


def test_openrouter_host_does_not_resolve(
    scenario: ScenarioRecord, work: Workdir, convex: LocalBackend, db: Database
) -> None:
    scenario.describe(
        OPENROUTER,
        "OPENROUTER_BASE_URL's host does not resolve (DNS: `openrouter.invalid`)",
        "one clear error, exit 3; the hint names OPENROUTER_BASE_URL and the offline recipe",
    )
    base_url = "https://openrouter.invalid/api/v1"  # `.invalid` never resolves (RFC 6761)
    run = work.run("--all", env=settings_env(work, convex, base_url))
    rows = db.rows()
    hint = next((line for line in run.stderr.splitlines() if line.startswith("hint:")), "")
    scenario.measured(
        outcome=_shorten(f"{run.outcome()} / {hint}"),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 3
    run.assert_one_clear_error("could not fetch")
    assert "OPENROUTER_BASE_URL" in hint and "No OpenRouter at hand" in hint
    assert rows == []
    assert run.seconds < 15


def big_catalog(count: int) -> bytes:
    """The real snapshot's models plus synthetic ones, `count` in all (about 1 KB each)."""
    models = list(load_snapshot(SNAPSHOT)["data"])
    filler = {
        "name": "Synthetic model",
        "created": 1_750_000_000,
        "description": "A synthetic model for the large-body scenario. " * 12,
        "context_length": 131072,
        "architecture": {"modality": "text->text", "input_modalities": ["text"]},
        "pricing": {"prompt": "0.0000012", "completion": "0.0000034", "request": "0"},
        "top_provider": {"context_length": 131072, "max_completion_tokens": 8192},
        "supported_parameters": ["max_tokens", "temperature", "tools", "top_p"],
    }
    models += [
        {"id": f"synthetic-{n % 500}/model-{n}", "canonical_slug": f"synthetic/model-{n}", **filler}
        for n in range(count - len(models))
    ]
    return json.dumps({"data": models}).encode()


def test_openrouter_50000_models(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
    reference_rows: list[dict[str, Any]],
) -> None:
    body = big_catalog(50_000)
    scenario.describe(
        OPENROUTER,
        f"a 50,000-model list ({len(body) / 1e6:.0f} MB body)",
        "ranked models synced; under 30 s and 600 MB peak RSS",
    )
    openrouter.serve_body(body)

    run = work.run("--all", env=settings_env(work, convex, openrouter))
    rows = db.rows()
    peak_mb = run.peak_rss_bytes / 1e6
    scenario.measured(
        outcome=f"{run.outcome()}; peak RSS {peak_mb:.0f} MB",
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=converged(rows, reference_rows),
    )

    assert run.exit_code == 0, run.stderr
    assert normalized(rows) == reference_rows
    assert run.seconds < 30
    assert peak_mb < 600


# --- Convex faults ---------------------------------------------------------------------------


def test_convex_unreachable(
    scenario: ScenarioRecord, work: Workdir, openrouter: OpenRouterServer
) -> None:
    scenario.describe(
        CONVEX,
        "CONVEX_URL where nothing listens",
        "one clear error within --timeout (2 s), exit 3",
    )
    env = settings_env(
        work, None, openrouter, CONVEX_URL=unused_loopback_url().rsplit("/api", 1)[0]
    )
    run = work.run("--all", "--timeout", "2", env=env)
    scenario.measured(outcome=run.outcome(), exit_code=run.exit_code, seconds=run.seconds)

    assert run.exit_code == 3
    run.assert_one_clear_error("cannot reach")
    assert run.seconds < 6


def test_convex_wrong_deploy_key(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        CONVEX,
        "a wrong deploy key (the SDK reconnects forever on AuthError)",
        "one clear error within --timeout (2 s), exit 3; nothing written; neither key shown",
    )
    env = settings_env(work, convex, openrouter, CONVEX_DEPLOY_KEY=WRONG_DEPLOY_KEY)
    run = work.run("--all", "--timeout", "2", env=env)
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 3
    run.assert_one_clear_error("cannot reach or authenticate")
    assert rows == []
    assert run.seconds < 6


def test_convex_no_deploy_key(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        CONVEX,
        "no CONVEX_DEPLOY_KEY",
        "one clear error naming the variable, exit 2, before any request",
    )
    run = work.run("--all", env=settings_env(work, convex, openrouter, CONVEX_DEPLOY_KEY=None))
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 2
    run.assert_one_clear_error("CONVEX_DEPLOY_KEY")
    assert openrouter.request_count == 0
    assert rows == []
    assert run.seconds < 5


def test_convex_deployment_answers_503(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        CONVEX,
        "the deployment answers HTTP 503 to every request and WebSocket upgrade",
        "one clear error within --timeout (2 s), exit 3",
    )
    convex.set_faults(http_error_status=503)
    run = work.run("--all", "--timeout", "2", env=settings_env(work, convex, openrouter))
    convex.set_faults(http_error_status=None)
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 3
    run.assert_one_clear_error("cannot reach")
    assert rows == []
    assert run.seconds < 6


def test_convex_socket_dropped_mid_run(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
    reference_rows: list[dict[str, Any]],
) -> None:
    scenario.describe(
        CONVEX,
        "the WebSocket is dropped after the 4th client message (mid-upsert, unanswered)",
        "the SDK reconnects and re-sends; exit 0; rows = a clean run's, no duplicates",
    )
    convex.set_faults(drop_after_messages=4)
    run = work.run("--all", "--timeout", "10", env=settings_env(work, convex, openrouter))
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=converged(rows, reference_rows),
    )

    assert run.exit_code == 0, run.stderr
    assert normalized(rows) == reference_rows
    assert convex.stats()["connections"] >= 2
    assert run.seconds < 12


def test_convex_upsert_function_throws(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        CONVEX,
        "upsertModel throws (a plain Error) on every call",
        "each model reported with the error, run completes, exit 1; nothing written",
    )
    convex.set_faults(fail_functions={"mutations/syncModels:upsertModel": "injected failure"})
    run = work.run("--all", env=settings_env(work, convex, openrouter))
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 1
    assert run.stdout.count("injected failure") == len(ALL_IDS)
    assert "Traceback" not in run.stderr
    assert rows == []
    assert run.seconds < 8


def test_convex_history_function_throws(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
    reference_rows: list[dict[str, Any]],
) -> None:
    scenario.describe(
        CONVEX,
        "history:recordSync throws after the upserts",
        "the models land; the failure is reported; exit 1",
    )
    convex.set_faults(fail_functions={"mutations/history:recordSync": "history is down"})
    run = work.run("--all", env=settings_env(work, convex, openrouter))
    rows = db.rows()
    notes = [line for line in (run.stdout + run.stderr).splitlines() if "history is down" in line]
    scenario.measured(
        outcome=_shorten(f"{run.outcome()}; {notes[0].strip() if notes else '(not reported)'}"),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=converged(rows, reference_rows),
    )

    assert run.exit_code == 1
    assert "history is down" in run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    assert normalized(rows) == reference_rows
    assert run.seconds < 8


def test_convex_latency_200ms(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
    reference_rows: list[dict[str, Any]],
) -> None:
    scenario.describe(
        CONVEX,
        "200 ms added before every backend answer",
        "exit 0; rows = a clean run's; time grows with the calls made, nothing times out",
    )
    convex.set_faults(latency_ms=200)
    run = work.run("--all", "--timeout", "5", env=settings_env(work, convex, openrouter))
    convex.set_faults(latency_ms=0)
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=converged(rows, reference_rows),
    )

    assert run.exit_code == 0, run.stderr
    assert normalized(rows) == reference_rows
    assert run.seconds > 0.2 * len(ALL_IDS)  # the latency was really there
    assert run.seconds < 15


def test_convex_is_active_flipped_between_runs(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        CONVEX,
        "a person activates 2 models and deactivates 1 between runs; prices then change",
        "the rerun updates prices, keeps every isActive as the person set it, and alerts on "
        "the active model that got dearer: exit 4",
    )
    seed(work, convex, openrouter, db)
    choices = {PAID[0]: True, FREE[1]: True, PAID[1]: False}
    db.set_active(PAID[1], True)
    for api_id, active in choices.items():
        db.set_active(api_id, active)
    openrouter.serve_json(snapshot_with(_raise_prices))

    run = work.run("--all", env=settings_env(work, convex, openrouter))
    rows = {row["apiIdentifier"]: row for row in db.rows()}
    kept = all(rows[api_id]["isActive"] is active for api_id, active in choices.items())
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(list(rows.values()))}; person's isActive kept: {kept}",
    )

    assert run.exit_code == 4, run.stderr
    assert [line for line in run.stdout.splitlines() if "[ALERT]" in line] == [
        f"  [ALERT] {PAID[0]} — price-increase: input $3/1M → $4/1M, output $15/1M → $20/1M"
    ]
    assert kept
    assert all(not rows[api_id]["isActive"] for api_id in ALL_IDS if api_id not in choices)
    assert rows[PAID[0]]["inputCostPer1MTokens"] == 4.0
    assert run.seconds < 8


def _raise_prices(snapshot: dict[str, Any]) -> None:
    """Every ranked paid model now costs $4 / $20 per million tokens."""
    for api_id in PAID[:2]:
        model_in(snapshot, api_id)["pricing"].update(prompt="0.000004", completion="0.00002")


# --- the guard on active models (issue 19) ----------------------------------------------------

IN_TEN_DAYS = (datetime.now(UTC).date() + timedelta(days=10)).isoformat()


def _guard_changes(snapshot: dict[str, Any]) -> None:
    """OpenRouter raises PAID[0]'s output price, ends FREE[0]'s free promotion, announces
    PAID[1]'s retirement, and raises inactive FREE[1]'s price."""
    model_in(snapshot, PAID[0])["pricing"]["completion"] = "0.000018"
    model_in(snapshot, FREE[0])["pricing"].update(prompt="0.0000004", completion="0.0000016")
    model_in(snapshot, PAID[1])["expiration_date"] = IN_TEN_DAYS
    model_in(snapshot, FREE[1])["pricing"].update(prompt="0.000001", completion="0.000001")


def _alerts(run: CliRun) -> dict[str, list[str]]:
    return {item["apiId"]: item["reasons"] for item in json.loads(run.stdout)["alerts"]}


def test_guard_alerts_on_active_models_only(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        OPENROUTER,
        "3 models activated; OpenRouter raises one's price, ends one's free promotion, "
        "announces one's retirement in 10 days; an inactive one gets dearer",
        "exactly price-increase, now-paid, expiring; exit 4; the prices written; a rerun: "
        "expiring only",
    )
    seed(work, convex, openrouter, db)
    for api_id in (PAID[0], FREE[0], PAID[1]):
        db.set_active(api_id, True)
    openrouter.serve_json(snapshot_with(_guard_changes))
    env = settings_env(work, convex, openrouter)
    run = work.run("--all", "--json", env=env)
    rerun = work.run("--all", "--json", env=env)
    rows = {row["apiIdentifier"]: row for row in db.rows()}
    alerts = _alerts(run) if run.exit_code == 4 else {}
    scenario.measured(
        outcome=_shorten(f"alerts: {alerts}; rerun: {_alerts(rerun)}"),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(list(rows.values()))}; "
        f"{PAID[0]} output price: {rows[PAID[0]].get('outputCostPer1MTokens')}",
    )

    assert run.exit_code == 4, run.stderr
    assert alerts == {PAID[0]: ["price-increase"], FREE[0]: ["now-paid"], PAID[1]: ["expiring"]}
    assert rerun.exit_code == 4 and _alerts(rerun) == {PAID[1]: ["expiring"]}
    assert rows[PAID[0]]["outputCostPer1MTokens"] == 18
    assert run.seconds < 8


def test_guard_without_its_query_still_syncs(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
    reference_rows: list[dict[str, Any]],
) -> None:
    scenario.describe(
        CONVEX,
        "a deployment without queries/aiModels:listActive (functions deployed before the guard)",
        "the sync runs; one warning naming the function to deploy; exit 0",
    )
    missing = "Could not find function for 'queries/aiModels:listActive'"
    convex.set_faults(fail_functions={"queries/aiModels:listActive": missing})
    run = work.run("--all", env=settings_env(work, convex, openrouter))
    rows = db.rows()
    warnings = [line for line in run.stderr.splitlines() if "guard" in line]
    scenario.measured(
        outcome=_shorten(warnings[0] if warnings else run.outcome()),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=converged(rows, reference_rows),
    )

    assert run.exit_code == 0, run.stderr
    assert len(warnings) == 1 and "queries/aiModels:listActive" in warnings[0]
    assert normalized(rows) == reference_rows
    assert run.seconds < 8


def test_guard_query_throws(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
    reference_rows: list[dict[str, Any]],
) -> None:
    scenario.describe(
        CONVEX,
        "queries/aiModels:listActive throws before the upserts",
        "the models land; the guard reported as skipped with the error; exit 1",
    )
    convex.set_faults(fail_functions={"queries/aiModels:listActive": "guard is down"})
    run = work.run("--all", env=settings_env(work, convex, openrouter))
    rows = db.rows()
    notes = [line for line in run.stderr.splitlines() if "guard is down" in line]
    scenario.measured(
        outcome=_shorten(notes[0] if notes else run.outcome()),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=converged(rows, reference_rows),
    )

    assert run.exit_code == 1, run.stderr
    assert len(notes) == 1 and "skipped" in notes[0]
    assert normalized(rows) == reference_rows
    assert run.seconds < 8


def test_guard_deactivation_throws_after_the_sync(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        CONVEX,
        "--deactivate-over-budget: setActive throws after the sync wrote",
        "the sync's writes stay; the failed deactivation reported; the model stays active; exit 1",
    )
    seed(work, convex, openrouter, db)
    db.set_active(PAID[0], True)  # $3 / $18 after the change: over a $10 budget
    db.set_active(FREE[0], True)
    openrouter.serve_json(snapshot_with(_guard_changes))
    convex.set_faults(fail_functions={"mutations/activation:setActive": "setActive is down"})
    flags = ("--all", "--deactivate-over-budget", "--max-cost-per-1m", "10")
    run = work.run(*flags, env=settings_env(work, convex, openrouter))
    rows = {row["apiIdentifier"]: row for row in db.rows()}
    failed = [line.strip() for line in run.stdout.splitlines() if "deactivation failed" in line]
    scenario.measured(
        outcome=_shorten(failed[0] if failed else run.outcome()),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(list(rows.values()))}; {PAID[0]} active: "
        f"{rows[PAID[0]]['isActive']}; new price written: "
        f"{rows[PAID[0]].get('outputCostPer1MTokens') == 18}",
    )

    assert run.exit_code == 1, run.stdout + run.stderr
    assert len(failed) == 1 and PAID[0] in failed[0] and "setActive is down" in failed[0]
    assert rows[PAID[0]]["isActive"] is True and rows[FREE[0]]["isActive"] is True
    assert rows[PAID[0]]["outputCostPer1MTokens"] == 18  # the sync itself landed
    assert "Traceback" not in run.stderr
    assert run.seconds < 8


def test_guard_deactivation_refused_after_the_sync(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        CONVEX,
        "--deactivate-over-budget: after the sync wrote, the deployment refuses setActive "
        "(`Could not find function`: redeployed without it mid-run)",
        "the sync's writes and report stay; the deactivation reported as stopped, with the "
        "hint; the model stays active; exit 1",
    )
    seed(work, convex, openrouter, db)
    db.set_active(PAID[0], True)
    openrouter.serve_json(snapshot_with(_guard_changes))
    missing = "Could not find function for 'mutations/activation:setActive'"
    convex.set_faults(fail_functions={"mutations/activation:setActive": missing})
    flags = ("--all", "--deactivate-over-budget", "--max-cost-per-1m", "10")
    run = work.run(*flags, env=settings_env(work, convex, openrouter))
    rows = {row["apiIdentifier"]: row for row in db.rows()}
    stopped = [line for line in run.stderr.splitlines() if "over-budget stopped" in line]
    scenario.measured(
        outcome=_shorten(stopped[0] if stopped else run.outcome()),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(list(rows.values()))}; {PAID[0]} active: "
        f"{rows[PAID[0]]['isActive']}; new price written: "
        f"{rows[PAID[0]].get('outputCostPer1MTokens') == 18}",
    )

    assert run.exit_code == 1, run.stdout + run.stderr
    assert len(stopped) == 1 and "setActive" in stopped[0], run.stderr
    assert f"[ALERT] {PAID[0]}" in run.stdout  # the sync's own report is intact
    assert rows[PAID[0]]["isActive"] is True
    assert rows[PAID[0]]["outputCostPer1MTokens"] == 18
    assert "Traceback" not in run.stderr
    assert run.seconds < 8


def test_catalog_then_ranked_runs_call_nothing_stale(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        CONVEX,
        "`--all`, `--catalog`, then `--all --deactivate-stale` and `--catalog` again, with "
        "catalog models a person activated",
        "no stale model (OpenRouter lists them all), none deactivated; the mode switches "
        "record no history row; exit 0",
    )
    env = settings_env(work, convex, openrouter)
    assert work.run("--all", env=env).exit_code == 0
    assert work.run("--catalog", env=env).exit_code == 0
    unranked = sorted({str(row["apiIdentifier"]) for row in db.rows()} - set(ALL_IDS))[:2]
    for api_id in unranked:
        db.set_active(api_id, True)
    history = db.call("query", "queries/history:list", {"limit": 8192})["value"]
    ranked = work.run("--all", "--deactivate-stale", "--json", env=env)
    catalog = work.run("--catalog", "--json", env=env)
    after = db.call("query", "queries/history:list", {"limit": 8192})["value"]
    rows = {row["apiIdentifier"]: row for row in db.rows()}
    stale = [json.loads(run.stdout)["stale"] for run in (ranked, catalog)]
    scenario.measured(
        outcome=f"stale: {[len(items) for items in stale]}; history rows added: "
        f"{len(after) - len(history)}",
        exit_code=max(ranked.exit_code, catalog.exit_code),
        seconds=ranked.seconds + catalog.seconds,
        db_check=f"{describe_rows(list(rows.values()))}; activated catalog models still "
        f"active: {all(rows[api_id]['isActive'] for api_id in unranked)}",
    )

    assert ranked.exit_code == 0 and catalog.exit_code == 0, ranked.stderr + catalog.stderr
    assert stale == [[], []]
    assert len(after) == len(history)
    assert len(unranked) == 2 and all(rows[api_id]["isActive"] for api_id in unranked)
    assert ranked.seconds + catalog.seconds < 20


def test_activating_a_model_already_on_and_over_budget(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        INPUT,
        "`activate --max-cost-per-1m 5` on a model already active and above it ($3 / $15)",
        "said to be already active and over budget (not refused), left on; exit 0",
    )
    seed(work, convex, openrouter, db)
    db.set_active(PAID[0], True)
    args = ("activate", PAID[0], "--max-cost-per-1m", "5", "--json")  # no --config-dir
    run = RunningCli(args, settings_env(work, convex, openrouter), work.root).finish(60)
    (result,) = json.loads(run.stdout)["results"] if run.exit_code == 0 else [{}]
    rows = {row["apiIdentifier"]: row for row in db.rows()}
    scenario.measured(
        outcome=_shorten(f"{result.get('outcome')}: {result.get('reason')}"),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(list(rows.values()))}; still active: {rows[PAID[0]]['isActive']}",
    )

    assert run.exit_code == 0, run.stderr
    assert result["outcome"] == "unchanged"
    assert result["reason"].startswith("already active, and over budget: output $15/1M")
    assert rows[PAID[0]]["isActive"] is True
    assert run.seconds < 8


def test_convex_is_active_flipped_during_run(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        CONVEX,
        "a person flips isActive from another client while a run (200 ms latency) is updating",
        "the person's values survive the later upserts of the same rows",
    )
    seed(work, convex, openrouter, db)
    openrouter.serve_json(snapshot_with(_raise_prices))
    convex.set_faults(latency_ms=200)
    committed_before = convex.stats()["mutations"]

    # One call at a time, so that the flip falls between the upserts.
    running = work.start(
        "--all", "--timeout", "5", "--workers", "1", env=settings_env(work, convex, openrouter)
    )
    wait_for_mutations(convex, committed_before + 1)  # the run's first upsert
    db.set_active(PAID[1], True)
    db.set_active(FREE[1], True)  # the last model of the run: its upsert comes after this
    flipped_at_ms = time.time() * 1000
    run = running.finish(30)
    convex.set_faults(latency_ms=0)
    rows = {row["apiIdentifier"]: row for row in db.rows()}
    upserted_after_flip = rows[FREE[1]]["updatedAt"] > flipped_at_ms - 50
    kept = rows[PAID[1]]["isActive"] is True and rows[FREE[1]]["isActive"] is True
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(list(rows.values()))}; person's isActive kept: {kept}; "
        f"last row upserted after the flip: {upserted_after_flip}",
    )

    assert run.exit_code == 0, run.stderr
    assert upserted_after_flip
    assert kept
    assert rows[PAID[1]]["inputCostPer1MTokens"] == 4.0
    assert run.seconds < 15


def test_convex_backend_killed_mid_run_then_rerun(
    scenario: ScenarioRecord,
    work: Workdir,
    openrouter: OpenRouterServer,
    tmp_path: Path,
    reference_rows: list[dict[str, Any]],
) -> None:
    scenario.describe(
        CONVEX,
        "the backend is killed (SIGKILL) mid-run, restarted from its state file, the sync rerun",
        "first run: one clear error within --timeout, exit 3; rerun: exit 0, rows = a clean "
        "run's, a person's isActive kept",
    )
    state = tmp_path / "state.json"
    flags = ("--state-file", str(state))
    with start_local_backend(admin_key=DEPLOY_KEY, latency_ms=150, extra_args=flags) as backend:
        # One call at a time, so that the kill falls between the upserts (all five at once
        # would land in one round trip).
        running = work.start(
            "--all", "--timeout", "2", "--workers", "1", env=settings_env(work, backend, openrouter)
        )
        wait_for_mutations(backend, 2)
        database = Database(backend.url, DEPLOY_KEY)
        database.set_active(PAID[0], True)
        database.close()
        os.killpg(backend.process.pid, signal.SIGKILL)
        killed = running.finish(20)
    with start_local_backend(admin_key=DEPLOY_KEY, extra_args=flags) as restarted:
        database = Database(restarted.url, DEPLOY_KEY)
        survived = len(database.rows())
        rerun = work.run("--all", env=settings_env(work, restarted, openrouter))
        rows = database.rows()
        database.close()
    expected = copy.deepcopy(reference_rows)
    next(row for row in expected if row["apiIdentifier"] == PAID[0])["isActive"] = True
    converged = normalized(rows) == expected
    scenario.measured(
        outcome=f"killed run: {killed.outcome()} ({killed.seconds:.1f} s); "
        f"rerun: {rerun.outcome()}",
        exit_code=rerun.exit_code,
        seconds=killed.seconds + rerun.seconds,
        db_check=f"{survived} rows survived the kill; after the rerun {describe_rows(rows)}; "
        f"equal to a clean run plus the person's isActive: {converged}",
    )

    assert killed.exit_code == 3, killed.stdout + killed.stderr
    # It had answered before the kill: the call that hung may have landed, not "cannot reach".
    killed.assert_one_clear_error("got no answer", "may still have landed", "rerunning is safe")
    assert killed.seconds < 8
    assert 2 <= survived < len(ALL_IDS)
    assert rerun.exit_code == 0, rerun.stderr
    assert converged


def test_convex_stops_answering_mid_run_then_rerun(
    scenario: ScenarioRecord,
    work: Workdir,
    openrouter: OpenRouterServer,
    reference_rows: list[dict[str, Any]],
) -> None:
    scenario.describe(
        CONVEX,
        "the deployment stops answering mid-run (socket open, every answer 60 s late), "
        "--timeout 1; then it recovers and the sync is rerun",
        "first run: one clear error within --timeout, exit 3, earlier rows kept; "
        "rerun: exit 0, rows = a clean run's",
    )
    # Its own backend: the stalled upserts still commit 60 s later, and must not land in
    # another scenario's database.
    with start_local_backend(admin_key=DEPLOY_KEY, latency_ms=100) as backend:
        env = settings_env(work, backend, openrouter)
        # One call at a time, so that the stall falls between the upserts.
        running = work.start("--all", "--timeout", "1", "--workers", "1", env=env)
        wait_for_mutations(backend, 2)
        backend.set_faults(latency_ms=60_000)
        stalled = running.finish(20)
        backend.set_faults(latency_ms=0)
        database = Database(backend.url, DEPLOY_KEY)
        kept = len(database.rows())
        rerun = work.run("--all", env=env)
        rows = database.rows()
        database.close()
    scenario.measured(
        outcome=f"stalled run: {stalled.outcome()} ({stalled.seconds:.1f} s); "
        f"rerun: {rerun.outcome()}",
        exit_code=rerun.exit_code,
        seconds=stalled.seconds + rerun.seconds,
        db_check=f"{kept} rows kept from the stalled run; after the rerun "
        f"{converged(rows, reference_rows)}",
    )

    assert stalled.exit_code == 3
    stalled.assert_one_clear_error("got no answer", "within 1 s", "may still have landed")
    assert stalled.seconds < 8
    assert 2 <= kept < len(ALL_IDS)
    assert rerun.exit_code == 0, rerun.stderr
    assert normalized(rows) == reference_rows


def test_convex_deadline_in_flight_is_sent_no_answer_apart_from_the_unsent(
    scenario: ScenarioRecord,
    work: Workdir,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        CONVEX,
        "after two upserts every answer comes 5 s late, --timeout 1, one call at a time",
        "exit 3; the call cut off in flight is 'sent, no answer (may have landed)', the "
        "models after it 'not attempted'; --json lists them apart",
    )
    with start_local_backend(admin_key=DEPLOY_KEY, latency_ms=100) as backend:
        env = settings_env(work, backend, openrouter)
        running = work.start("--all", "--json", "--timeout", "1", "--workers", "1", env=env)
        wait_for_mutations(backend, 2)
        backend.set_faults(latency_ms=5_000)
        run = running.finish(20)
    document = json.loads(run.stdout)
    unanswered = document.get("unanswered", [])
    unsent = document.get("notAttempted", [])
    results = [result["apiId"] for result in document["results"]]
    scenario.measured(
        outcome=f"exit {run.exit_code}: {len(results)} done, {len(unanswered)} sent with no "
        f"answer, {len(unsent)} not attempted ({run.seconds:.1f} s)",
        exit_code=run.exit_code,
        seconds=run.seconds,
    )

    assert run.exit_code == 3
    assert document["error"]["code"] == "convex_deadline"
    assert len(unanswered) == 1 and len(unsent) >= 1
    assert results + unanswered + unsent == ALL_IDS  # in order, each once
    assert document["summary"]["unanswered"] == 1
    assert document["summary"]["total"] == len(ALL_IDS)
    assert run.seconds < 8


def test_convex_batch_function_throws_for_every_item(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        CONVEX,
        "--catalog while upsertModels throws on every call, 100 ms latency",
        "each model reported with the error, exit 1, within 10 s (a few calls, not ~2 per "
        "model); nothing written",
    )
    convex.set_faults(
        latency_ms=100,
        fail_functions={"mutations/syncModels:upsertModels": "injected failure"},
    )
    run = work.run("--catalog", "--json", env=settings_env(work, convex, openrouter))
    document = json.loads(run.stdout)
    results = document["results"]
    failed = [r for r in results if "injected failure" in r.get("error", "")]
    rows = db.rows()
    scenario.measured(
        outcome=f"exit {run.exit_code}: {len(failed)} of {len(results)} models reported with "
        f"the error ({run.seconds:.1f} s)",
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 1
    assert len(results) > 300 and len(failed) == len(results) == document["summary"]["errors"]
    assert rows == []
    assert run.seconds < 10


def test_convex_socket_dropped_during_catalog_still_counts_inserts(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        CONVEX,
        "--catalog into an empty deployment with the WebSocket dropped after its Nth client "
        "message (N = 1..8: the batch mutation among them, committed but unanswered, so the "
        "SDK resends it)",
        "each run: exit 0, the report's inserted = the rows created, updated 0",
    )
    env = settings_env(work, convex, openrouter)
    outcomes: list[tuple[int, int, int, int]] = []
    for messages in range(1, 9):
        convex.reset()
        convex.set_faults(drop_after_messages=messages)
        run = work.run("--catalog", "--json", env=env)
        summary = json.loads(run.stdout)["summary"]
        outcomes.append((run.exit_code, summary["inserted"], summary["updated"], len(db.rows())))
    scenario.measured(
        outcome="; ".join(
            f"N={n}: exit {code}, inserted {inserted}, updated {updated}"
            for n, (code, inserted, updated, _rows) in enumerate(outcomes, 1)
        ),
        exit_code=max(code for code, *_ in outcomes),
        seconds=None,
        db_check="rows created per run: " + ", ".join(str(rows) for *_, rows in outcomes),
    )

    for code, inserted, updated, rows in outcomes:
        assert code == 0
        assert (inserted, updated) == (rows, 0) and rows > 300


def test_interrupted_with_ctrl_c_then_rerun(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
    reference_rows: list[dict[str, Any]],
) -> None:
    scenario.describe(
        CONVEX,
        "SIGINT (Ctrl-C, or a cancelled CI job) mid-run, 500 ms latency; then a rerun",
        "stops within 2 s: exit 130, no traceback; rerun: exit 0, rows = a clean run's",
    )
    convex.set_faults(latency_ms=500)
    env = settings_env(work, convex, openrouter)
    committed_before = convex.stats()["mutations"]
    # One call at a time, so that the signal falls between the upserts.
    running = work.start("--all", "--timeout", "5", "--workers", "1", env=env)
    wait_for_mutations(convex, committed_before + 2)
    running.process.send_signal(signal.SIGINT)
    signalled_at = time.monotonic()
    interrupted = running.finish(20)
    stop_s = time.monotonic() - signalled_at
    convex.set_faults(latency_ms=0)
    time.sleep(0.6)  # an upsert already in the backend's queue commits after the delay
    kept = len(db.rows())
    rerun = work.run("--all", env=env)
    rows = db.rows()
    scenario.measured(
        outcome=f"interrupted: exit {interrupted.exit_code}, stopped {stop_s:.1f} s after "
        f"SIGINT, stderr ends {interrupted.stderr.strip().splitlines()[-1:]}; "
        f"rerun: {rerun.outcome()}",
        exit_code=rerun.exit_code,
        seconds=interrupted.seconds + rerun.seconds,
        db_check=f"{kept} rows after the interrupt; after the rerun "
        f"{converged(rows, reference_rows)}",
    )

    assert interrupted.exit_code == 130
    assert "Traceback" not in interrupted.stderr
    assert stop_s < 2
    assert 2 <= kept < len(ALL_IDS)
    assert rerun.exit_code == 0, rerun.stderr
    assert normalized(rows) == reference_rows


def test_two_syncs_at_once(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
    reference_rows: list[dict[str, Any]],
) -> None:
    scenario.describe(
        CONVEX,
        "two `--all` runs started together (a scheduled and a manual one), 50 ms latency",
        "both exit 0; one row per model, rows = a clean run's",
    )
    convex.set_faults(latency_ms=50)
    env = settings_env(work, convex, openrouter)
    first, second = (work.start("--all", env=env) for _ in range(2))
    runs = [first.finish(30), second.finish(30)]
    convex.set_faults(latency_ms=0)
    rows = db.rows()
    scenario.measured(
        outcome=" / ".join(run.outcome() for run in runs),
        exit_code=max(run.exit_code for run in runs),
        seconds=max(run.seconds for run in runs),
        db_check=converged(rows, reference_rows),
    )

    assert [run.exit_code for run in runs] == [0, 0], [run.stderr for run in runs]
    assert normalized(rows) == reference_rows
    assert max(run.seconds for run in runs) < 15


# --- bad input -------------------------------------------------------------------------------


def free_list(*entries: str) -> str:
    """topFreeModels.ts text with these entry lines (the first on line 2)."""
    return "export const TOP_FREE_MODELS = [\n" + "".join(f"  {e}\n" for e in entries) + "];\n"


MALFORMED: dict[str, tuple[str, str, int]] = {
    "unclosed-list": (
        "the list is never closed",
        'export const TOP_FREE_MODELS = [\n  { apiId: "a/b", rank: 1 },\n',
        3,
    ),
    "unquoted-id": (
        "an apiId without quotes",
        "export const TOP_FREE_MODELS = [\n  { apiId: a/b, rank: 1 },\n] as const;\n",
        2,
    ),
    "rank-not-number": (
        "a rank that is a string",
        free_list('{ apiId: "a/b", rank: 1 },', '{ apiId: "c/d", rank: "2" },'),
        3,
    ),
    "missing-rank": (
        "an entry without rank",
        'export const TOP_FREE_MODELS = [\n  { apiId: "a/b" },\n];\n',
        2,
    ),
    "duplicate-id": (
        "the same apiId twice",
        free_list('{ apiId: "a/b", rank: 1 },', '{ apiId: "a/b", rank: 2 },'),
        3,
    ),
    "duplicate-rank": (
        "the same rank twice",
        free_list('{ apiId: "a/b", rank: 1 },', '{ apiId: "c/d", rank: 1 },'),
        3,
    ),
    "whitespace-id": (
        "an apiId holding a tab and a space",
        free_list('{ apiId: "tab\\tand space/x", rank: 1 },'),
        2,
    ),
    "not-utf8": ("bytes that are not UTF-8", "", 0),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_config_names_file_and_line(
    case: str,
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    description, text, line = MALFORMED[case]
    scenario.describe(
        INPUT,
        f"topFreeModels.ts: {description}",
        "one error naming file (and line), exit 2; no request",
    )
    path = work.config_dir / "topFreeModels.ts"
    if case == "not-utf8":
        path.write_bytes(
            b'export const TOP_FREE_MODELS = [\n  { apiId: "\xff\xfe", rank: 1 },\n];\n'
        )
    else:
        path.write_text(text)

    run = work.run("--free", env=settings_env(work, convex, openrouter))
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(db.rows()),
    )

    assert run.exit_code == 2
    run.assert_one_clear_error("topFreeModels.ts" + (f":{line}" if line else ""))
    assert openrouter.request_count == 0
    assert run.seconds < 5


def test_ranked_list_file_missing(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        INPUT,
        "topFreeModels.ts missing (run outside the project, or a wrong --config-dir)",
        "one error naming the file and how to fix it, exit 2; no request; nothing written",
    )
    (work.config_dir / "topFreeModels.ts").unlink()

    run = work.run("--free", env=settings_env(work, convex, openrouter))
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 2
    run.assert_one_clear_error("topFreeModels.ts", "not found")
    assert "--config-dir" in run.stderr
    assert openrouter.request_count == 0
    assert rows == []
    assert run.seconds < 5


@pytest.mark.posix_only(reason="creates a FIFO with os.mkfifo, which Windows does not have")
def test_ranked_list_file_is_a_fifo(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        INPUT,
        "topFreeModels.ts is a named pipe (FIFO) nobody writes to",
        "one error naming the file, exit 2, at once (never waits for a writer); nothing written",
    )
    fifo = work.config_dir / "topFreeModels.ts"
    fifo.unlink()
    os.mkfifo(fifo)

    run = work.run("--free", env=settings_env(work, convex, openrouter), timeout_s=10)
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 2
    run.assert_one_clear_error("topFreeModels.ts", "not a regular file (a named pipe)")
    assert openrouter.request_count == 0
    assert rows == []
    assert run.seconds < 5


def test_odd_characters_round_trip(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    odd_ids = [
        "ünïcødé/模型-名前:free",
        'quote"and\\backslash/x',
        "emoji/🚀-model",
        "zero\u200bwidth/and-rtl-\u202e",
    ]
    scenario.describe(
        INPUT,
        "ids and names with non-ASCII, quotes, backslashes, emoji, zero-width/RTL marks",
        "synced byte for byte; exit 0",
    )
    template = model_in(load_snapshot(SNAPSHOT), FREE[0])
    catalog = {
        "data": [
            {**template, "id": api_id, "name": f"Name «{api_id}» \u202ertl"} for api_id in odd_ids
        ]
    }
    openrouter.serve_json(catalog)
    work.write_list("topFreeModels.ts", "TOP_FREE_MODELS", odd_ids)

    run = work.run("--free", env=settings_env(work, convex, openrouter))
    rows = db.rows()
    stored = {row["apiIdentifier"]: row["modelName"] for row in rows}
    exact = stored == {api_id: f"Name «{api_id}» \u202ertl" for api_id in odd_ids}
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(rows)}; ids and names exact: {exact}",
    )

    assert run.exit_code == 0, run.stderr
    assert exact
    assert run.seconds < 8


def test_one_megabyte_id(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    huge = "provider/" + "x" * 1_000_000
    scenario.describe(
        INPUT,
        "a ranked id 1 MB long",
        "one clear error naming file, line and the length, exit 2; nothing written",
    )
    work.write_list("topFreeModels.ts", "TOP_FREE_MODELS", [FREE[0], huge])

    run = work.run("--free", env=settings_env(work, convex, openrouter))
    rows = db.rows()
    output_kb = (len(run.stdout) + len(run.stderr)) / 1000
    scenario.measured(
        outcome=f"{run.outcome()}; {output_kb:,.0f} KB of output",
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 2
    run.assert_one_clear_error("topFreeModels.ts", "1,000,009 characters long")
    assert output_kb < 1  # the id is not echoed
    assert rows == []
    assert run.seconds < 10


def test_self_hosted_variables_in_env_local(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
    reference_rows: list[dict[str, Any]],
) -> None:
    scenario.describe(
        INPUT,
        "only CONVEX_SELF_HOSTED_URL and CONVEX_SELF_HOSTED_ADMIN_KEY, in .env.local "
        "(the self-hosted convention of `npx convex`)",
        "they name the deployment and the admin key: exit 0; rows = a clean run's",
    )
    (work.root / ".env.local").write_text(
        f"CONVEX_SELF_HOSTED_URL={convex.url}\nCONVEX_SELF_HOSTED_ADMIN_KEY={DEPLOY_KEY}\n"
    )
    run = work.run("--all", env=settings_env(work, None, openrouter, CONVEX_DEPLOY_KEY=None))
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=converged(rows, reference_rows),
    )

    assert run.exit_code == 0, run.stderr
    assert normalized(rows) == reference_rows
    assert run.seconds < 20


def test_unknown_sync_model_list(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        INPUT, "SYNC_MODEL_LIST=everything", "one error naming the value, exit 2; nothing written"
    )
    run = work.run(env=settings_env(work, convex, openrouter, SYNC_MODEL_LIST="everything"))
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 2
    run.assert_one_clear_error("SYNC_MODEL_LIST", "everything")
    assert openrouter.request_count == 0
    assert rows == []
    assert run.seconds < 5


CONFLICTING = {
    "free-and-paid": ("--free", "--paid"),
    "catalog-and-free": ("--catalog", "--free"),
}


@pytest.mark.parametrize("case", list(CONFLICTING))
def test_conflicting_flags(
    case: str,
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    flags = CONFLICTING[case]
    scenario.describe(
        INPUT, f"{' and '.join(flags)} together", "one usage error, exit 2; nothing written"
    )
    run = work.run(*flags, env=settings_env(work, convex, openrouter))
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 2
    run.assert_one_clear_error(*flags)
    assert openrouter.request_count == 0
    assert rows == []
    assert run.seconds < 5


ENV_FILES: dict[str, tuple[str, Callable[[Path], object], str]] = {
    "missing": ("--env-file that does not exist", lambda path: None, "does not exist"),
    "directory": ("--env-file that is a directory", lambda path: path.mkdir(), "cannot read"),
    "not-utf8": (
        "--env-file with bytes that are not UTF-8",
        lambda path: path.write_bytes(b"CONVEX_URL=\xff\xfe\n"),
        "cannot read",
    ),
}


@pytest.mark.parametrize("case", list(ENV_FILES))
def test_unreadable_env_file(
    case: str, scenario: ScenarioRecord, work: Workdir, openrouter: OpenRouterServer
) -> None:
    description, make, fragment = ENV_FILES[case]
    scenario.describe(INPUT, description, "one error naming the file, exit 2")
    path = work.root / "broken.env"
    make(path)
    run = work.run("--free", "--env-file", str(path), env=work.env())
    scenario.measured(outcome=run.outcome(), exit_code=run.exit_code, seconds=run.seconds)

    assert run.exit_code == 2
    run.assert_one_clear_error(fragment, "broken.env")
    assert openrouter.request_count == 0
    assert run.seconds < 5


# --- security --------------------------------------------------------------------------------


INTERNAL_FUNCTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "mutations/syncModels:upsertModel": (
        "mutation",
        {"apiIdentifier": "x/y", "modelName": "X", "provider": "x", "slug": "x-y", "isFree": True},
    ),
    "mutations/syncModels:upsertModels": ("mutation", {"models": []}),
    "mutations/activation:setActive": ("mutation", {"apiIdentifier": FREE[0], "isActive": True}),
    "mutations/history:recordSync": ("mutation", {"entries": [{"apiIdentifier": FREE[0]}]}),
    "queries/aiModels:list": ("query", {}),
    "queries/aiModels:listActive": ("query", {}),
    "queries/history:list": ("query", {}),
}


@pytest.mark.parametrize("path", list(INTERNAL_FUNCTIONS))
def test_anonymous_client_cannot_call(
    path: str, scenario: ScenarioRecord, convex: LocalBackend, db: Database
) -> None:
    from convex import ConvexClient

    scenario.describe(
        SECURITY,
        f"an anonymous client calls {path} (SDK over WebSocket, and HTTP)",
        "`Could not find public function`; nothing written",
    )
    kind, args = INTERNAL_FUNCTIONS[path]
    started = time.monotonic()
    anonymous_http = Database(convex.url, None).call(kind, path, args)
    client = ConvexClient(convex.url)
    try:
        with deadline(10):  # the SDK has no timeout of its own
            getattr(client, kind)(path, args)
        sdk_message = "(succeeded)"
    except Exception as error:  # the SDK raises a plain Exception for a missing function
        sdk_message = str(error)
    seconds = time.monotonic() - started
    rows = db.rows()
    scenario.measured(
        outcome=_shorten(sdk_message.split(". Did you")[0]),
        exit_code=None,
        seconds=seconds,
        db_check=describe_rows(rows),
    )

    assert anonymous_http["status"] == "error"
    assert "Could not find public function" in anonymous_http["errorMessage"]
    assert "Could not find public function" in sdk_message
    assert rows == []


PLAIN_HTTP = {
    "CONVEX_URL": (
        "CONVEX_URL=http://example.com (plain http, not loopback)",
        "http://example.com",
    ),
    "OPENROUTER_BASE_URL": (
        "OPENROUTER_BASE_URL=http://10.1.2.3/api/v1 (plain http, not loopback)",
        "http://10.1.2.3/api/v1",
    ),
}


@pytest.mark.parametrize("variable", list(PLAIN_HTTP))
def test_plain_http_to_non_loopback_refused(
    variable: str,
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    description, url = PLAIN_HTTP[variable]
    scenario.describe(SECURITY, description, "refused before any connection: one error, exit 2")
    run = work.run("--free", env=settings_env(work, convex, openrouter, **{variable: url}))
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 2
    run.assert_one_clear_error(variable, "http")
    assert openrouter.request_count == 0
    assert rows == []
    assert run.seconds < 5


EVALUATED = {
    "template-literal": "  { apiId: `${process.exit()}`, rank: 1 },\n",
    "function-call": '  { apiId: require("child_process").execSync("touch PWNED"), rank: 1 },\n',
    "spread-call": '  ...(() => { require("fs").writeFileSync("PWNED", ""); return []; })(),\n',
}


@pytest.mark.parametrize("case", list(EVALUATED))
def test_config_parser_evaluates_nothing(
    case: str,
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    entry = EVALUATED[case]
    scenario.describe(
        SECURITY,
        f"a ranked list holding code ({case}: {entry.strip()[:48]})",
        "one error naming file and line 2, exit 2; nothing executed",
    )
    (work.config_dir / "topFreeModels.ts").write_text(
        f"export const TOP_FREE_MODELS = [\n{entry}];\n"
    )
    run = work.run("--free", env=settings_env(work, convex, openrouter))
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 2
    run.assert_one_clear_error("topFreeModels.ts:2")
    assert not (work.root / "PWNED").exists()
    assert openrouter.request_count == 0
    assert rows == []
    assert run.seconds < 5


SWAPPED = {
    "CONVEX_URL": ("the deploy key pasted into CONVEX_URL", DEPLOY_KEY),
    "OPENROUTER_BASE_URL": ("the OpenRouter key pasted into OPENROUTER_BASE_URL", OPENROUTER_KEY),
}


@pytest.mark.parametrize("variable", list(SWAPPED))
def test_secret_in_the_wrong_variable_is_not_echoed(
    variable: str,
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    description, secret = SWAPPED[variable]
    scenario.describe(
        SECURITY, description, "one error naming the variable, exit 2; the key not shown"
    )
    run = work.run("--free", env=settings_env(work, convex, openrouter, **{variable: secret}))
    rows = db.rows()
    scenario.measured(
        outcome=run.outcome(),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 2
    run.assert_one_clear_error(variable)
    assert openrouter.request_count == 0
    assert rows == []
    assert run.seconds < 5


MALFORMED_KEYS = {
    "OPENROUTER_API_KEY": (
        "OPENROUTER_API_KEY with a line break inside (a header injection), --json",
        OPENROUTER_KEY.replace("-key-", "-key-\nX-Evil: 1-"),
    ),
    "CONVEX_DEPLOY_KEY": (
        "CONVEX_DEPLOY_KEY with a non-ASCII character inside, --json",
        DEPLOY_KEY.replace("-key-", "-key-\u00e9-"),
    ),
}


@pytest.mark.parametrize("variable", list(MALFORMED_KEYS))
def test_a_key_with_a_bad_character_is_refused_unshown(
    variable: str,
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    description, key = MALFORMED_KEYS[variable]
    scenario.describe(
        SECURITY,
        description,
        "one error naming the variable and the position, exit 2; no request; no form of the key",
    )
    run = work.run(
        "--free", "--json", env=settings_env(work, convex, openrouter, **{variable: key})
    )
    document = json.loads(run.stdout)
    rows = db.rows()
    scenario.measured(
        outcome=_shorten(document["error"]["message"]),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 2
    assert document["error"]["message"].startswith(f"{variable} (from the environment) holds")
    assert "at character" in document["error"]["message"]
    assert openrouter.request_count == 0
    assert rows == []
    assert run.seconds < 5


def test_json_mode_error_document_has_no_secrets(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        SECURITY,
        "--json with a wrong deploy key",
        "one JSON error document on stdout, exit 3; no key in it",
    )
    env = settings_env(work, convex, openrouter, CONVEX_DEPLOY_KEY=WRONG_DEPLOY_KEY)
    run = work.run("--all", "--json", "--timeout", "2", env=env)
    document = json.loads(run.stdout)
    rows = db.rows()
    scenario.measured(
        outcome=_shorten(json.dumps(document.get("error"), ensure_ascii=False)),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(rows),
    )

    assert run.exit_code == 3
    assert document["error"]["code"] and document["error"]["message"]
    assert rows == []
    assert run.seconds < 6


# --- untrusted text (issue 16) ----------------------------------------------------------------

#: Retitle the window, write the clipboard, a lying link, clear the screen, C1 CSI, rich
#: markup, a carriage return and backspace that overwrite the line, DEL, an RTL override.
HOSTILE = (
    "\x1b]0;pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b]8;;https://evil.example\x1b\\docs\x1b]8;;\x1b\\"
    "\x1b[2J\x1b[H\x9b31m[bold red]markup[/bold red]\rFAKE\x08\x7f\u202e"
)
HOSTILE_NAME = f"Qwen3 Coder {HOSTILE}\nsecond line"
HOSTILE_DESCRIPTION = f"A model.\r\n[ERR] fake line {HOSTILE}"
#: A catalog id (in no ranked list) and a price string holding control sequences.
HOSTILE_ID = "evil/\x1b[2Jmodel\x07"
HOSTILE_PRICE_ID = "anthropic/claude-3-haiku"
HOSTILE_PRICE = "0.00000025\x1b[2J"
HOSTILE_SHOWN = "\\x1b]0;pwned\\x07"  # how HOSTILE's start prints


def hostile_snapshot() -> dict[str, Any]:
    """The matrix snapshot with HOSTILE in a ranked model's name and description, a model
    whose id holds control sequences, and a price string holding them."""

    def change(snapshot: dict[str, Any]) -> None:
        ranked = model_in(snapshot, FREE[0])
        ranked["name"], ranked["description"] = HOSTILE_NAME, HOSTILE_DESCRIPTION
        model_in(snapshot, HOSTILE_PRICE_ID)["pricing"]["prompt"] = HOSTILE_PRICE
        snapshot["data"].append({**copy.deepcopy(model_in(snapshot, FREE[1])), "id": HOSTILE_ID})

    return snapshot_with(change)


def seed_hostile_rows(db: Database) -> None:
    """A row and two history entries whose id holds control sequences, as Convex could hold
    them (written by another client or an older version): `status` and `history` show them."""
    row = {"apiIdentifier": HOSTILE_ID, "modelName": HOSTILE_NAME, "provider": "evil"}
    body = db.call(
        "mutation", "mutations/syncModels:upsertModel", {**row, "slug": "evil", "isFree": False}
    )
    assert body["status"] == "success", body
    for cost in (1.0, 2.0):
        entry = {"apiIdentifier": HOSTILE_ID, "inputCostPer1MTokens": cost}
        body = db.call("mutation", "mutations/history:recordSync", {"entries": [entry]})
        assert body["status"] == "success", body


#: case → (what runs, the args, the exit code, a fragment stdout or stderr must show).
#: `--catalog` reports HOSTILE_ID (and the hostile price) as their models' own errors: see
#: test_hostile_id_is_its_own_error.
HOSTILE_ID_ERROR = "[ERR] evil/\\x1b[2Jmodel\\x07 — malformed id"
HOSTILE_RUNS: dict[str, tuple[str, tuple[str, ...], int, str]] = {
    "free-dry-run": ("`--free --dry-run`", ("--free", "--dry-run"), 0, HOSTILE_SHOWN),
    "free": ("`--free`", ("--free",), 0, "[NEW] [FREE] qwen/qwen3-coder:free"),
    "catalog-dry-run": ("`--catalog --dry-run`", ("--catalog", "--dry-run"), 1, HOSTILE_ID_ERROR),
    "catalog": ("`--catalog`", ("--catalog",), 1, HOSTILE_ID_ERROR),
    "model": (
        "`--model <that id>`",
        ("--model", HOSTILE_ID),
        2,
        'error: --model "evil/\\u001b[2Jmodel\\u0007" holds whitespace or control characters',
    ),
    "status": ("`status` (a row with that id)", ("status",), 0, "evil/\\x1b[2Jmodel\\x07"),
    "history": ("`history` (its history)", ("history",), 0, "evil/\\x1b[2Jmodel\\x07"),
    "doctor": ("`doctor`", ("doctor",), 0, "ok       openrouter"),
}


@pytest.mark.parametrize("case", list(HOSTILE_RUNS))
def test_hostile_text_is_shown_escaped(
    case: str,
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    what, args, exit_code, shown = HOSTILE_RUNS[case]
    scenario.describe(
        SECURITY,
        f"{what} with control sequences in a ranked model's name and description, "
        "a catalog id and a price string",
        "no raw control character on stdout or stderr: each shown escaped (`\\x1b`)",
    )
    env = settings_env(work, convex, openrouter)
    if case == "free-dry-run":  # a dry run shows the fields it would change in a stored row
        assert work.run("--free", env=env).exit_code == 0
    if case in ("status", "history"):
        seed_hostile_rows(db)
    openrouter.serve_json(hostile_snapshot())

    if case in ("history", "status"):  # the commands without --config-dir
        run = RunningCli(args, env, work.root).finish(60)
    else:
        run = work.run(*args, env=env)
    raw = raw_controls(run.stdout) + raw_controls(run.stderr)
    rows = {row["apiIdentifier"]: row for row in db.rows()}
    ranked = rows.get(FREE[0], {})
    exact = (ranked.get("modelName"), ranked.get("description")) == (
        HOSTILE_NAME,
        HOSTILE_DESCRIPTION,
    )
    scenario.measured(
        outcome=_shorten(f"{run.outcome()}; raw control characters printed: {len(raw)}"),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(list(rows.values()))}"
        + (f"; hostile name and description stored exactly: {exact}" if case == "free" else ""),
    )

    assert raw == [], (run.stdout, run.stderr)
    assert shown in run.stdout + run.stderr, (run.stdout, run.stderr)
    assert run.exit_code == exit_code, run.stderr
    assert "Traceback" not in run.stderr
    if case == "free":
        assert exact
    assert run.seconds < 20


def test_hostile_id_is_its_own_error(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        SECURITY,
        "`--catalog` with a listed id holding control sequences and a price string holding them",
        "each its model's own error (malformed id shown escaped; the price named), exit 1; "
        "neither stored, every other model synced",
    )
    snapshot = hostile_snapshot()
    openrouter.serve_json(snapshot)

    run = work.run("--catalog", env=settings_env(work, convex, openrouter))
    rows = {row["apiIdentifier"]: row for row in db.rows()}
    error_lines = [line for line in run.stdout.splitlines() if line.startswith("[ERR]")]
    listed = {model["id"] for model in snapshot["data"]}
    scenario.measured(
        outcome=_shorten("; ".join(error_lines)),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"{describe_rows(list(rows.values()))}; hostile id stored: {HOSTILE_ID in rows}",
    )

    assert run.exit_code == 1, run.stderr
    assert len(error_lines) == 2, run.stdout
    (id_error,) = [line for line in error_lines if "malformed id" in line]
    assert "evil/\\x1b[2Jmodel\\x07" in id_error
    assert any(HOSTILE_PRICE_ID in line and "pricing.prompt" in line for line in error_lines)
    assert raw_controls(run.stdout) + raw_controls(run.stderr) == []
    assert HOSTILE_ID not in rows
    assert HOSTILE_PRICE_ID not in rows
    assert set(rows) == listed - {HOSTILE_ID, HOSTILE_PRICE_ID}
    assert run.seconds < 30


def test_hostile_text_comes_back_exact_in_json(
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    scenario.describe(
        SECURITY,
        "`--free --dry-run --json` with control sequences in a ranked model's name and description",
        "the planned name and description exact in the document; no raw control character",
    )
    openrouter.serve_json(hostile_snapshot())
    run = work.run("--free", "--dry-run", "--json", env=settings_env(work, convex, openrouter))
    document = json.loads(run.stdout)
    result = next(r for r in document["results"] if r["apiId"] == FREE[0])
    planned = {change["field"]: change["after"] for change in result["changes"]}
    exact = (planned["modelName"], planned["description"]) == (HOSTILE_NAME, HOSTILE_DESCRIPTION)
    raw = raw_controls(run.stdout) + raw_controls(run.stderr)
    scenario.measured(
        outcome=f"name and description exact: {exact}; raw control characters: {len(raw)}",
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(db.rows()),
    )

    assert run.exit_code == 0, run.stderr
    assert exact
    assert raw == []
    assert run.seconds < 10


HOSTILE_ERROR_RUNS = {
    "text": ("", ("--free",)),
    "json": (", `--json`", ("--free", "--json")),
    "doctor": (", `doctor`", ("doctor",)),
}


@pytest.mark.parametrize("case", list(HOSTILE_ERROR_RUNS))
def test_hostile_openrouter_error_message(
    case: str,
    scenario: ScenarioRecord,
    work: Workdir,
    convex: LocalBackend,
    db: Database,
    openrouter: OpenRouterServer,
) -> None:
    what, args = HOSTILE_ERROR_RUNS[case]
    scenario.describe(
        SECURITY,
        f"OpenRouter refuses (HTTP 403) with control sequences in its error message{what}",
        {
            "text": "one `error:` line, the message shown escaped",
            "json": "the message exact in the JSON error document",
            "doctor": "the openrouter check fails, the message shown escaped",
        }[case],
    )
    message = f"Forbidden {HOSTILE}"
    openrouter.enqueue(Respond.error(403, message))
    run = work.run(*args, env=settings_env(work, convex, openrouter))
    raw = raw_controls(run.stdout) + raw_controls(run.stderr)
    scenario.measured(
        outcome=_shorten(f"{run.outcome()}; raw control characters printed: {len(raw)}"),
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=describe_rows(db.rows()),
    )

    assert raw == [], (run.stdout, run.stderr)
    assert run.exit_code != 0
    if case == "json":
        error = json.loads(run.stdout)["error"]
        assert "Forbidden \x1b]0;pwned\x07" in error["message"]
    elif case == "text":
        run.assert_one_clear_error("Forbidden " + HOSTILE_SHOWN)
    else:
        assert "fail     openrouter" in run.stdout and HOSTILE_SHOWN in run.stdout, run.stdout
    assert run.seconds < 10


def test_rankings_credit_their_source(scenario: ScenarioRecord, work: Workdir) -> None:
    scenario.describe(
        OPENROUTER,
        "`rankings --paid`: OpenRouter's rankings data is licensed CC BY 4.0",
        "the source and licence printed and written into the rewritten list file; exit 0",
    )
    attribution = "Ranking data: OpenRouter (openrouter.ai/rankings), CC BY 4.0"
    rows = [
        ranking_row(day, permaslug, tokens)
        for day in ("2026-11-25", "2026-11-26")
        for permaslug, tokens in (
            ("anthropic/claude-4.5-sonnet-20250929", 9000),
            ("openai/gpt-4o", 7000),
            ("qwen/qwen3-coder-480b-a35b-07-25", 6000),
        )
    ]
    with RankingsServer(api_key=OPENROUTER_KEY) as server:
        server.set_models(load_snapshot(SNAPSHOT)["data"]).set_rows(rows)
        run = work.run("rankings", "--paid", env=settings_env(work, None, server.base_url))
    written = (work.config_dir / "topPaidModels.ts").read_text(encoding="utf-8")
    printed, in_file = attribution in run.stdout, f"// {attribution}\n" in written
    scenario.measured(
        outcome=f"attribution printed: {printed}",
        exit_code=run.exit_code,
        seconds=run.seconds,
        db_check=f"no database; topPaidModels.ts rewritten with the attribution line: {in_file}",
    )

    assert run.exit_code == 0, run.stderr
    assert printed and in_file
    assert "openai/gpt-4o" in written
    assert run.seconds < 10
