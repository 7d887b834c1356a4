"""The CLI's own behaviour: flags, configuration errors, exit codes, error output, cold start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync_client import cli
from sync_client.cli import app
from sync_client.console import Output
from sync_client.settings import Secret

runner = CliRunner()
CONVEX_ENV = {
    "CONVEX_URL": "https://happy-otter-123.convex.cloud",
    "CONVEX_DEPLOY_KEY": "prod:happy-otter-123|c2VjcmV0LXZhbHVlLWZvci10ZXN0cw",
}


@pytest.fixture(autouse=True)
def in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No developer .env.local or convex/config is picked up by accident."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_help_lists_every_flag() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for flag in (
        "--free",
        "--paid",
        "--all",
        "--model",
        "--dry-run",
        "--json",
        "--prod",
        "--env-file",
        "--config-dir",
        "--timeout",
        "--local",
        "--deactivate-stale",
        "--catalog",
    ):
        assert flag in result.stdout


@pytest.mark.parametrize("flags", [["--free", "--paid"], ["--paid", "--all"], ["--free", "--all"]])
def test_list_flags_are_mutually_exclusive(flags: list[str]) -> None:
    result = runner.invoke(app, flags, env=CONVEX_ENV)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: --free, --paid and --all are mutually exclusive\n")
    assert "hint: " in result.stderr


def test_errors_under_json_are_one_document_on_stdout() -> None:
    result = runner.invoke(app, ["--free", "--all", "--json"], env=CONVEX_ENV)
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert set(document) == {"error"}
    assert document["error"]["code"] == "config"
    assert "mutually exclusive" in document["error"]["message"]
    assert document["error"]["hint"]


def test_a_missing_convex_url_is_a_configuration_error() -> None:
    result = runner.invoke(app, ["--free"])
    assert result.exit_code == 2
    assert "error: CONVEX_URL is not set" in result.stderr
    assert "--local" in result.stderr


def test_a_missing_deploy_key_is_a_configuration_error() -> None:
    result = runner.invoke(app, ["--free"], env={"CONVEX_URL": CONVEX_ENV["CONVEX_URL"]})
    assert result.exit_code == 2
    assert "error: CONVEX_DEPLOY_KEY is not set" in result.stderr
    # For a self-hosted or local backend the key belongs in the variable `npx convex` reads.
    assert "CONVEX_SELF_HOSTED_ADMIN_KEY" in result.stderr


def test_local_without_node_on_the_path_says_what_it_needs(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--local", "--free"], env={"PATH": str(tmp_path)})
    assert result.exit_code == 2
    assert "error: --local needs Node.js 20+ and npm, and `node` is not on PATH" in result.stderr
    assert "hint: install Node.js 20+" in result.stderr


def test_plain_http_to_a_remote_deployment_is_refused() -> None:
    env = {**CONVEX_ENV, "CONVEX_URL": "http://happy-otter-123.convex.cloud"}
    result = runner.invoke(app, ["--free"], env=env)
    assert result.exit_code == 2
    assert "http://" in result.stderr


def test_a_missing_ranked_list_names_the_file(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["--paid", "--config-dir", str(tmp_path / "nowhere")], env=CONVEX_ENV
    )
    assert result.exit_code == 2
    assert "topPaidModels.ts" in result.stderr
    assert CONVEX_ENV["CONVEX_DEPLOY_KEY"] not in result.output


def test_an_unknown_list_in_the_environment_is_a_configuration_error() -> None:
    result = runner.invoke(app, [], env={**CONVEX_ENV, "SYNC_MODEL_LIST": "cheap"})
    assert result.exit_code == 2
    assert "SYNC_MODEL_LIST" in result.stderr


def test_a_non_positive_timeout_is_a_usage_error() -> None:
    result = runner.invoke(app, ["--timeout", "0"], env=CONVEX_ENV)
    assert result.exit_code == 2


def test_an_unexpected_failure_is_one_line_with_secrets_scrubbed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = CONVEX_ENV["CONVEX_DEPLOY_KEY"]

    def explode(options: cli.SyncOptions, output: Output) -> int:
        output.remember(Secret(secret))
        raise RuntimeError(f"boom while holding {secret}")

    monkeypatch.setattr(cli, "run_sync", explode)
    result = runner.invoke(app, ["--free"], env=CONVEX_ENV)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "error: unexpected RuntimeError: boom while holding ***"
    assert "Traceback" not in result.output
    assert secret not in result.output
    assert secret.rpartition("|")[2] not in result.output


def test_a_broken_pipe_not_on_stdout_or_stderr_is_still_a_bug_report(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(options: cli.SyncOptions, output: Output) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "run_sync", explode)
    result = runner.invoke(app, ["--free"], env=CONVEX_ENV)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: unexpected BrokenPipeError: ")


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_reader_that_closed_stdout_ends_the_command_quietly_with_141(
    tmp_path: Path, json_flag: list[str]
) -> None:
    """`sync-models doctor | head -1`: stdout's reader is gone before the next write."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVEX_", "OPENROUTER_"))}
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "sync_client", "doctor", "--prod", *json_flag],
            cwd=tmp_path,  # no .env.prod, no ranked lists: five lines, nothing reached
            env=env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (141, "")


