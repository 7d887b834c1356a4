"""The Convex worker processes, seen from outside: the real CLI as a subprocess against the local
backend and a loopback OpenRouter. No worker outlives a run, however it ends, and no signal
timer is needed (a `signal` module without SIGALRM, as on Windows, still syncs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import psutil
import pytest
from support.local_backend import REPO_ROOT, LocalBackend
from support.openrouter_server import OpenRouterServer, load_snapshot

SNAPSHOT = "models-2025-12-02.json"
WRONG_KEY = "prod:wrong-deployment|0123456789abcdef0123456789abcdef"
# Takes from `signal` what Windows lacks; loaded at interpreter start-up (the workers' too).
NO_ALARM = """import signal
for name in ("SIGALRM", "setitimer", "getitimer", "ITIMER_REAL", "alarm"):
    if hasattr(signal, name):
        delattr(signal, name)
"""


def ranked_ids(count: int) -> list[str]:
    return [model["id"] for model in load_snapshot(SNAPSHOT)["data"][:count]]


def write_lists(config_dir: Path, paid: Sequence[str]) -> None:
    config_dir.mkdir(exist_ok=True)
    for file_name, constant, ids in (
        ("topPaidModels.ts", "TOP_PAID_MODELS", paid),
        ("topFreeModels.ts", "TOP_FREE_MODELS", []),
    ):
        entries = "\n".join(
            f"  {{ apiId: {json.dumps(i)}, rank: {n} }}," for n, i in enumerate(ids, 1)
        )
        (config_dir / file_name).write_text(
            f"export const {constant} = [\n{entries}\n] as const;\n"
        )


class Cli:
    """`python -m sync_client` in `workdir`, watched: every descendant it ever had is kept."""

    def __init__(self, workdir: Path, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sync_client", *args, "--config-dir", str(workdir / "config")],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started = time.monotonic()
        self.seen: dict[int, psutil.Process] = {}

    def watch(self) -> None:
        try:
            for child in psutil.Process(self.process.pid).children(recursive=True):
                self.seen.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass

    def watch_until(self, condition_met: bool | None = None, seconds: float = 20) -> None:
        give_up = time.monotonic() + seconds
        while time.monotonic() < give_up and self.process.poll() is None:
            self.watch()
            if condition_met:
                return
            time.sleep(0.02)

    def finish(self, timeout_s: float = 60) -> tuple[int, str, str]:
        give_up = time.monotonic() + timeout_s
        while self.process.poll() is None and time.monotonic() < give_up:
            self.watch()
            time.sleep(0.02)
        stdout, stderr = self.process.communicate(timeout=max(1.0, give_up - time.monotonic()))
        return self.process.returncode, stdout, stderr


def alive(processes: dict[int, psutil.Process], within_s: float = 0.0) -> list[int]:
    """The pids still running (a zombie has ended) once `within_s` has passed."""
    give_up = time.monotonic() + within_s
    while True:
        running = []
        for pid, process in processes.items():
            try:
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    running.append(pid)
            except psutil.NoSuchProcess:
                continue
        if not running or time.monotonic() >= give_up:
            return running
        time.sleep(0.05)


@pytest.fixture
def workdir(tmp_path: Path, openrouter_server: OpenRouterServer) -> Path:
    openrouter_server.serve_snapshot(SNAPSHOT)
    write_lists(tmp_path / "config", ranked_ids(5))
    return tmp_path


def cli_env(
    workdir: Path, backend: LocalBackend, openrouter: OpenRouterServer, *, key: str | None = None
) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(REPO_ROOT),
        "CONVEX_URL": backend.url,
        "CONVEX_DEPLOY_KEY": key or backend.admin_key,
        "OPENROUTER_BASE_URL": openrouter.base_url,
    }


def test_no_worker_is_left_after_a_successful_run(
    workdir: Path, backend: LocalBackend, openrouter_server: OpenRouterServer
) -> None:
    backend.set_faults(latency_ms=100)  # slow calls: the pool grows past one worker
    cli = Cli(workdir, cli_env(workdir, backend, openrouter_server), "--paid", "--workers", "4")
    code, _, stderr = cli.finish()
    assert code == 0, stderr
    assert len(cli.seen) >= 2, "the pool never grew past one worker"
    assert alive(cli.seen) == []


def test_no_worker_is_left_after_an_error(
    workdir: Path, backend: LocalBackend, openrouter_server: OpenRouterServer
) -> None:
    env = cli_env(workdir, backend, openrouter_server, key=WRONG_KEY)
    cli = Cli(workdir, env, "--paid", "--timeout", "1.5")
    code, _, stderr = cli.finish()
    assert code == 3, stderr
    assert time.monotonic() - cli.started < 1.5 + 4
    assert cli.seen and alive(cli.seen) == []


@pytest.mark.posix_only(reason="sends SIGINT to one process (Windows signals a console group)")
def test_no_worker_is_left_after_ctrl_c(
    workdir: Path, backend: LocalBackend, openrouter_server: OpenRouterServer
) -> None:
    backend.set_faults(latency_ms=500)
    cli = Cli(workdir, cli_env(workdir, backend, openrouter_server), "--paid")
    cli.watch_until(seconds=1.0)
    cli.process.send_signal(signal.SIGINT)
    code, _, stderr = cli.finish(10)
    assert code == 130, stderr
    assert cli.seen and alive(cli.seen) == []


def test_no_worker_outlives_a_killed_parent(
    workdir: Path, backend: LocalBackend, openrouter_server: OpenRouterServer
) -> None:
    backend.set_faults(latency_ms=500)
    cli = Cli(workdir, cli_env(workdir, backend, openrouter_server), "--paid")
    cli.watch_until(seconds=1.2)
    assert cli.seen, "no worker started"
    psutil.Process(cli.process.pid).kill()
    cli.process.wait(10)
    # An idle worker sees its input end at once; a busy one when its call's answer (500 ms)
    # finds no reader.
    assert alive(cli.seen, within_s=5) == []


def test_a_signal_module_without_alarms_still_syncs_and_times_out(
    workdir: Path, backend: LocalBackend, openrouter_server: OpenRouterServer
) -> None:
    site = workdir / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(NO_ALARM)
    env = cli_env(workdir, backend, openrouter_server)
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO_ROOT)])
    probe = subprocess.run(
        [sys.executable, "-c", "import signal; print(hasattr(signal, 'setitimer'))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "False"

    code, stdout, stderr = Cli(workdir, env, "--paid", "--json").finish()
    assert code == 0, stderr
    assert json.loads(stdout)["summary"]["inserted"] == 5

    cli = Cli(workdir, {**env, "CONVEX_DEPLOY_KEY": WRONG_KEY}, "--paid", "--timeout", "1.5")
    code, _, stderr = cli.finish()
    assert code == 3, stderr
    assert "cannot reach or authenticate" in stderr and "within 1.5 s" in stderr
    assert time.monotonic() - cli.started < 1.5 + 4
    assert WRONG_KEY not in stderr
