"""Settings from the process environment and a dotenv file, validated and with secrets masked."""

from __future__ import annotations

import ipaddress
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from dotenv import dotenv_values

from .errors import ConfigError

ListChoice = Literal["free", "paid", "all"]
LIST_CHOICES: tuple[ListChoice, ...] = get_args(ListChoice)

DEFAULT_ENV_FILE = Path(".env.local")
PROD_ENV_FILE = Path(".env.prod")
_BUDGET = re.compile(r"\d+(?:\.\d*)?|\.\d+", re.ASCII)
DEFAULT_OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_LIST: ListChoice = "free"
#: Where the deployment's URL and admin key are read from, first set first: the Convex
#: cloud's names, then the self-hosted ones (what `npx convex` uses for a self-hosted or
#: local backend), then the URL a Next.js app's client already has.
CONVEX_URL_VARIABLES = ("CONVEX_URL", "CONVEX_SELF_HOSTED_URL", "NEXT_PUBLIC_CONVEX_URL")
ADMIN_KEY_VARIABLES = ("CONVEX_DEPLOY_KEY", "CONVEX_SELF_HOSTED_ADMIN_KEY")
SELF_HOSTED_HINT = (
    "for a self-hosted or local backend use CONVEX_SELF_HOSTED_URL and "
    "CONVEX_SELF_HOSTED_ADMIN_KEY instead, as `npx convex` does (a CONVEX_DEPLOY_KEY "
    "there makes every `npx convex` command refuse to run)"
)
#: With `--prod` (and no SYNC_MODEL_LIST) the paid list: what a production app runs on.
PROD_DEFAULT_LIST: ListChoice = "paid"


class Secret:
    """A string that never shows itself in str(), repr() or f-strings; call reveal() to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is not picklable")


@dataclass(frozen=True)
class Settings:
    """Everything a sync needs to know about where to read from and write to."""

    convex_url: str | None
    deploy_key: Secret | None
    openrouter_base_url: str
    openrouter_api_key: Secret | None
    default_list: ListChoice
    #: SYNC_MAX_COST_PER_1M: the budget the sync's guard checks active models against.
    max_cost_per_1m: float | None = None


def load_settings(
    *,
    env_file: Path | None = None,
    prod: bool = False,
    environ: Mapping[str, str] | None = None,
    require_convex: bool = True,
) -> Settings:
    """Read settings: the process environment wins over the env file.

    The file is `env_file` if given, else `.env.prod` with `prod`, else `.env.local` (relative
    to the working directory); naming both is an error. Only the default `.env.local` may be
    missing. An empty value counts as unset.
    """
    if env_file is not None and prod:
        raise ConfigError(
            "--prod and --env-file both name an env file",
            hint="pass --env-file .env.prod, or --prod alone",
        )
    path = env_file or (PROD_ENV_FILE if prod else DEFAULT_ENV_FILE)
    file_values = _read_env_file(path, required=env_file is not None or prod)
    process_values = os.environ if environ is None else environ

    sources = (("the environment", process_values), (str(path), file_values))

    def lookup_raw(name: str) -> tuple[str, str] | None:
        """(where it was set, the value as written) of the first non-blank setting."""
        for where, source in sources:
            value = source.get(name)
            if value is not None and value.strip():
                return where, value
        return None

    def lookup(name: str) -> str | None:
        found = lookup_raw(name)
        return None if found is None else found[1].strip()

    def secret(name: str) -> Secret | None:
        found = lookup_raw(name)
        return None if found is None else checked_secret(name, *found)

    convex_name = next((name for name in CONVEX_URL_VARIABLES if lookup(name)), None)
    convex_url = None if convex_name is None else lookup(convex_name)
    if convex_name is not None and convex_url is not None:
        convex_url = validate_service_url(convex_name, convex_url)
    elif require_convex:
        raise ConfigError(
            "CONVEX_URL is not set: no Convex deployment to sync into",
            hint="set CONVEX_URL in .env.local (see .env.local.example), "
            "or use --local to try against a local backend; " + SELF_HOSTED_HINT,
        )
    key_name = next((name for name in ADMIN_KEY_VARIABLES if lookup(name)), None)

    base_url = validate_service_url(
        "OPENROUTER_BASE_URL", lookup("OPENROUTER_BASE_URL") or DEFAULT_OPENROUTER_BASE_URL
    )

    return Settings(
        convex_url=convex_url,
        deploy_key=None if key_name is None else secret(key_name),
        openrouter_base_url=base_url,
        openrouter_api_key=secret("OPENROUTER_API_KEY"),
        default_list=parse_list_choice(
            lookup("SYNC_MODEL_LIST") or (PROD_DEFAULT_LIST if prod else DEFAULT_LIST)
        ),
        max_cost_per_1m=parse_budget(lookup("SYNC_MAX_COST_PER_1M")),
    )


def parse_list_choice(value: str) -> ListChoice:
    """`free`, `paid` or `all` (any case); anything else is a ConfigError naming the value."""
    normalized = value.strip().lower()
    if normalized not in LIST_CHOICES:
        raise ConfigError(
            f"SYNC_MODEL_LIST must be one of free, paid, all; got {value!r}",
            hint="fix SYNC_MODEL_LIST in the environment or the env file, "
            "or pass --free/--paid/--all",
        )
    return normalized


def parse_budget(value: str | None) -> float | None:
    """SYNC_MAX_COST_PER_1M: a plain decimal number of USD, 0 or more (None when unset)."""
    if value is None:
        return None
    if _BUDGET.fullmatch(value) is None:
        raise ConfigError(
            # The value is not echoed: a key pasted into the wrong variable would leak.
            "SYNC_MAX_COST_PER_1M must be a number of USD per 1M tokens, 0 or more (like 5 or 0.5)",
            hint="fix SYNC_MAX_COST_PER_1M in the environment or the env file",
        )
    return float(value)


def validate_service_url(name: str, url: str) -> str:
    """Return `url` without trailing `/`; only https, or http to a loopback host, is allowed."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        # The value itself is never echoed: a key pasted into the wrong variable would leak.
        raise ConfigError(f"{name} is not a valid URL (malformed host or port)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        raise ConfigError(
            f"{name} must be an https:// URL with a host; got {_describe_non_url(parts.scheme)}",
            hint=f"set {name} to something like https://example.convex.cloud",
        )
    if scheme == "http" and not is_loopback_host(host):
        raise ConfigError(
            f"{name} uses plain http:// to a non-loopback host ({host}); refusing to send "
            "data or credentials unencrypted",
            hint=f"use https:// in {name} (plain http is only allowed for 127.0.0.1, ::1 or "
            "localhost)",
        )
    return url.rstrip("/")


