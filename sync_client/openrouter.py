"""Fetch and validate OpenRouter's model catalog: one GET of `{base}/models`, retried with care.

Validation happens in two steps, so that one malformed model cannot sink a whole sync:

- The response ENVELOPE is checked when the body arrives: JSON, an object with a `data` list,
  each entry an object with a string `id`. Any violation is one OpenRouterError naming the
  field, e.g. `data[12].id: expected a string, got 5`.
- Each MODEL is checked strictly when it is used (`Catalog.get`, iteration). Unknown keys and
  missing optional keys are fine, but the id must be an identifier (not empty, not too long,
  no whitespace or control characters), `pricing.prompt` / `pricing.completion` must be
  strings when present (OpenRouter sends decimal strings; a number would have lost precision
  already), token counts and `created` integers, `name` a string, and no string may hold a
  lone surrogate. A violation is that model's own MalformedModelError naming the field.

Parsing keeps only the fields the sync uses, as plain dicts of JSON values, which bounds
memory on a large list; the strict model is built on use.
"""

from __future__ import annotations

import json
import math
import random
import re
import socket
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Annotated, Any, Required
from urllib.parse import urlsplit

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic_core import PydanticCustomError
from tenacity import (
    RetryCallState,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
)
from tenacity.stop import stop_base
from typing_extensions import TypedDict  # pydantic needs this one on Python < 3.12

from . import __version__
from .errors import MalformedModelError, OpenRouterError
from .rankings import api_id_problem
from .redaction import redact, secret_fragments
from .settings import Secret

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_MAX_BODY_BYTES = 200 * 1024 * 1024
USER_AGENT = f"sync-models/{__version__}"


# --- the catalog -----------------------------------------------------------------------------


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _whole_text(value: str) -> str:
    """A string as JSON may carry it but no encoding can (`"\\udfff"`) is refused."""
    if not value.isascii() and _LONE_SURROGATE.search(value):
        raise PydanticCustomError("lone_surrogate", "holds a lone surrogate")
    return value


#: A string field: strict, and free of lone surrogates.
Text = Annotated[StrictStr, AfterValidator(_whole_text)]


class Pricing(BaseModel):
    """Per-token USD prices as decimal strings; other keys (request, image, ...) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    prompt: Text | None = None
    completion: Text | None = None


class TopProvider(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    context_length: StrictInt | None = None
    max_completion_tokens: StrictInt | None = None
    is_moderated: bool | None = None


class OpenRouterModel(BaseModel):
    """One entry of `data`, strictly validated: the fields the sync uses. Unknown keys are
    accepted and dropped (keeping them triples parse time and memory on a large list)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Text
    name: Text
    created: StrictInt | None = None
    description: Text | None = None
    context_length: StrictInt | None = None
    pricing: Pricing | None = None
    top_provider: TopProvider | None = None
    canonical_slug: Text | None = None
    expiration_date: Text | None = None


# The loose twins keep the same known fields as they came (any JSON value) in plain dicts, so
# that a wrong type is found when the model is used, not while the whole list is parsed. An
# absent key stays absent, so "missing" and "null" still read differently.
_OBJECT_OR_ANYTHING = Field(union_mode="left_to_right")


class _ListedPricing(TypedDict, total=False):
    prompt: Any
    completion: Any


class _ListedTopProvider(TypedDict, total=False):
    context_length: Any
    max_completion_tokens: Any
    is_moderated: Any


class ListedModel(TypedDict, total=False):
    """One entry of `data` as listed: a string `id` and the known fields, not yet checked."""

    id: Required[StrictStr]
    name: Any
    created: Any
    description: Any
    context_length: Any
    pricing: Annotated[_ListedPricing | Any, _OBJECT_OR_ANYTHING]
    top_provider: Annotated[_ListedTopProvider | Any, _OBJECT_OR_ANYTHING]
    canonical_slug: Any
    expiration_date: Any


