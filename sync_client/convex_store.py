"""The Convex side of a sync: the official `ConvexClient` with admin auth, every call bounded.

The SDK has no timeout: an unreachable host is retried forever and a wrong admin key makes it
reconnect forever. Each call therefore runs under a SIGALRM deadline (the SDK checks for
signals about once a second), and a breach becomes `ConvexUnavailableError`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from sync_client.errors import ConfigError, ConvexCallError, ConvexUnavailableError
from sync_client.redaction import RevealsSecret, redact, secret_fragments

if TYPE_CHECKING:
    from convex import ConvexClient

UPSERT_MODEL = "mutations/syncModels:upsertModel"
UPSERT_MODELS = "mutations/syncModels:upsertModels"
LIST_MODELS = "queries/aiModels:list"
SET_ACTIVE = "mutations/activation:setActive"
RECORD_HISTORY = "mutations/history:recordSync"
LIST_HISTORY = "queries/history:list"

#: The most items one call sends (upsertModels, recordSync): Convex arrays hold at most 8,192;
#: half of that also stays far under the 16 MiB a call's arguments may take.
BATCH_SIZE = 4096

_NOT_FOUND_MARKERS = ("Could not find public function", "Could not find function")
# The SDK's worker gives up on a connection it never made with this bare message (seen with a
# refused connection on a process's first client); the call did not reach any function.
_CONNECTION_LOST = "channel closed"


@dataclass(frozen=True)
class UpsertOutcome:
    """What upsertModel did to one row."""

    action: Literal["inserted", "updated"]
    id: str


@dataclass(frozen=True)
class BatchItemResult:
    """One item of upsertModels: `action`/`id` when it landed, `error`/`data` when not."""

    api_identifier: str
    ok: bool
    action: Literal["inserted", "updated"] | None = None
    id: str | None = None
    error: str | None = None
    data: Any = None


class _DeadlineExceeded(Exception):
    """Raised from the SIGALRM handler inside a blocked SDK call."""


class ConvexStore:
    """The deployment's aiModels functions, called with admin auth under a per-call deadline.

    `timeout_s=None` disables the deadline (the only way to use the store off the main
    thread, where SIGALRM cannot be delivered).
    """

    def __init__(
        self, url: str, deploy_key: RevealsSecret | None, timeout_s: float | None = 30.0
    ) -> None:
        from convex import ConvexClient

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"not a deployment URL: {url!r}", hint="set CONVEX_URL to https://…")
        self.host = parts.netloc
        self.timeout_s = timeout_s
        self._secrets = secret_fragments(deploy_key)
        self._client: ConvexClient | None = ConvexClient(url)
        if deploy_key is not None:
            self._client.set_admin_auth(deploy_key.reveal())

    def __repr__(self) -> str:
        return f"ConvexStore(host={self.host!r}, timeout_s={self.timeout_s!r})"

    def __enter__(self) -> ConvexStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Drop the client; the SDK closes its WebSocket when the client is released."""
        self._client = None

    # --- calls -----------------------------------------------------------------------------

    def upsert(self, args: Mapping[str, Any]) -> UpsertOutcome:
        """`upsertModel`: insert (inactive) or update one model's metadata."""
        result = self._mutation(UPSERT_MODEL, dict(args))
        return UpsertOutcome(action=result["action"], id=str(result["id"]))

    def upsert_many(self, items: Sequence[Mapping[str, Any]]) -> list[BatchItemResult]:
        """`upsertModels` in chunks; a bad item is reported in its result, the rest land."""
        results: list[BatchItemResult] = []
        for start in range(0, len(items), BATCH_SIZE):
            chunk = [dict(item) for item in items[start : start + BATCH_SIZE]]
            response = self._mutation(UPSERT_MODELS, {"models": chunk})
            results.extend(self._batch_item(item) for item in response["results"])
        return results

    def _batch_item(self, item: Mapping[str, Any]) -> BatchItemResult:
        error = item.get("error")
        data = item.get("data")
        if isinstance(error, Mapping):  # the error data object itself, `{code, field?, message}`
            data, error = error, error.get("message")
        return BatchItemResult(
            api_identifier=item["apiIdentifier"],
            ok=bool(item["ok"]),
            action=item.get("action"),
            id=None if item.get("id") is None else str(item["id"]),
            error=None if error is None else self._redact(str(error)),
            data=data,
        )

    def list_models(self, synced_only: bool = False) -> list[dict[str, Any]]:
        """The aiModels rows (only those synced from OpenRouter with `synced_only`)."""
        args = {"syncedOnly": True} if synced_only else {}
        return list(self._call("query", LIST_MODELS, args))

    def set_active(self, api_id: str, is_active: bool) -> dict[str, Any]:
        """Flip a model's `isActive`; returns the row's new state."""
        return dict(self._mutation(SET_ACTIVE, {"apiIdentifier": api_id, "isActive": is_active}))

    def record_history(self, entries: Sequence[Mapping[str, Any]]) -> int:
        """Record this sync's per-model values; returns how many history rows were added."""
        response = self._mutation(RECORD_HISTORY, {"entries": [dict(e) for e in entries]})
        return int(response["recorded"])

    def history(self, api_id: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """History rows, newest first."""
        args: dict[str, Any] = {}
        if api_id is not None:
            args["apiIdentifier"] = api_id
        if limit is not None:
            args["limit"] = limit
        return list(self._call("query", LIST_HISTORY, args))

    def call(
        self, kind: Literal["query", "mutation"], name: str, args: Mapping[str, Any]
    ) -> object:
        """Any function, under the same deadline and error mapping (`doctor`'s probes)."""
        return self._call(kind, name, dict(args))

    # --- machinery --------------------------------------------------------------------------

    def _mutation(self, name: str, args: dict[str, Any]) -> Any:
        return self._call("mutation", name, args)

    def _call(self, kind: Literal["query", "mutation"], name: str, args: dict[str, Any]) -> Any:
        from convex import ConvexError

        client = self._client
        if client is None:
            raise RuntimeError("ConvexStore is closed")
        method: Callable[[str, dict[str, Any]], Any] = getattr(client, kind)
        self._check_thread()
        try:
            with self._deadline():
                return method(name, args)
        except _DeadlineExceeded:
            raise ConvexUnavailableError(
                f"cannot reach or authenticate to {self.host} within {self.timeout_s:g} s",
                hint="check CONVEX_URL and CONVEX_DEPLOY_KEY, or allow more time with --timeout",
            ) from None
        except ConvexError as error:
            raise ConvexCallError(self._redact(str(error)), data=error.data) from None
        except Exception as error:  # the SDK raises plain Exception for a function's failure
            message = self._redact(str(error))
            if message.strip() == _CONNECTION_LOST:
                raise ConvexUnavailableError(
                    f"cannot reach or authenticate to {self.host}: the connection closed",
                    hint="check CONVEX_URL and that the deployment is up",
                ) from None
            if any(marker in message for marker in _NOT_FOUND_MARKERS):
                raise ConvexUnavailableError(
                    f"{self.host} refused {name}: {message}",
                    hint="the functions are internal: set CONVEX_DEPLOY_KEY to the deployment's "
                    "deploy key, and deploy them with `npx convex deploy`",
                ) from None
            raise ConvexCallError(f"{name} failed: {message}") from None

    def _check_thread(self) -> None:
        if self.timeout_s is not None and threading.current_thread() is not threading.main_thread():
            raise RuntimeError(
                "ConvexStore enforces its deadline with SIGALRM, which works only on the main "
                "thread; call it from there or pass timeout_s=None"
            )

    @contextmanager
    def _deadline(self) -> Iterator[None]:
        timeout = self.timeout_s
        if timeout is None:
            yield
            return
        armed = True

        def on_alarm(_signum: int, _frame: FrameType | None) -> None:
            if armed:
                raise _DeadlineExceeded

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            yield
        finally:
            armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)
