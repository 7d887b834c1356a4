"""Settings: env files, precedence, URL rules, list choice and secret masking."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from sync_client.errors import ConfigError, ExitCode
from sync_client.settings import (
    DEFAULT_OPENROUTER_BASE_URL,
    Secret,
    is_loopback_host,
    load_settings,
    validate_service_url,
)

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_reads_env_local_from_working_directory(workdir: Path) -> None:
    (workdir / ".env.local").write_text(
        "CONVEX_URL=https://happy-animal-1.convex.cloud/\n"
        "CONVEX_DEPLOY_KEY='dev:happy-animal-1|secret-abc'\n"
        "SYNC_MODEL_LIST=paid\n"
        "OPENROUTER_API_KEY=sk-or-test\n"
    )
    settings = load_settings(environ={})
    assert settings.convex_url == "https://happy-animal-1.convex.cloud"
    assert settings.deploy_key is not None
    assert settings.deploy_key.reveal() == "dev:happy-animal-1|secret-abc"
    assert settings.default_list == "paid"
    assert settings.openrouter_base_url == DEFAULT_OPENROUTER_BASE_URL
    assert settings.openrouter_api_key == Secret("sk-or-test")


def test_missing_default_env_file_is_fine_when_environment_has_everything(workdir: Path) -> None:
    settings = load_settings(environ={"CONVEX_URL": "https://a.convex.cloud"})
    assert settings.convex_url == "https://a.convex.cloud"
    assert settings.deploy_key is None
    assert settings.openrouter_api_key is None
    assert settings.default_list == "free"


def test_process_environment_wins_over_file(workdir: Path) -> None:
    (workdir / ".env.local").write_text(
        "CONVEX_URL=https://from-file.convex.cloud\nSYNC_MODEL_LIST=paid\n"
    )
    settings = load_settings(
        environ={"CONVEX_URL": "https://from-env.convex.cloud", "SYNC_MODEL_LIST": ""}
    )
    assert settings.convex_url == "https://from-env.convex.cloud"
    # An empty value counts as unset, so the file's value applies.
    assert settings.default_list == "paid"


def test_uses_real_os_environ_by_default_and_does_not_mutate_it(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (workdir / ".env.local").write_text(
        "CONVEX_URL=https://file.convex.cloud\nOPENROUTER_API_KEY=from-file\n"
    )
    monkeypatch.setenv("CONVEX_URL", "https://env.convex.cloud")
    settings = load_settings()
    assert settings.convex_url == "https://env.convex.cloud"
    assert settings.openrouter_api_key == Secret("from-file")
    assert "OPENROUTER_API_KEY" not in os.environ


def test_prod_reads_env_prod_not_env_local(workdir: Path) -> None:
    (workdir / ".env.local").write_text("CONVEX_URL=https://dev.convex.cloud\n")
    (workdir / ".env.prod").write_text("CONVEX_URL=https://prod.convex.cloud\n")
    assert load_settings(prod=True, environ={}).convex_url == "https://prod.convex.cloud"
    assert load_settings(environ={}).convex_url == "https://dev.convex.cloud"


def test_prod_without_env_prod_is_a_config_error(workdir: Path) -> None:
    (workdir / ".env.local").write_text("CONVEX_URL=https://dev.convex.cloud\n")
    with pytest.raises(ConfigError, match=r"\.env\.prod does not exist"):
        load_settings(prod=True, environ={})


def test_env_file_overrides_the_default(workdir: Path) -> None:
    other = workdir / "staging.env"
    other.write_text("CONVEX_URL=https://staging.convex.cloud\n")
    (workdir / ".env.local").write_text("CONVEX_URL=https://dev.convex.cloud\n")
    settings = load_settings(env_file=other, environ={})
    assert settings.convex_url == "https://staging.convex.cloud"


def test_prod_and_env_file_together_are_a_config_error(workdir: Path) -> None:
    other = workdir / "staging.env"
    other.write_text("CONVEX_URL=https://staging.convex.cloud\n")
    with pytest.raises(ConfigError, match="--prod and --env-file"):
        load_settings(env_file=other, prod=True, environ={})


def test_named_env_file_missing_is_a_config_error(workdir: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.env does not exist") as info:
        load_settings(env_file=workdir / "nope.env", environ={})
    assert info.value.exit_code == ExitCode.USAGE


@pytest.mark.posix_only(reason="takes a file's read permission away with chmod (POSIX modes)")
@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads files whatever their mode"
)
def test_unreadable_env_file_is_a_config_error(workdir: Path) -> None:
    locked = workdir / "locked.env"
    locked.write_text("CONVEX_URL=https://a.convex.cloud\n")
    locked.chmod(0)
    with pytest.raises(ConfigError, match="cannot read env file"):
        load_settings(env_file=locked, environ={})


def test_env_file_that_is_a_directory_is_a_config_error(workdir: Path) -> None:
    (workdir / "adir").mkdir()
    with pytest.raises(ConfigError, match="cannot read env file"):
        load_settings(env_file=workdir / "adir", environ={})


def test_env_file_that_is_not_utf8_is_a_config_error(workdir: Path) -> None:
    bad = workdir / "bad.env"
    bad.write_bytes(b"CONVEX_URL=\xff\xfe\n")
    with pytest.raises(ConfigError, match="cannot read env file"):
        load_settings(env_file=bad, environ={})


def test_next_public_convex_url_is_the_fallback(workdir: Path) -> None:
    settings = load_settings(environ={"NEXT_PUBLIC_CONVEX_URL": "https://next.convex.cloud"})
    assert settings.convex_url == "https://next.convex.cloud"
    both = load_settings(
        environ={
            "NEXT_PUBLIC_CONVEX_URL": "https://next.convex.cloud",
            "CONVEX_URL": "https://main.convex.cloud",
        }
    )
    assert both.convex_url == "https://main.convex.cloud"


def test_missing_convex_url_is_a_config_error_with_hint(workdir: Path) -> None:
    with pytest.raises(ConfigError, match="CONVEX_URL is not set") as info:
        load_settings(environ={})
    assert info.value.hint is not None
    assert ".env.local" in info.value.hint
    assert "--local" in info.value.hint


def test_missing_convex_url_is_allowed_when_not_required(workdir: Path) -> None:
    assert load_settings(environ={}, require_convex=False).convex_url is None


@pytest.mark.parametrize("value", ["free", "paid", "all", "PAID", " all "])
def test_sync_model_list_accepts_the_three_choices(workdir: Path, value: str) -> None:
    settings = load_settings(environ={"SYNC_MODEL_LIST": value}, require_convex=False)
    assert settings.default_list == value.strip().lower()


def test_prod_defaults_to_the_paid_list(workdir: Path) -> None:
    (workdir / ".env.prod").write_text("CONVEX_URL=https://prod.convex.cloud\n")
    assert load_settings(prod=True, environ={}).default_list == "paid"
    assert load_settings(prod=True, environ={"SYNC_MODEL_LIST": "all"}).default_list == "all"
    assert load_settings(environ={}, require_convex=False).default_list == "free"


@pytest.mark.parametrize("value", ["5", "0", "0.25", ".5", "12."])
def test_a_budget_is_a_plain_decimal(workdir: Path, value: str) -> None:
    settings = load_settings(environ={"SYNC_MAX_COST_PER_1M": value}, require_convex=False)
    assert settings.max_cost_per_1m == float(value)


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "1e3", "$5", "five", "\u0665"])
def test_a_bad_budget_is_a_config_error_that_does_not_echo_it(workdir: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="SYNC_MAX_COST_PER_1M") as info:
        load_settings(environ={"SYNC_MAX_COST_PER_1M": value}, require_convex=False)
    assert value not in str(info.value)


@pytest.mark.parametrize("value", ["everything", "fre", "free,paid", "1"])
def test_unknown_sync_model_list_is_a_config_error_naming_it(workdir: Path, value: str) -> None:
    with pytest.raises(ConfigError, match="SYNC_MODEL_LIST") as info:
        load_settings(environ={"SYNC_MODEL_LIST": value}, require_convex=False)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:3210",
        "http://127.9.8.7/",
        "http://localhost:8080",
        "http://[::1]:3210",
        "https://example.convex.cloud",
        "HTTPS://Example.convex.cloud",
    ],
)
def test_allowed_urls(url: str) -> None:
    assert validate_service_url("CONVEX_URL", url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://example.convex.cloud", "plain http:// to a non-loopback host"),
        ("http://10.0.0.1:3210", "plain http:// to a non-loopback host"),
        ("http://localhost.evil.example", "plain http:// to a non-loopback host"),
        ("http://128.0.0.1", "plain http:// to a non-loopback host"),
        ("ftp://example.com", "must be an https:// URL"),
        ("example.convex.cloud", "must be an https:// URL"),
        ("https://", "must be an https:// URL"),
        ("https://host:notaport", "not a valid URL"),
    ],
)
def test_refused_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        validate_service_url("CONVEX_URL", url)
    assert "CONVEX_URL" in str(info.value)


def test_openrouter_base_url_is_checked_and_trailing_slash_stripped(workdir: Path) -> None:
    settings = load_settings(
        environ={"OPENROUTER_BASE_URL": "http://127.0.0.1:9999/api/v1/"}, require_convex=False
    )
    assert settings.openrouter_base_url == "http://127.0.0.1:9999/api/v1"
    with pytest.raises(ConfigError, match="OPENROUTER_BASE_URL"):
        load_settings(
            environ={"OPENROUTER_BASE_URL": "http://openrouter.example/api/v1"},
            require_convex=False,
        )


def test_loopback_detection() -> None:
    assert is_loopback_host("localhost")
    assert is_loopback_host("LOCALHOST.")
    assert is_loopback_host("127.0.0.1")
    assert is_loopback_host("::1")
    assert not is_loopback_host("0.0.0.0")
    assert not is_loopback_host("example.com")


def test_secrets_never_show_in_repr_str_or_settings_repr(workdir: Path) -> None:
    deploy_key = "prod:deployment-9|very-secret-deploy-key"
    api_key = "sk-or-v1-very-secret-api-key"
    settings = load_settings(
        environ={
            "CONVEX_URL": "https://a.convex.cloud",
            "CONVEX_DEPLOY_KEY": deploy_key,
            "OPENROUTER_API_KEY": api_key,
        }
    )
    rendered = [repr(settings), str(settings), f"{settings.deploy_key}", repr(settings.deploy_key)]
    for text in rendered:
        assert deploy_key not in text
        assert api_key not in text
    assert "***" in repr(settings)
    with pytest.raises(TypeError):
        pickle.dumps(settings.deploy_key)


def test_example_file_documents_every_variable_and_loads_cleanly() -> None:
    example = REPO_ROOT / ".env.local.example"
    text = example.read_text()
    for name in (
        "CONVEX_URL",
        "NEXT_PUBLIC_CONVEX_URL",
        "CONVEX_DEPLOY_KEY",
        "SYNC_MODEL_LIST",
        "SYNC_MAX_COST_PER_1M",
        "OPENROUTER_BASE_URL",
        "OPENROUTER_API_KEY",
    ):
        assert name in text
    settings = load_settings(env_file=example, environ={})
    assert settings.convex_url is not None
    assert settings.deploy_key is None
    assert settings.default_list == "free"


@pytest.mark.parametrize("name", ["CONVEX_DEPLOY_KEY", "OPENROUTER_API_KEY"])
@pytest.mark.parametrize(
    ("bad", "described"),
    [
        ("\n", "a line break (LF)"),
        ("\r", "a carriage return (CR)"),
        ("\t", "a tab"),
        (" ", "a space (U+0020)"),
        ("\x00", "a control character (U+0000)"),
        ("\x7f", "a control character (U+007F)"),
        ("\u00a0", "a non-ASCII space (U+00A0)"),
        ("\u00e9", "a non-ASCII character (U+00E9)"),
    ],
)
def test_a_key_with_whitespace_control_or_non_ascii_is_refused_by_position(
    workdir: Path, name: str, bad: str, described: str
) -> None:
    key = f"  sk-or-v1-secret{bad}X-Evil: 1"
    with pytest.raises(ConfigError) as info:
        load_settings(environ={name: key}, require_convex=False)
    message = f"{info.value.message} {info.value.hint}"
    assert info.value.exit_code == ExitCode.USAGE
    # Position 18 counts the two leading spaces a paste may carry (they are stripped).
    assert f"{name} (from the environment) holds {described} at character 18" in message
    assert "secret" not in message.replace("not shown", "")
    assert "X-Evil" not in message


def test_a_bad_key_in_the_env_file_names_the_file(workdir: Path) -> None:
    (workdir / ".env.local").write_text('OPENROUTER_API_KEY="sk-or-v1-abc\\nX-Evil: 1"\n')
    with pytest.raises(ConfigError, match=r"OPENROUTER_API_KEY \(from \.env\.local\) holds a line"):
        load_settings(environ={}, require_convex=False)


def test_outer_whitespace_around_a_key_is_not_part_of_it(workdir: Path) -> None:
    settings = load_settings(
        environ={"OPENROUTER_API_KEY": " sk-or-v1-abc\n"}, require_convex=False
    )
    assert settings.openrouter_api_key == Secret("sk-or-v1-abc")


def test_the_self_hosted_variables_name_the_deployment_and_its_admin_key(workdir: Path) -> None:
    # What `npx convex` reads for a self-hosted or local backend.
    settings = load_settings(
        environ={
            "CONVEX_SELF_HOSTED_URL": "http://127.0.0.1:3210/",
            "CONVEX_SELF_HOSTED_ADMIN_KEY": "self-hosted|admin-key-0123",
        }
    )
    assert settings.convex_url == "http://127.0.0.1:3210"
    assert settings.deploy_key == Secret("self-hosted|admin-key-0123")


def test_the_cloud_variables_come_first_then_self_hosted_then_next_public(workdir: Path) -> None:
    (workdir / ".env.local").write_text(
        "CONVEX_SELF_HOSTED_URL=http://127.0.0.1:3210\n"
        "CONVEX_SELF_HOSTED_ADMIN_KEY=self-hosted-admin-key\n"
        "NEXT_PUBLIC_CONVEX_URL=https://next.convex.cloud\n"
    )
    self_hosted = load_settings(environ={})
    assert self_hosted.convex_url == "http://127.0.0.1:3210"
    assert self_hosted.deploy_key == Secret("self-hosted-admin-key")
    cloud = load_settings(
        environ={"CONVEX_URL": "https://a.convex.cloud", "CONVEX_DEPLOY_KEY": "prod:a|key-0123"}
    )
    assert cloud.convex_url == "https://a.convex.cloud"
    assert cloud.deploy_key == Secret("prod:a|key-0123")
    (workdir / ".env.local").write_text("NEXT_PUBLIC_CONVEX_URL=https://next.convex.cloud\n")
    assert load_settings(environ={}).convex_url == "https://next.convex.cloud"


def test_the_self_hosted_url_and_key_are_checked_like_the_others(workdir: Path) -> None:
    with pytest.raises(ConfigError, match="CONVEX_SELF_HOSTED_URL uses plain http://"):
        load_settings(environ={"CONVEX_SELF_HOSTED_URL": "http://10.0.0.1:3210"})
    with pytest.raises(ConfigError, match=r"CONVEX_SELF_HOSTED_ADMIN_KEY .* holds a line break"):
        load_settings(
            environ={"CONVEX_URL": "https://a.convex.cloud", "CONVEX_SELF_HOSTED_ADMIN_KEY": "a\nb"}
        )