def _describe_non_url(scheme: str) -> str:
    """What a refused URL looks like, without repeating the value (it may be a secret)."""
    if scheme.lower() in ("http", "https"):
        return f"an {scheme}:// URL without a host"
    if scheme.isalnum() and len(scheme) <= 10:
        return f"a value starting with {scheme!r}: (not shown; it may be a secret)"
    return "a value that is not a URL (not shown; it may be a secret)"


def is_loopback_host(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def checked_secret(name: str, where: str, value: str) -> Secret:
    """`value` without its outer whitespace as a Secret; a key may hold only printable ASCII
    without spaces. Anything else (a pasted line break, a tab, NUL, a non-breaking space)
    would end up in an HTTP header or an error text, so it is a ConfigError naming the
    variable and the character's position, never the key."""
    leading = len(value) - len(value.lstrip())
    key = value.strip()
    for index, char in enumerate(key):
        if not "!" <= char <= "~":
            raise ConfigError(
                f"{name} (from {where}) holds {_describe_key_char(char)} at character "
                f"{leading + index + 1}; a key is printable ASCII without spaces "
                "(the value is not shown)",
                hint=f"copy {name} again without line breaks or spaces; in an env file, "
                "write it unquoted on one line",
            )
    return Secret(key)


def _describe_key_char(char: str) -> str:
    named = {"\n": "a line break (LF)", "\r": "a carriage return (CR)", "\t": "a tab"}
    if char in named:
        return named[char]
    if unicodedata.category(char) == "Cc":
        kind = "control character"
    elif char.isspace():
        kind = "space" if char == " " else "non-ASCII space"
    else:
        kind = "non-ASCII character"
    return f"a {kind} (U+{ord(char):04X})"


def _read_env_file(path: Path, *, required: bool) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not required:
            return {}
        raise ConfigError(
            f"env file {path} does not exist",
            hint="check the --env-file path (or create .env.prod for --prod); "
            "see .env.local.example",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigError(f"cannot read env file {path}: {reason}") from None
    values = dotenv_values(stream=StringIO(text), interpolate=True)
    return {name: value for name, value in values.items() if value is not None}
