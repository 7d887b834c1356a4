"""`--version` and shell completion, through the installed entry point's module."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def run_module(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sync_client", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version_prints_the_installed_packages_version_and_exits_0() -> None:
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert version("sync-models") == declared
    result = run_module("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"sync-models {declared}\n"
    assert result.stderr == ""


def test_version_wins_over_other_flags_and_needs_no_settings() -> None:
    result = run_module("--free", "--paid", "--version")  # flags that would be a usage error
    assert result.returncode == 0
    assert result.stdout.startswith("sync-models ")


@pytest.mark.posix_only(
    reason="runs the CLI under bash, the parent shell Typer detects (Windows has no such bash)"
)
def test_show_completion_prints_the_script_of_the_shell_it_is_run_from() -> None:
    # Typer detects the shell from the parent processes; bash runs it here whatever ran pytest
    # (the `exit` keeps bash from replacing itself with the last command).
    result = subprocess.run(
        ["bash", "-c", '"$0" -m sync_client --show-completion; exit $?', sys.executable],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "complete " in result.stdout and "_SYNC_MODELS_COMPLETE" in result.stdout


def test_another_shells_script_by_its_name_in_the_environment() -> None:
    result = run_module(env={"_SYNC_MODELS_COMPLETE": "source_zsh"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.lstrip().startswith("#compdef sync-models\n")


def test_the_completion_script_completes_flags_and_commands() -> None:
    def complete(words: str) -> list[str]:
        result = run_module(
            env={
                "_SYNC_MODELS_COMPLETE": "complete_bash",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - 1),
            }
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    assert complete("sync-models --dry") == ["--dry-run"]
    assert complete("sync-models sta") == ["status"]
    assert complete("sync-models doc") == ["doctor"]
