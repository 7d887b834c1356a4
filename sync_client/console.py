"""The CLI's boundary, shared by every command: output (secrets scrubbed, outside text shown
as data, `--json` kept to one document), failures turned into one message and an exit code,
settings and the store."""

from __future__ import annotations

import errno
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

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


#: What a shell reports for a command killed by SIGPIPE (128 + 13); the same number on every
#: OS, Windows included (which has no SIGPIPE), for a run whose reader went away.
EXIT_READER_GONE = 141


class _WatchedStream:
    """A text stream that notes when a write fails because its reader has gone."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as error:
            self._note(error)
            raise

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as error:
            self._note(error)
            raise

    def _note(self, error: OSError) -> None:
        # A closed pipe: EPIPE on POSIX; Windows reports EINVAL (or EPIPE) for the same.
        if isinstance(error, BrokenPipeError) or error.errno in (errno.EPIPE, errno.EINVAL):
            self.reader_gone = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def run_guarded(output: Output, action: Callable[[], int]) -> int:
    """Run a command body, turning every failure into one clean message and an exit code.
    Under `--json`, stdout receives nothing but the document (see `stdout_held`)."""
    watched = _WatchedStream(sys.stdout), _WatchedStream(sys.stderr)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = watched  # they pass every call on
    try:
        if output.json_mode:
            with stdout_held(output):
                return _run_guarded(output, action, watched)
        return _run_guarded(output, action, watched)
    except OSError:  # re-raised by _run_guarded only when stdout's or stderr's reader is gone
        return _reader_went_away(watched)
    finally:
        sys.stdout, sys.stderr = saved


def _run_guarded(
    output: Output, action: Callable[[], int], watched: tuple[_WatchedStream, ...]
) -> int:
    try:
        return action()
    except SyncModelsError as error:
        output.error(error)
        return int(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if isinstance(error, OSError) and any(stream.reader_gone for stream in watched):
            raise
        output.error(_unexpected(error))
        return int(ExitCode.PARTIAL)


def _unexpected(error: Exception) -> UnexpectedError:
    return UnexpectedError(
        f"unexpected {type(error).__name__}: {error}",
        hint="this is a bug in sync-models; please report it with the command you ran",
    )


def use_utf8_output() -> None:
    """Write stdout and stderr as UTF-8, whatever the OS. On Windows, Python encodes a pipe or
    a file with the ANSI code page (cp1252), which holds neither the report's ✅ nor most
    models' names: the first such write would fail. (A Windows console is UTF-8 already.)"""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and _codec(stream.encoding) != "utf-8":
            stream.reconfigure(encoding="utf-8")


def _codec(encoding: str | None) -> str:
    import codecs

    return codecs.lookup(encoding or "ascii").name


def _reader_went_away(watched: tuple[_WatchedStream, ...]) -> int:
    """Stop quietly, as a command killed by SIGPIPE does, with the closed streams pointed at
    the null device so Python's final flush has nowhere to fail."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd, stream in enumerate(watched, 1):
        if stream.reader_gone:
            os.dup2(devnull, fd)
    os.close(devnull)
    return EXIT_READER_GONE


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