class _ModelsEnvelope(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: list[ListedModel]


class Catalog:
    """The models list. `get` looks a model up by id (the first listing wins if repeated) and
    validates it; iteration yields every listing that validates and skips the others."""

    def __init__(self, models: Sequence[OpenRouterModel | ListedModel]) -> None:
        self.listed = list(models)
        self._by_id: dict[str, OpenRouterModel | ListedModel] = {}
        for model in self.listed:
            self._by_id.setdefault(_id_of(model), model)

    @property
    def models(self) -> list[OpenRouterModel]:
        """Every well-formed listing, validated now (a new list on each access)."""
        return list(self)

    def get(self, api_id: str) -> OpenRouterModel | None:
        """The model listed under `api_id`, None if unlisted; MalformedModelError if its data
        has an unexpected shape."""
        model = self._by_id.get(api_id)
        return None if model is None else validated(model)

    def ids(self) -> Iterator[str]:
        """Every listed id once, in listing order, well-formed or not."""
        return iter(self._by_id)

    def __contains__(self, api_id: object) -> bool:
        return api_id in self._by_id

    def __len__(self) -> int:
        return len(self.listed)

    def __iter__(self) -> Iterator[OpenRouterModel]:
        for model in self.listed:
            try:
                yield validated(model)
            except MalformedModelError:
                continue


def validated(model: OpenRouterModel | ListedModel) -> OpenRouterModel:
    """The strict model of a listing; a malformed id (empty, too long, whitespace or control
    characters) or a wrong type is a MalformedModelError naming the problem or the field."""
    if isinstance(model, OpenRouterModel):
        return model
    if (problem := api_id_problem(model["id"])) is not None:
        raise MalformedModelError(model["id"], f"malformed id: {problem}")
    try:
        return OpenRouterModel.model_validate(model)
    except ValidationError as exc:
        raise MalformedModelError(model["id"], _describe_model_error(exc)) from None


def _id_of(model: OpenRouterModel | ListedModel) -> str:
    return model.id if isinstance(model, OpenRouterModel) else model["id"]


def parse_catalog(body: bytes | str) -> Catalog:
    """Check a `/models` response's envelope; a problem is one OpenRouterError naming the field.
    The models themselves are checked on use (see `Catalog`).

    The strict JSON parser refuses a whole document for one string it cannot hold (a lone
    surrogate escape such as `"\\udfff"`); such a document is decoded again by `json`, so that
    the string is only its own model's problem."""
    try:
        envelope = _ModelsEnvelope.model_validate_json(body)
    except ValidationError as exc:
        decoded = _decoded_leniently(body) if _is_not_json(exc) else None
        if decoded is None:
            raise OpenRouterError(_describe_envelope_error(exc, body)) from None
        try:
            envelope = _ModelsEnvelope.model_validate(decoded)
        except ValidationError as lenient_exc:
            raise OpenRouterError(_describe_envelope_error(lenient_exc, body)) from None
    return Catalog(envelope.data)


def _is_not_json(exc: ValidationError) -> bool:
    return exc.errors(include_url=False)[0]["type"] == "json_invalid"


def _decoded_leniently(body: bytes | str) -> object | None:
    """`body` as Python's `json` decodes it, None if it cannot."""
    try:
        decoded: object = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return decoded


_TYPE_MESSAGES = {
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "list_type": "expected a list",
    "model_type": "expected an object",
    "dict_type": "expected an object",
    "model_attributes_type": "expected an object",
    "missing": "missing",
    "lone_surrogate": "holds a lone surrogate (half a character, which no encoding can carry)",
}


def _describe_envelope_error(exc: ValidationError, body: bytes | str) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return f"OpenRouter's response is not JSON: starts with {_snippet(body)!r}"
    if not first["loc"]:
        return "OpenRouter's response is not an object with a 'data' list of models"
    return f"OpenRouter's models list has an unexpected shape: {_describe_problems(errors)}"


def _describe_model_error(exc: ValidationError) -> str:
    problems = _describe_problems(exc.errors(include_url=False))
    return f"OpenRouter's data for this model has an unexpected shape: {problems}"


def _describe_problems(errors: Sequence[Any]) -> str:
    """`path: what was expected, got value` for the first error, and how many more there are."""
    first = errors[0]
    message = _TYPE_MESSAGES.get(first["type"], first["msg"])
    if first["type"] != "missing":
        message += f", got {_short_json(first.get('input'))}"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{_format_location(first['loc'])}: {message}{more}"


def _format_location(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _short_json(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")  # lone surrogates
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _snippet(body: bytes | str, limit: int = 40) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(text.strip().split())
    return text[:limit]


# --- fetching --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts AND a total deadline, both bound a fetch."""

    max_attempts: int = 5
    deadline_s: float = 60.0
    max_retry_after_s: float = 30.0
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 8.0


class _RetryableResponse(Exception):
    """An HTTP status worth retrying; carries what the server asked for."""

    def __init__(self, status: int, reason: str, retry_after_s: float | None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s


class _BodyTooSlow(Exception):
    """The body kept trickling in past the total deadline."""


class _BodyCorrupt(Exception):
    """The body declared gzip but is not a whole gzip stream (garbage, or cut short)."""


def fetch_catalog(
    base_url: str,
    *,
    api_key: Secret | None = None,
    policy: RetryPolicy = RetryPolicy(),
    timeout: httpx.Timeout | None = None,
    log: Callable[[str], None] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> Catalog:
    """GET `{base_url}/models` (retrying transient failures) and return the validated catalog."""
    body = get_with_retries(
        base_url.rstrip("/") + "/models",
        what="models list",
        api_key=api_key,
        policy=policy,
        timeout=timeout,
        log=log,
        max_body_bytes=max_body_bytes,
        refusal_hint=_refusal_hint,
        exhausted_hint="OpenRouter may be down or rate-limiting; try again in a few minutes",
    )
    return parse_catalog(body)


def get_with_retries(
    url: str,
    *,
    what: str,
    api_key: Secret | None = None,
    params: Mapping[str, str] | None = None,
    policy: RetryPolicy = RetryPolicy(),
    timeout: httpx.Timeout | None = None,
    log: Callable[[str], None] | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    refusal_hint: Callable[[int], str | None] | None = None,
    exhausted_hint: str | None = None,
) -> bytes:
    """One successful GET of an OpenRouter endpoint; `what` names it in messages.

    Transport errors, a corrupt gzip body and 408/429/500/502/503/504 are retried, honouring
    `Retry-After` up to `policy.max_retry_after_s`, else with jittered exponential backoff,
    until `policy.max_attempts` or `policy.deadline_s` (no sleep runs past the deadline). Each retry
    is reported through `log`. Anything else fails at once. Always an OpenRouterError, with
    the API key scrubbed from its text.
    """
    # gzip only: `_decoded_body` checks the stream is whole, which httpx's decoder does not.
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json", "Accept-Encoding": "gzip"}
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key.reveal()}"
    timeout = timeout or DEFAULT_TIMEOUT
    started = time.monotonic()
    deadline = started + policy.deadline_s
    secrets = secret_fragments(api_key)

    def scrub(text: str) -> str:
        return redact(text, secrets)

    def attempt(client: httpx.Client) -> bytes:
        remaining = max(deadline - time.monotonic(), 0.001)
        attempt_timeout = httpx.Timeout(
            connect=_at_most(timeout.connect, remaining),
            read=_at_most(timeout.read, remaining),
            write=_at_most(timeout.write, remaining),
            pool=_at_most(timeout.pool, remaining),
        )
        with client.stream("GET", url, params=params, timeout=attempt_timeout) as response:
            status = response.status_code
            if status in RETRYABLE_STATUSES:
                response.read()
                raise _RetryableResponse(
                    status, _error_message(response), _retry_after_seconds(response)
                )
            if status != 200:
                response.read()
                raise OpenRouterError(
                    scrub(_refusal_message(response, url, what)),
                    status_code=status,
                    hint=refusal_hint(status) if refusal_hint else None,
                )
            return _read_bounded(response, max_body_bytes, deadline)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, _RetryableResponse) and error.retry_after_s is not None:
            return min(error.retry_after_s, policy.max_retry_after_s)
        backoff = policy.initial_backoff_s * 2.0 ** (state.attempt_number - 1)
        return min(policy.max_backoff_s, backoff) * random.uniform(0.5, 1.0)

    def before_sleep(state: RetryCallState) -> None:
        if log is None:
            return
        error = state.outcome.exception() if state.outcome else None
        log(
            f"{scrub(_describe_failure(error))}; retrying in {state.upcoming_sleep:.1f} s "
            f"(attempt {state.attempt_number + 1}/{policy.max_attempts})"
        )

    retrying = Retrying(
        retry=retry_if_exception(_is_retryable),
        wait=wait,
        stop=stop_after_attempt(policy.max_attempts) | _StopBeforeDeadline(deadline),
        before_sleep=before_sleep,
        reraise=False,
    )
    with httpx.Client(headers=headers, follow_redirects=False) as client:
        try:
            return retrying(attempt, client)
        except RetryError as exc:
            last = exc.last_attempt
            elapsed = time.monotonic() - started
            if _is_name_resolution_failure(last.exception()):
                exhausted_hint = _unresolved_host_hint(url)
            raise OpenRouterError(
                scrub(
                    f"could not fetch OpenRouter's {what} from {url} "
                    f"({last.attempt_number} attempt{'s' if last.attempt_number != 1 else ''} "
                    f"in {elapsed:.1f} s); last: {_describe_failure(last.exception())}"
                ),
                status_code=getattr(last.exception(), "status", None),
                hint=exhausted_hint,
            ) from None


class _StopBeforeDeadline(stop_base):
    """Stop when the coming sleep would end at or past the deadline (a monotonic time)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() + (retry_state.upcoming_sleep or 0.0) >= self.deadline


def _is_retryable(error: BaseException) -> bool:
    return isinstance(
        error, httpx.TransportError | _RetryableResponse | _BodyTooSlow | _BodyCorrupt
    )


def _is_name_resolution_failure(error: BaseException | None) -> bool:
    """True when the host name did not resolve (DNS), wherever in the chain it was raised."""
    for _ in range(10):  # the chain is short (httpx, httpcore, socket); never loop forever
        if error is None:
            return False
        if isinstance(error, socket.gaierror):
            return True
        error = error.__cause__ or error.__context__
    return False


def _unresolved_host_hint(url: str) -> str:
    host = urlsplit(url).hostname or url
    return (
        f"{host} did not resolve: no network or no DNS, or a wrong OPENROUTER_BASE_URL. "
        "Offline, serve the project's copy of the models list on loopback and point "
        'OPENROUTER_BASE_URL at it (README, "No OpenRouter at hand")'
    )


def _at_most(value: float | None, limit: float) -> float:
    return limit if value is None else min(value, limit)


def _read_bounded(response: httpx.Response, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise OpenRouterError(
            f"OpenRouter's response is too large ({int(declared):,} bytes; "
            f"the limit is {max_bytes:,})"
        )
    chunks: list[bytes] = []
    size = 0
    for chunk in _decoded_body(response):
        size += len(chunk)
        if size > max_bytes:
            raise OpenRouterError(
                f"OpenRouter's response is too large (over the {max_bytes:,}-byte limit)"
            )
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise _BodyTooSlow()
    return b"".join(chunks)


def _decoded_body(response: httpx.Response) -> Iterator[bytes]:
    """The body as sent, un-gzipped if it says so. A gzip stream that is not valid or ends
    before its trailer is `_BodyCorrupt`: a fault in transit, retried like a cut-off body."""
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        yield from response.iter_raw()
        return
    if encoding not in ("gzip", "x-gzip"):
        raise OpenRouterError(
            f"OpenRouter's response uses Content-Encoding {encoding[:40]!r}, "
            "which sync-models does not accept (it asks for gzip or none)"
        )
    decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        for chunk in response.iter_raw():
            yield decoder.decompress(chunk)
        yield decoder.flush()
    except zlib.error as error:
        raise _BodyCorrupt(f"its gzip body is corrupt: {error}") from None
    if not decoder.eof:
        raise _BodyCorrupt("its gzip body ends before the end of the stream")


def _retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds from now (delta-seconds or an HTTP date); None if absent/bad."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if not math.isnan(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(moment.timestamp() - time.time(), 0.0)


def _error_message(response: httpx.Response) -> str:
    """OpenRouter's own `error.message` if the body has one, else the HTTP reason phrase."""
    try:
        message = response.json()["error"]["message"]
    except (ValueError, LookupError, TypeError):
        message = None
    if isinstance(message, str) and message.strip():
        return " ".join(message.split())[:300]
    return response.reason_phrase or "no reason given"


def _refusal_message(response: httpx.Response, url: str, what: str) -> str:
    status = response.status_code
    if 300 <= status < 400:
        location = response.headers.get("Location", "nowhere")
        return f"OpenRouter answered HTTP {status} (a redirect to {location}) for {url}"
    request = "request" if what == "models list" else f"{what} request"
    return f"OpenRouter refused the {request}: HTTP {status}: {_error_message(response)}"


def _refusal_hint(status: int) -> str | None:
    if status in (401, 403):
        return "check OPENROUTER_API_KEY (the models list also works without a key)"
    if status == 404 or 300 <= status < 400:
        return "check OPENROUTER_BASE_URL (it should end in /api/v1)"
    return None


def _describe_failure(error: BaseException | None) -> str:
    if isinstance(error, _RetryableResponse):
        return f"OpenRouter returned {error.status} ({error.reason})"
    if isinstance(error, _BodyTooSlow):
        return "OpenRouter's response was still arriving at the deadline"
    if isinstance(error, _BodyCorrupt):
        return f"OpenRouter's response could not be read: {error}"
    if isinstance(error, httpx.TimeoutException):
        return f"OpenRouter timed out ({type(error).__name__})"
    if isinstance(error, httpx.RemoteProtocolError):
        return f"the connection to OpenRouter broke mid-response ({error})"
    if isinstance(error, httpx.TransportError):
        return f"could not reach OpenRouter ({type(error).__name__}: {error})"
    return f"unexpected error ({type(error).__name__})"