def run_module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONVEX_", "OPENROUTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "sync_client", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_usage_errors_from_the_parser_are_json_too_when_asked(tmp_path: Path) -> None:
    plain = run_module("--no-such-flag", cwd=tmp_path)
    assert plain.returncode == 2
    assert "No such option" in plain.stderr and plain.stdout == ""
    as_json = run_module("--no-such-flag", "--json", cwd=tmp_path)
    assert as_json.returncode == 2
    assert "No such option" in json.loads(as_json.stdout)["error"]["message"]


def test_help_imports_neither_the_sdk_nor_httpx_nor_pydantic(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from sync_client.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ['convex', 'httpx', 'pydantic', 'dotenv', 'rich']\n"
        "print('LOADED', [m for m in heavy if m in sys.modules])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stdout


NOISY_COMMAND = """
import ctypes, sys
from sync_client import cli
from sync_client.errors import ConfigError

libc = ctypes.CDLL(None)


def noisy_sync(options, output):
    # What the convex SDK's Rust core can do: write to file descriptor 1, past sys.stdout.
    libc.write(1, b"native noise\\n", 13)
    print("python noise")
    if sys.argv[1] == "fail":
        raise ConfigError("it went wrong")
    output.document({"summary": {"total": 0}, "results": []})
    return 0


cli.run_sync = noisy_sync
cli.main(sys.argv[2:])
"""


@pytest.mark.parametrize("outcome", ["ok", "fail"])
def test_json_stdout_holds_only_the_document_even_when_native_code_writes_to_fd_1(
    tmp_path: Path, outcome: str
) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", NOISY_COMMAND, outcome, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    as_json = run("--json")
    assert as_json.returncode == (0 if outcome == "ok" else 2), as_json.stderr
    document = json.loads(as_json.stdout)
    expected = "summary" if outcome == "ok" else "error"
    assert expected in document
    assert "native noise\n" in as_json.stderr and "python noise\n" in as_json.stderr

    # Without --json nothing is redirected: the noise lands on stdout (proof that it is real).
    plain = run()
    assert "native noise\n" in plain.stdout and "python noise\n" in plain.stdout


def test_local_from_an_installed_package_with_an_unusable_cache_folder_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installed package's backend goes to the cache folder; one that cannot be made is
    a configuration error naming it and the variable that moves it."""
    monkeypatch.setattr("sync_client.local.is_checkout", lambda: False)
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file, not a folder")
    result = runner.invoke(
        app, ["--local", "--free"], env={"SYNC_MODELS_CACHE_DIR": str(not_a_folder)}
    )
    assert result.exit_code == 2, result.output
    assert f"error: cannot install the local backend into {not_a_folder}" in result.stderr
    assert "set SYNC_MODELS_CACHE_DIR to another one" in result.stderr
    assert "installing the local backend's Node dependencies" in result.stderr


def test_a_closed_pipe_reported_as_on_windows_ends_quietly_with_141_too() -> None:
    """Windows has no SIGPIPE, and writing to a pipe whose reader has gone raises EINVAL there:
    the same quiet 141, found without signals or select.poll."""
    script = """
import errno, io, sys
from sync_client.console import Output, run_guarded

class ClosedPipe(io.TextIOWrapper):
    def write(self, text):
        raise OSError(errno.EINVAL, "Invalid argument")

sys.stdout = ClosedPipe(io.BytesIO())
sys.exit(run_guarded(Output(json_mode=False), lambda: print("a result line") or 0))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stderr) == (141, "")
