"""The Convex side of a sync: the official `ConvexClient` with admin auth, every call bounded.

The SDK has no timeout: an unreachable host is retried forever and a wrong admin key makes it
reconnect forever. Its clients therefore run in worker processes (`worker_pool`), which the
caller waits on with a deadline and kills at it, from any thread and on any OS; a breach
becomes `ConvexUnavailableError` (the deployment never answered) or `ConvexDeadlineError` (it
answered earlier, this call got no answer). Several threads may call one store at once: each
call gets a worker of its own (up to `workers`).

Batched calls are cut to fit Convex's limits (https://docs.convex.dev/production/state/limits):
by item count and by encoded size, and a model whose document Convex could not store is that
model's own error, never sent.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from sync_client.errors import (
    ConfigError,
    ConvexCallError,
    ConvexDeadlineError,
    ConvexUnavailableError,
)
from sync_client.redaction import RevealsSecret, redact, secret_fragments
from sync_client.worker_pool import CallTimedOut, WorkerGone, WorkerPool, WorkerStartFailed

if TYPE_CHECKING:
    from sync_client.convex_types import ModelRow

UPSERT_MODEL = "mutations/syncModels:upsertModel"
UPSERT_MODELS = "mutations/syncModels:upsertModels"
LIST_MODELS = "queries/aiModels:list"
LIST_ACTIVE_MODELS = "queries/aiModels:listActive"
SET_ACTIVE = "mutations/activation:setActive"
RECORD_HISTORY = "mutations/history:recordSync"
LIST_HISTORY = "queries/history:list"

#: The most items one batched call sends: `upsertModels` and `recordSync` accept up to 1,024
#: (`convex/lib/limits.ts` derives that from Convex's per-transaction limits).
BATCH_SIZE = 1024
#: The most bytes (compact UTF-8 JSON) one batched call sends. The functions accept about
#: 1.75 MiB of items by Convex's own size measure (which differs from JSON's by a few bytes an
#: item), keeping a call's reads and writes under a quarter of Convex's 16 MiB.
MAX_BATCH_BYTES = 1536 * 1024
#: The largest model the client sends: Convex stores at most 1 MiB per document, and
#: `upsertModel` adds a few fields (and the system fields) to the arguments.
MAX_DOCUMENT_BYTES = (1 << 20) - 16 * 1024

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


def is_function_missing(error: ConvexUnavailableError) -> bool:
    """Whether the deployment refused a call because it has no such function."""
    return any(marker in error.message for marker in _NOT_FOUND_MARKERS)


def encoded_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON (what batches are measured in)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def chunk_items(
    items: Sequence[Mapping[str, Any]],
    *,
    max_items: int = BATCH_SIZE,
    max_bytes: int = MAX_BATCH_BYTES,
) -> Iterator[range]:
    """Index ranges over `items`, each at most `max_items` long and `max_bytes` encoded
    (a single item larger than `max_bytes` gets a range of its own)."""
    if max_items < 1:
        raise ValueError("max_items must be at least 1")
    start = 0
    size = 2  # the enclosing brackets
    for index, item in enumerate(items):
        item_size = encoded_size(item) + 1  # its comma
        if index > start and (index - start >= max_items or size + item_size > max_bytes):
            yield range(start, index)
            start, size = index, 2
        size += item_size
    if start < len(items):
        yield range(start, len(items))


def oversized_model(args: Mapping[str, Any]) -> str | None:
    """Why Convex could not store this model's document, or None if it can."""
    size = encoded_size(args)
    if size <= MAX_DOCUMENT_BYTES:
        return None
    largest = max(args, key=lambda field: encoded_size(args[field]))
    return (
        f"too large for Convex: the model's document would take {size:,} bytes "
        f"({largest}: {encoded_size(args[largest]):,}); Convex stores at most 1 MiB per "
        "document, so it was not sent"
    )


