"""No form of a malformed key reaches any output of the CLI (property test, loopback OpenRouter)."""

from __future__ import annotations

import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.openrouter_server import OpenRouterServer, unused_loopback_url
from typer.testing import CliRunner

from sync_client.cli import app

runner = CliRunner()
CONFIG_DIR = Path(__file__).resolve().parents[1] / "convex" / "config"
GOOD_OPENROUTER_KEY = "sk-or-v1-wellformed0123456789"
GOOD_DEPLOY_KEY = "prod:happy-otter-123|d2VsbC1mb3JtZWQ"
#: Each key variable: the variable naming the deployment it goes with, and a well-formed
#: value for the other key, so that the run gets as far as it can.
SETTINGS_AROUND = {
    "OPENROUTER_API_KEY": ("CONVEX_URL", {"CONVEX_DEPLOY_KEY": GOOD_DEPLOY_KEY}),
    "CONVEX_DEPLOY_KEY": ("CONVEX_URL", {"OPENROUTER_API_KEY": GOOD_OPENROUTER_KEY}),
    "CONVEX_SELF_HOSTED_ADMIN_KEY": (
        "CONVEX_SELF_HOSTED_URL",
        {"OPENROUTER_API_KEY": GOOD_OPENROUTER_KEY},
    ),
}
COMMANDS = (["--free", "--json"], ["--free"], ["doctor"], ["doctor", "--json"])
#: Characters a key must not hold.
BAD_CHARACTERS = st.sampled_from(["\r", "\n", "\t", "\x00"]) | st.characters(
    min_codepoint=0x80, exclude_categories=["Cs"]
)
#: Letters and digits look the same raw, in a repr, in JSON and URL-encoded.
KEY_PIECE = st.text(alphabet=string.ascii_letters + string.digits, min_size=8, max_size=24)


@pytest.fixture(scope="module")
def openrouter() -> Iterator[OpenRouterServer]:
    with OpenRouterServer() as server:
        server.serve_snapshot("models-2025-12-02.json")
        yield server


@pytest.fixture(autouse=True)
def in_empty_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    variable=st.sampled_from(sorted(SETTINGS_AROUND)),
    head=KEY_PIECE,
    tail=KEY_PIECE,
    bad=BAD_CHARACTERS,
    via_file=st.booleans(),
    command=st.sampled_from(COMMANDS),
)
@example(  # the reported leak: a bytes repr of the Authorization header, `\n` as two characters
    variable="OPENROUTER_API_KEY",
    head="HEADHEADHEAD",
    tail="TAILTAILTAIL",
    bad="\n",
    via_file=False,
    command=["--free", "--json"],
)
def test_no_form_of_a_key_with_a_bad_character_appears_in_any_output(
    openrouter: OpenRouterServer,
    tmp_path: Path,
    variable: str,
    head: str,
    tail: str,
    bad: str,
    via_file: bool,
    command: list[str],
) -> None:
    via_file = via_file or bad == "\x00"  # a process environment cannot hold NUL
    key = f"sk-or-v1-{head}{bad}X-Evil: {tail}"
    url_variable, other_key = SETTINGS_AROUND[variable]
    env = {
        **other_key,
        url_variable: unused_loopback_url(),
        "OPENROUTER_BASE_URL": openrouter.base_url,
    }
    args = [*command, "--timeout", "1", "--config-dir", str(CONFIG_DIR)]
    if via_file:
        env_file = tmp_path / "keys.env"
        env_file.write_text(f'{variable}="{key}"\n', encoding="utf-8", newline="")
        args += ["--env-file", str(env_file)]
    else:
        env[variable] = key
    before = openrouter.request_count

    result = runner.invoke(app, args, env=env)

    output = result.stdout + result.stderr
    for piece in (head, tail):
        assert piece not in output
    assert variable in output
    assert result.exit_code == 2
    assert openrouter.request_count == before, "a malformed key must not be sent"
