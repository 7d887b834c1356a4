"""The errors sync-models raises on purpose, each carrying the process exit code it maps to."""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path
from typing import ClassVar


class ExitCode(IntEnum):
    """Process exit codes of the CLI."""

    OK = 0
    PARTIAL = 1
    USAGE = 2
    UNAVAILABLE = 3
    #: The sync ran, but an active model got dearer, stopped being free, is over the budget
    #: or is being retired (with or without model errors): a person should look.
    ALERTS = 4


class SyncModelsError(Exception):
    """Base of every expected failure; the CLI prints it (and its hint) without a traceback."""

    exit_code: ClassVar[int] = ExitCode.PARTIAL
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(SyncModelsError):
    """Bad usage or configuration (env files, settings, flags)."""

    exit_code: ClassVar[int] = ExitCode.USAGE


class RankingsError(ConfigError):
    """A ranked-list config file could not be read or does not have the expected form."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.column = column
        self.detail = message
        location = str(self.path)
        if line is not None:
            location += f":{line}"
            if column is not None:
                location += f":{column}"
        super().__init__(f"{location}: {message}", hint=hint)


class OpenRouterError(SyncModelsError):
    """OpenRouter could not be reached, refused the request, or sent an unusable body."""

    exit_code: ClassVar[int] = ExitCode.UNAVAILABLE

    def __init__(
        self, message: str, *, status_code: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code


class ConvexUnavailableError(SyncModelsError):
    """The Convex deployment could not be reached or authenticated against within the deadline."""

    exit_code: ClassVar[int] = ExitCode.UNAVAILABLE


class ConvexDeadlineError(ConvexUnavailableError):
    """A deployment that had answered gave one call no answer within the deadline."""


class ConvexCallError(SyncModelsError):
    """A single Convex function call failed; `data` holds a ConvexError's payload, if any."""

    exit_code: ClassVar[int] = ExitCode.PARTIAL

    def __init__(self, message: str, *, data: object = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.data = data


class MalformedModelError(SyncModelsError):
    """One model in OpenRouter's list has an unexpected shape: that model fails, not the run."""

    exit_code: ClassVar[int] = ExitCode.PARTIAL

    def __init__(self, api_id: str, message: str) -> None:
        super().__init__(message)
        self.api_id = api_id