class ConvexStore:
    """The deployment's aiModels functions, called with admin auth under a per-call deadline.

    `timeout_s=None` disables the deadline. `workers` is how many calls may run at once (the
    pool grows to it only while calls are slow); `expected_calls`, about how many the caller
    will make, lets it grow for them as soon as the first call is slow.
    """

    def __init__(
        self,
        url: str,
        deploy_key: RevealsSecret | None,
        timeout_s: float | None = 30.0,
        *,
        workers: int = 1,
        expected_calls: int = 0,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"not a deployment URL: {url!r}", hint="set CONVEX_URL to https://…")
        self.host = parts.netloc
        self.timeout_s = timeout_s
        # Whether the deployment has answered a call (it is reachable and took the key).
        self._answered = False
        self._secrets = secret_fragments(deploy_key)
        #: A `recordSync` call was resent after a lost connection (see `record_history`).
        self.history_resent = False
        self._pool: WorkerPool | None = WorkerPool(url, deploy_key, max_workers=workers)
        self._pool.expect(expected_calls)
        self._pool.start()  # the first worker starts while the caller does other work

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
        """Stop the worker processes (a call still in flight in another thread fails)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    # --- calls -----------------------------------------------------------------------------

    def upsert(self, args: Mapping[str, object]) -> UpsertOutcome:
        """`upsertModel`: insert (inactive) or update one model's metadata."""
        problem = oversized_model(args)
        if problem is not None:
            raise ConvexCallError(problem)
        result = self._mutation(UPSERT_MODEL, dict(args))
        return UpsertOutcome(action=result["action"], id=str(result["id"]))

    def upsert_many(self, items: Sequence[Mapping[str, object]]) -> list[BatchItemResult]:
        """`upsertModels` in chunks within Convex's limits; `results[i]` is item i's outcome.
        A bad item is reported in its result (one too large for Convex is not sent), the rest
        land."""
        results: list[BatchItemResult | None] = [None] * len(items)
        send: list[int] = []
        for index, item in enumerate(items):
            problem = oversized_model(item)
            if problem is None:
                send.append(index)
            else:
                api_id = str(item.get("apiIdentifier"))
                results[index] = BatchItemResult(api_identifier=api_id, ok=False, error=problem)
        for indexes in self._chunks([items[i] for i in send]):
            chunk = send[indexes.start : indexes.stop]
            response = self._mutation(UPSERT_MODELS, {"models": [dict(items[i]) for i in chunk]})
            answers = response["results"]
            if len(answers) != len(chunk):
                raise ConvexCallError(
                    f"upsertModels answered {len(answers)} results for {len(chunk)}"
                )
            for index, answer in zip(chunk, answers, strict=True):
                results[index] = self._batch_item(answer)
        return [result for result in results if result is not None]

    @staticmethod
    def _chunks(items: Sequence[Mapping[str, Any]]) -> Iterator[range]:
        return chunk_items(items, max_items=BATCH_SIZE, max_bytes=MAX_BATCH_BYTES)

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

    def list_models(self, synced_only: bool = False) -> list[ModelRow]:
        """The aiModels rows (only those synced from OpenRouter with `synced_only`)."""
        args = {"syncedOnly": True} if synced_only else {}
        return list(self._call("query", LIST_MODELS, args))

    def list_active(self) -> list[ModelRow]:
        """The active aiModels rows (what the guard compares a sync's new prices with)."""
        return list(self._call("query", LIST_ACTIVE_MODELS, {}))

    def set_active(self, api_id: str, is_active: bool) -> ModelRow:
        """Flip a model's `isActive`; returns the row's new state."""
        row: ModelRow = self._mutation(SET_ACTIVE, {"apiIdentifier": api_id, "isActive": is_active})
        return row

    def record_history(
        self, entries: Sequence[Mapping[str, object]], *, new_ids: Collection[str] = ()
    ) -> int:
        """Record this sync's per-model values (in chunks within Convex's limits); returns how
        many history rows were added.

        `new_ids` are the models this run inserted: their first entry is always news. Should
        one come back "unchanged", the SDK resent the call after a lost connection and its
        first attempt recorded the rows: those count, and `history_resent` says that other
        rows that attempt added cannot be counted."""
        recorded = 0
        for indexes in self._chunks(entries):
            chunk = [dict(entry) for entry in entries[indexes.start : indexes.stop]]
            response = self._mutation(RECORD_HISTORY, {"entries": chunk})
            recorded += int(response["recorded"])
            replayed = sum(
                1
                for result in response.get("results", ())
                if result.get("status") == "unchanged" and result.get("apiIdentifier") in new_ids
            )
            if replayed:
                recorded += replayed
                self.history_resent = True
        return recorded

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
        pool = self._pool
        if pool is None:
            raise RuntimeError("ConvexStore is closed")
        try:
            answer = pool.call(("call", kind, name, args, self.timeout_s), self.timeout_s)
        except CallTimedOut:
            if self._answered:
                raise ConvexDeadlineError(
                    f"{name} got no answer from {self.host} within {self.timeout_s:g} s; it may "
                    "still have landed, and rerunning is safe (upserts are idempotent)",
                    hint="allow more time with --timeout",
                ) from None
            raise ConvexUnavailableError(
                f"cannot reach or authenticate to {self.host} within {self.timeout_s:g} s",
                hint="check CONVEX_URL and CONVEX_DEPLOY_KEY, or allow more time with --timeout",
            ) from None
        except WorkerGone as gone:
            raise ConvexUnavailableError(
                f"the process calling {self.host} stopped during {name} ({gone})",
                hint="rerunning is safe (upserts are idempotent)",
            ) from None
        except WorkerStartFailed as failed:
            raise ConvexUnavailableError(
                self._redact(str(failed)),
                hint="check that the `convex` package is installed for this Python",
            ) from None
        status = answer[0]
        if status == "ok":
            self._answered = True
            return answer[1]
        message = self._redact(str(answer[1]))
        if status == "convex_error":
            self._answered = True
            raise ConvexCallError(message, data=answer[2])
        if message.strip() == _CONNECTION_LOST:
            raise ConvexUnavailableError(
                f"cannot reach or authenticate to {self.host}: the connection closed",
                hint="check CONVEX_URL and that the deployment is up",
            )
        if any(marker in message for marker in _NOT_FOUND_MARKERS):
            raise ConvexUnavailableError(
                f"{self.host} refused {name}: {message}",
                hint="the functions are internal: set CONVEX_DEPLOY_KEY to the deployment's "
                "deploy key, and deploy them with `npx convex deploy`",
            )
        self._answered = True
        raise ConvexCallError(f"{name} failed: {message}")

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)
