"""The live progress bar: the real CLI in a subprocess whose stderr is a pseudo-terminal
(what `script` or tmux give it), against the local backend slowed to 200 ms a message and a
loopback OpenRouter; and the same runs with stderr redirected."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.local_backend import LocalBackend
from support.openrouter_server import OpenRouterServer

from sync_client.progress_bar import stderr_is_a_terminal

pytestmark = pytest.mark.posix_only(
    reason="gives the CLI a pseudo-terminal for stderr (pty: POSIX only; Windows consoles differ)"
)

SNAPSHOT = "models-2025-12-02.json"
FREE = ["qwen/qwen3-coder:free", "google/gemma-3-27b-it:free", "arcee-ai/trinity-mini:free"]
HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"
SGR = re.compile(r"\x1b\[([0-9;]*)m")
COLOURS = {*range(30, 39), *range(40, 49), *range(90, 98), *range(100, 108)}


@dataclass
class Run:
    returncode: int
    stdout: bytes
    stderr: str


def has_colour(text: str) -> bool:
    codes = (code for params in SGR.findall(text) for code in params.split(";") if code)
    return any(int(code) in COLOURS for code in codes)


@pytest.fixture
def cli_env(
    backend: LocalBackend, openrouter_server: OpenRouterServer, tmp_path: Path
) -> dict[str, str]:
    openrouter_server.serve_snapshot(SNAPSHOT)
    entries = "".join(f'{{ apiId: "{i}", rank: {n} }},' for n, i in enumerate(FREE, 1))
    (tmp_path / "topFreeModels.ts").write_text(f"export const TOP_FREE_MODELS = [{entries}];\n")
    (tmp_path / "topPaidModels.ts").write_text(
        'export const TOP_PAID_MODELS = [{ apiId: "openai/gpt-4o", rank: 1 }];\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVEX_", "OPENROUTER_"))}
    env.pop("NO_COLOR", None)
    return {
        **env,
        "TERM": "xterm-256color",
        "COLUMNS": "100",
        "CONVEX_URL": backend.url,
        "CONVEX_DEPLOY_KEY": backend.admin_key,
        "OPENROUTER_BASE_URL": openrouter_server.base_url,
    }


def run_cli(
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    *,
    tty: bool,
    interrupt_when: str | None = None,
) -> Run:
    """`python -m sync_client ARGS` with stdout a pipe and stderr a pseudo-terminal (`tty`) or
    a pipe; with `interrupt_when`, SIGINT once stderr shows that text."""
    command = [sys.executable, "-m", "sync_client", *args]
    if not tty:
        done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, timeout=60)
        return Run(done.returncode, done.stdout, done.stderr.decode())
    import pty  # POSIX only, as the module's marker says

    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=secondary,
        stdin=subprocess.DEVNULL,
    )
    os.close(secondary)
    captured = bytearray()
    deadline = time.monotonic() + 60
    interrupted = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            captured += chunk
        if (
            interrupt_when
            and not interrupted
            and interrupt_when in captured.decode(errors="replace")
        ):
            process.send_signal(signal.SIGINT)
            interrupted = True
        if not ready and process.poll() is not None:
            break
    os.close(primary)
    assert process.stdout is not None
    stdout = process.stdout.read()
    returncode = process.wait(timeout=30)
    return Run(returncode, stdout, captured.decode(errors="replace"))


def test_stderr_is_a_terminal_only_for_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    import pty

    primary, secondary = pty.openpty()
    with os.fdopen(secondary, "w") as terminal, open(os.devnull, "w") as null:
        monkeypatch.setenv("TERM", "xterm")
        assert stderr_is_a_terminal(terminal) and not stderr_is_a_terminal(null)
        monkeypatch.setenv("TERM", "dumb")
        assert not stderr_is_a_terminal(terminal)
    os.close(primary)


def test_a_bar_on_a_terminal_plain_lines_elsewhere_and_the_same_stdout(
    backend: LocalBackend, cli_env: dict[str, str], tmp_path: Path
) -> None:
    backend.set_faults(latencyMs=200)
    flags = ["--free", "--config-dir", str(tmp_path)]

    def fresh(args: list[str], *, tty: bool, **env: str) -> Run:
        backend.reset()
        backend.set_faults(latencyMs=200)
        return run_cli(args, {**cli_env, **env}, tmp_path, tty=tty)

    bar = fresh(flags, tty=True, NO_COLOR="1")
    assert bar.returncode == 0, bar.stderr
    text = bar.stderr
    # A frame for each write as it starts, naming its model, and one as each finishes, counting
    # it (the calls run at once); the last frame is the full bar, then the cursor comes back
    # and only plain lines follow.
    for api_id in FREE:
        assert re.search(rf"\x1b\[2K{re.escape(api_id)}\s[ ━╸]*\s[0-2]/3 \d+:\d\d:\d\d", text)
    for done in (1, 2):
        assert re.search(rf"\x1b\[2K\S+\s[ ━╸]*\s{done}/3 \d+:\d\d:\d\d", text)
    assert re.search(r"\x1b\[2Kdone ━+ 3/3 \d+:\d\d:\d\d\r\n\x1b\[\?25h", text)
    assert text.index(HIDE_CURSOR) < text.rindex(SHOW_CURSOR)
    assert "\x1b" not in text[text.rindex(SHOW_CURSOR) + len(SHOW_CURSOR) :]
    assert "[1/3] upserting" not in text  # the bar replaces the lines
    assert "fetching the OpenRouter catalog" in text
    assert not has_colour(text), "NO_COLOR is honoured"

    plain = fresh(flags, tty=False)
    assert plain.returncode == 0
    assert "\x1b" not in plain.stderr
    assert sorted(line for line in plain.stderr.splitlines() if "upserting" in line) == [
        f"[{n}/3] upserting {api_id}" for n, api_id in enumerate(FREE, 1)
    ]
    assert plain.stdout == bar.stdout and b"\x1b" not in plain.stdout

    json_bar = fresh([*flags, "--json"], tty=True)
    json_plain = fresh([*flags, "--json"], tty=False)
    assert json_bar.returncode == json_plain.returncode == 0
    assert json_bar.stdout == json_plain.stdout
    assert b'"inserted": 3' in json_bar.stdout
    assert "3/3" in json_bar.stderr and has_colour(json_bar.stderr)


def test_an_interrupted_run_erases_its_bar_and_gives_the_cursor_back(
    backend: LocalBackend, cli_env: dict[str, str], tmp_path: Path
) -> None:
    backend.set_faults(latencyMs=400)
    run = run_cli(  # one call at a time, so that the interrupt falls between two of them
        ["--free", "--config-dir", str(tmp_path), "--workers", "1"],
        cli_env,
        tmp_path,
        tty=True,
        interrupt_when="1/3",
    )
    assert run.returncode == 130
    text = run.stderr
    assert "1/3" in text and "3/3" not in text
    after_bar = text[text.rindex("1/3") :]
    assert "\x1b[2K" in after_bar, "the bar's line is erased"
    assert SHOW_CURSOR in after_bar and after_bar.rstrip("\r\n").endswith("interrupted")
    assert run.stdout == b""
