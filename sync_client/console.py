"""The CLI's boundary, shared by every command: output (secrets scrubbed, outside text shown
as data, `--json` kept to one document), failures turned into one message and an exit code,
settings and the store."""

from __future__ import annotations

import json
import os
import select
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync_client.api import DEFAULT_CONFIG_DIR, DEFAULT_TIMEOUT_S
from sync_client.errors import ConfigError, ExitCode, SyncModelsError
from sync_client.redaction import RevealsSecret, redact, secret_fragments
from sync_client.safe_text import json_printable, printable

if TYPE_CHECKING:
    from sync_client.convex_store import ConvexStore
    from sync_client.settings import Settings

__all__ = ["DEFAULT_CONFIG_DIR", "DEFAULT_TIMEOUT_S", "Output", "load_cli_settings", "open_store"]


@dataclass
class Output:
    """Where results and diagnostics go; scrubs known secrets from anything it prints.

    Everything printed passes `safe_text.printable` last, so no control character from
    outside text reaches the terminal raw, whatever a renderer missed. A progress, `error:`
    or `hint:` line is one line: a newline in it shows as `\\n`. The text renderers escape
    the outside values in their one-line fields themselves; error messages keep outside text
    exact (for `--json`) and are escaped here, where they are shown.
    """

    json_mode: bool = False
    secrets: list[str] = field(default_factory=list)
    #: Set while stdout is held (see `stdout_held`): what `data` writes waits here.
    held: list[str] | None = None

    def remember(self, secret: RevealsSecret | None) -> None:
        """Blank this secret out of everything printed from now on."""
        self.secrets = sorted({*self.secrets, *secret_fragments(secret)}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        return redact(text, self.secrets)

    def progress(self, message: str) -> None:
        """One diagnostic line on stderr."""
        print(printable(self.scrub(message)), file=sys.stderr, flush=True)

    def data(self, text: str) -> None:
        """Results for stdout, as many lines as the renderer made."""
        text = printable(self.scrub(text), multiline=True)
        if self.held is not None:
            self.held.append(text)
            return
        sys.stdout.write(text)
        sys.stdout.flush()

    def document(self, document: dict[str, Any]) -> None:
        """Print one `--json` document (whole-number fields as integers, see json_numbers)."""
        from sync_client.json_numbers import with_whole_numbers

        text = json.dumps(with_whole_numbers(document), ensure_ascii=False, indent=2)
        self.data(json_printable(text) + "\n")

    def error(self, error: SyncModelsError) -> None:
        """One `error:` (+ `hint:`) line on stderr, or the error document under `--json`."""
        if self.json_mode:
            from sync_client.report import error_document

            self.document(error_document(error))
            return
        print(printable(self.scrub(f"error: {error.message}")), file=sys.stderr)
        if error.hint:
            print(printable(self.scrub(f"hint: {error.hint}")), file=sys.stderr)


class UnexpectedError(SyncModelsError):
    """A bug or an unforeseen failure, reduced to one line (no traceback, no locals)."""


@contextmanager
def stdout_held(output: Output) -> Iterator[None]:
    """Point file descriptor 1 at stderr while the block runs and keep what `output` writes
    until it is restored, so stdout holds only that. Native code (the convex SDK's Rust core)
    writes to fd 1 directly, past `sys.stdout`."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no fd 1 at all: nothing to guard
        yield
        return
    output.held = []
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        held, output.held = output.held, None
        sys.stdout.write("".join(held))
        sys.stdout.flush()


def run_guarded(output: Output, action: Callable[[], int]) -> int:
    """Run a command body, turning every failure into one clean message and an exit code.
    Under `--json`, stdout receives nothing but the document (see `stdout_held`)."""
    try:
        if output.json_mode:
            with stdout_held(output):
                return _run_guarded(output, action)
        return _run_guarded(output, action)
    except BrokenPipeError:  # re-raised by _run_guarded only when stdout or stderr is closed
        return _reader_went_away()


def _run_guarded(output: Output, action: Callable[[], int]) -> int:
    try:
        return action()
    except SyncModelsError as error:
        output.error(error)
        return int(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError as error:
        if _pipe_closed(1) or _pipe_closed(2):
            raise
        output.error(_unexpected(error))
        return int(ExitCode.PARTIAL)
    except Exception as error:
        output.error(_unexpected(error))
        return int(ExitCode.PARTIAL)


def _unexpected(error: Exception) -> UnexpectedError:
    return UnexpectedError(
        f"unexpected {type(error).__name__}: {error}",
        hint="this is a bug in sync-models; please report it with the command you ran",
    )


def _pipe_closed(fd: int) -> bool:
    """True when `fd` is a pipe whose reader has gone (`sync-models doctor | head -1`)."""
    if not hasattr(select, "poll"):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _reader_went_away() -> int:
    """Stop quietly, as a command killed by SIGPIPE does (exit 141), with the closed streams
    pointed at /dev/null so Python's final flush has nowhere to fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        if _pipe_closed(fd):
            os.dup2(devnull, fd)
    os.close(devnull)
    return 128 + signal.SIGPIPE


def load_cli_settings(
    output: Output, env_file: Path | None, prod: bool, *, require_convex: bool = True
) -> Settings:
    """Settings for a command; their secrets are scrubbed from all output from here on.
    With `require_convex`, a missing deploy key is a configuration error."""
    from sync_client.settings import SELF_HOSTED_HINT, load_settings

    settings = load_settings(env_file=env_file, prod=prod, require_convex=require_convex)
    output.remember(settings.deploy_key)
    output.remember(settings.openrouter_api_key)
    if require_convex and settings.deploy_key is None:
        raise ConfigError(
            "CONVEX_DEPLOY_KEY is not set: the Convex functions are internal and need admin auth",
            hint="set CONVEX_DEPLOY_KEY (Convex dashboard → Settings → Deploy keys) in .env.local "
            f"or the environment; {SELF_HOSTED_HINT}",
        )
    return settings


@contextmanager
def open_store(url: str, key: RevealsSecret | None, timeout_s: float) -> Iterator[ConvexStore]:
    """A `ConvexStore` (the SDK loads only now, keeping `--help` fast)."""
    from sync_client.convex_store import ConvexStore

    with ConvexStore(url, key, timeout_s) as store:
        yield store
