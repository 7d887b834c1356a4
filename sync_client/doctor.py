"""`sync-models doctor`: is everything a sync needs in place? Checks, in order:

- settings: the env file is read, the required variables are set, the URLs acceptable;
- ranked-lists: both files parse (counts);
- openrouter: one GET of the models list (count; ranked ids it does not list → warn);
- convex: the deployment answers and accepts the deploy key within the deadline;
- functions: each function a sync calls is deployed and takes the arguments it sends;
- guard: the active models over the budget (SYNC_MAX_COST_PER_1M), and the active or ranked
  models OpenRouter is retiring (→ warn).

Nothing is written: every probe is a read, an empty batch, or a call that its arguments
validator refuses before the function runs (a mutation that throws writes nothing in Convex).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sync_client.errors import (
    ConfigError,
    ConvexCallError,
    ConvexUnavailableError,
    ExitCode,
    OpenRouterError,
    SyncModelsError,
)
from sync_client.safe_text import printable

if TYPE_CHECKING:
    from sync_client.convex_store import ConvexStore
    from sync_client.openrouter import Catalog
    from sync_client.rankings import RankedModel
    from sync_client.settings import Settings

Status = Literal["ok", "warn", "fail", "skipped"]
CHECK_NAMES = ("settings", "ranked-lists", "openrouter", "convex", "functions", "guard")
DEPLOY_HINT = (
    "add the functions to the app with `sync-models init`, then deploy them with "
    "`npx convex deploy` (see the README, In your Convex app)"
)
#: An id no model has: setActive answers NOT_FOUND.
PROBE_ID = "sync-models-doctor/probe-no-such-model"
#: A field no version of upsertModel takes: its validator refuses the call before it runs,
#: naming this field only once every field of the contract has passed.
PROBE_FIELD = "syncModelsDoctorProbe"
_MISSING_MARKER = "Could not find"
_MAX_LISTED = 5


@dataclass(frozen=True)
class Check:
    """One check's outcome; `exit_code` is what a `fail` means (2 setup, 3 unreachable)."""

    name: str
    status: Status
    detail: str
    hint: str | None = None
    exit_code: int = ExitCode.OK


@dataclass(frozen=True)
class DoctorOptions:
    """Where the settings and the ranked lists are, and each call's deadline."""

    env_file: Path | None = None
    prod: bool = False
    config_dir: Path = Path("convex/config")
    timeout_s: float = 30.0


def exit_code(checks: list[Check]) -> int:
    """The first failure's code (the order a sync would meet it in), else 0."""
    return next((check.exit_code for check in checks if check.status == "fail"), ExitCode.OK)


def _failed(name: str, error: SyncModelsError) -> Check:
    return Check(name, "fail", error.message, error.hint, int(error.exit_code))


def _skipped(name: str, why: str) -> Check:
    return Check(name, "skipped", why)


def _short_list(ids: list[str]) -> str:
    shown = ", ".join(ids[:_MAX_LISTED])
    return shown if len(ids) <= _MAX_LISTED else f"{shown} and {len(ids) - _MAX_LISTED} more"


def run_doctor(
    options: DoctorOptions, on_check: Callable[[Check], None] | None = None
) -> list[Check]:
    """Run every check in order; `on_check` sees each one as it finishes."""
    checks: list[Check] = []

    def add(check: Check) -> None:
        checks.append(check)
        if on_check is not None:
            on_check(check)

    settings, check = check_settings(options)
    add(check)
    ranked, check = check_ranked_lists(options.config_dir)
    add(check)
    catalog: Catalog | None = None
    if settings is None:
        add(_skipped("openrouter", "needs the settings check"))
    else:
        catalog, check = check_openrouter(settings, ranked, options.timeout_s)
        add(check)
    if settings is None or settings.convex_url is None or settings.deploy_key is None:
        why = "the settings check" if settings is None else "CONVEX_URL and CONVEX_DEPLOY_KEY"
        add(_skipped("convex", f"needs {why}"))
        add(_skipped("functions", "needs the convex check"))
        add(_skipped("guard", "needs the functions check"))
        return checks
    from sync_client.convex_store import ConvexStore

    try:
        store = ConvexStore(settings.convex_url, settings.deploy_key, options.timeout_s)
    except SyncModelsError as error:
        add(_failed("convex", error))
        add(_skipped("functions", "needs the convex check"))
        add(_skipped("guard", "needs the functions check"))
        return checks
    with store:
        check = check_convex(store)
        add(check)
        if check.status == "fail":
            add(_skipped("functions", "needs the convex check"))
            add(_skipped("guard", "needs the functions check"))
            return checks
        check = check_functions(store)
        add(check)
        if check.status == "fail":
            add(_skipped("guard", "needs the functions check"))
        else:
            add(check_guard(store, settings.max_cost_per_1m, ranked, catalog))
    return checks


# --- settings and ranked lists ------------------------------------------------------------------


def check_settings(options: DoctorOptions) -> tuple[Settings | None, Check]:
    """Settings as a sync loads them; a missing Convex URL or deploy key fails here."""
    from sync_client.settings import (
        DEFAULT_ENV_FILE,
        PROD_ENV_FILE,
        SELF_HOSTED_HINT,
        load_settings,
    )

    try:
        settings = load_settings(env_file=options.env_file, prod=options.prod, require_convex=False)
    except ConfigError as error:
        return None, _failed("settings", error)
    path = options.env_file or (PROD_ENV_FILE if options.prod else DEFAULT_ENV_FILE)
    source = f"read {path}" if path.is_file() else f"no {path}: the environment only"
    openrouter = f"OpenRouter {settings.openrouter_base_url} " + (
        "(API key set)" if settings.openrouter_api_key else "(no API key)"
    )
    missing = [
        name
        for name, value in (
            ("CONVEX_URL", settings.convex_url),
            ("CONVEX_DEPLOY_KEY", settings.deploy_key),
        )
        if value is None
    ]
    if missing:
        return settings, Check(
            "settings",
            "fail",
            f"{source}; {' and '.join(missing)} not set; {openrouter}",
            f"set {' and '.join(missing)} in {path} or the environment (see .env.local.example); "
            + SELF_HOSTED_HINT,
            ExitCode.USAGE,
        )
    detail = f"{source}; Convex {settings.convex_url}, deploy key set; {openrouter}"
    return settings, Check("settings", "ok", detail)


def check_ranked_lists(config_dir: Path) -> tuple[list[RankedModel] | None, Check]:
    """Both ranked lists parse; their counts."""
    from sync_client.rankings import load_rankings

    try:
        paid = load_rankings(config_dir, "paid")
        free = load_rankings(config_dir, "free")
        load_rankings(config_dir, "all")  # an id in both lists is an error too
    except SyncModelsError as error:
        return None, _failed("ranked-lists", error)
    detail = f"paid: {len(paid)} models, free: {len(free)} models ({config_dir})"
    return [*paid, *free], Check("ranked-lists", "ok", detail)


# --- OpenRouter -------------------------------------------------------------------------------


def check_openrouter(
    settings: Settings, ranked: list[RankedModel] | None, timeout_s: float
) -> tuple[Catalog | None, Check]:
    """One GET of the models list, no retries; ranked ids it does not list are a warning."""
    import httpx

    from sync_client.openrouter import RetryPolicy, fetch_catalog

    try:
        catalog: Catalog = fetch_catalog(
            settings.openrouter_base_url,
            api_key=settings.openrouter_api_key,
            policy=RetryPolicy(max_attempts=1, deadline_s=timeout_s),
            timeout=httpx.Timeout(timeout_s),
        )
    except OpenRouterError as error:
        return None, _failed("openrouter", error)
    listed = f"{len(catalog)} models listed"
    if ranked is None:
        return catalog, Check("openrouter", "ok", f"{listed} (ranked lists not checked against it)")
    unlisted = [model.api_id for model in ranked if model.api_id not in catalog]
    if not unlisted:
        return catalog, Check("openrouter", "ok", f"{listed}; every ranked id is among them")
    return catalog, Check(
        "openrouter",
        "warn",
        f"{listed}; {len(unlisted)} ranked id(s) not listed: {_short_list(unlisted)}",
        "a sync reports these as not listed by OpenRouter; fix the ids in the ranked lists "
        "(renamed or retired models)",
    )


# --- Convex -----------------------------------------------------------------------------------


def _is_missing(error: SyncModelsError) -> bool:
    return isinstance(error, ConvexUnavailableError) and _MISSING_MARKER in error.message


def check_convex(store: ConvexStore) -> Check:
    """The deployment answers an admin call within the deadline (a wrong deploy key never
    does: the SDK keeps reconnecting until the deadline)."""
    from sync_client.convex_store import LIST_HISTORY

    started = time.monotonic()
    try:
        store.call("query", LIST_HISTORY, {"limit": 1})
    except SyncModelsError as error:
        if not _is_missing(error) and not isinstance(error, ConvexCallError):
            return _failed("convex", error)
    elapsed_ms = (time.monotonic() - started) * 1000
    return Check(
        "convex", "ok", f"{store.host} answered with the deploy key in {elapsed_ms:.0f} ms"
    )


@dataclass(frozen=True)
class _FunctionProbe:
    label: str
    kind: Literal["query", "mutation"]
    path: str
    args: dict[str, object]
    #: The answer of a deployed, compatible function: a result, the ConvexError code its own
    #: checks raise for these args, or a refusal by its validator naming `_RefusesField`.
    expect: Callable[[object], bool] | str | _RefusesField


@dataclass(frozen=True)
class _RefusesField:
    field: str


def _probes() -> list[_FunctionProbe]:
    from sync_client.convex_store import (
        LIST_HISTORY,
        LIST_MODELS,
        RECORD_HISTORY,
        SET_ACTIVE,
        UPSERT_MODEL,
        UPSERT_MODELS,
    )

    # Every field upsertModel takes, valid, plus one it does not: the arguments validator
    # refuses the call before the function runs, even on a version without this project's
    # own checks (a deployment of the original app, say).
    upsert_args: dict[str, object] = {
        "apiIdentifier": PROBE_ID,
        "modelName": "probe",
        "provider": "probe",
        "slug": "probe",
        "contextWindow": 1,
        "isFree": False,
        "inputCostPer1MTokens": 1,
        "outputCostPer1MTokens": 0,
        "maxCompletionTokens": 1,
        "description": "probe",
        "openRouterCreatedAt": 0,
        PROBE_FIELD: True,
    }
    return [
        _FunctionProbe(
            "upsertModel", "mutation", UPSERT_MODEL, upsert_args, _RefusesField(PROBE_FIELD)
        ),
        _FunctionProbe(
            "upsertModels",
            "mutation",
            UPSERT_MODELS,
            {"models": []},
            lambda value: isinstance(value, Mapping) and value.get("results") == [],
        ),
        _FunctionProbe(
            "setActive",
            "mutation",
            SET_ACTIVE,
            {"apiIdentifier": PROBE_ID, "isActive": False},
            "NOT_FOUND",
        ),
        _FunctionProbe(
            "list", "query", LIST_MODELS, {"syncedOnly": True}, lambda v: isinstance(v, list)
        ),
        _FunctionProbe(
            "history list", "query", LIST_HISTORY, {"limit": 1}, lambda v: isinstance(v, list)
        ),
        _FunctionProbe(
            "recordSync",
            "mutation",
            RECORD_HISTORY,
            {"entries": []},
            lambda value: isinstance(value, Mapping) and value.get("recorded") == 0,
        ),
    ]


def _probe(store: ConvexStore, function: _FunctionProbe) -> str | None:
    """None when the function is deployed and compatible, else what is wrong with it."""
    try:
        value = store.call(function.kind, function.path, function.args)
    except ConvexCallError as error:
        code = error.data.get("code") if isinstance(error.data, Mapping) else None
        if isinstance(function.expect, str) and code == function.expect:
            return None
        if isinstance(function.expect, _RefusesField) and f"`{function.expect.field}`" in (
            error.message
        ):
            return None
        return f"incompatible ({error.message[:120]})"
    except ConvexUnavailableError as error:
        if _is_missing(error):
            return "not deployed"
        raise
    if isinstance(function.expect, _RefusesField):
        return f"incompatible (accepted a call with the unknown field {function.expect.field})"
    if isinstance(function.expect, str):
        return f"incompatible (accepted a call it should refuse with {function.expect})"
    return None if function.expect(value) else "incompatible (an unexpected result)"


def check_functions(store: ConvexStore) -> Check:
    """Each function a sync calls, probed with arguments that cannot write."""
    probes = _probes()
    problems: list[str] = []
    try:
        for function in probes:
            problem = _probe(store, function)
            if problem is not None:
                problems.append(f"{function.label} ({function.path}) {problem}")
    except ConvexUnavailableError as error:
        return _failed("functions", error)
    names = ", ".join(function.label for function in probes)
    if problems:
        return Check("functions", "fail", "; ".join(problems), DEPLOY_HINT, ExitCode.USAGE)
    return Check("functions", "ok", f"deployed and compatible: {names}")


def check_guard(
    store: ConvexStore,
    budget: float | None,
    ranked: list[RankedModel] | None,
    catalog: Catalog | None,
) -> Check:
    """What a sync's guard would raise now: active models over the budget, and active or
    ranked models OpenRouter is retiring (a date 30 days out or less, or past)."""
    from sync_client.alerts import GuardRules, budget_problem, expiring_warning
    from sync_client.mapping import expiration_date

    try:
        active = {str(row["apiIdentifier"]): row for row in store.list_active()}
    except SyncModelsError as error:
        if _is_missing(error):
            return Check("guard", "warn", "queries/aiModels:listActive not deployed", DEPLOY_HINT)
        return _failed("guard", error)
    problems: list[str] = []
    if budget is not None:
        over = [
            api_id
            for api_id, row in active.items()
            if budget_problem(
                row.get("inputCostPer1MTokens"), row.get("outputCostPer1MTokens"), budget
            )
            is not None
        ]
        if over:
            problems.append(f"{len(over)} active over ${budget:g}/1M: {_short_list(over)}")
    rules = GuardRules(budget)
    retiring: list[str] = []
    watched = [*active, *(model.api_id for model in ranked or ())]
    for api_id in dict.fromkeys(watched):
        try:
            model = None if catalog is None else catalog.get(api_id)
            warning = (
                None if model is None else expiring_warning(api_id, expiration_date(model), rules)
            )
        except (SyncModelsError, ValueError):
            continue  # a sync reports that model's own error
        if warning is not None:
            state = "active" if api_id in active else "inactive"
            retiring.append(f"{api_id} ({state}, {warning.expiration_date.isoformat()})")
    if retiring:
        problems.append(f"{len(retiring)} being retired: {_short_list(retiring)}")
    budget_note = "no budget set" if budget is None else f"budget ${budget:g}/1M"
    if not problems:
        return Check("guard", "ok", f"{len(active)} active; {budget_note}; none being retired")
    return Check(
        "guard",
        "warn",
        "; ".join(problems),
        "deactivate them (sync-models deactivate ID) or replace them in the ranked lists",
    )


# --- rendering --------------------------------------------------------------------------------


def render_check(check: Check) -> str:
    """`ok       settings      detail` (and an indented hint line); the detail and hint quote
    outside text (error messages, ids), shown escaped."""
    line = f"{check.status:<8} {check.name:<13} {printable(check.detail)}\n"
    return line + (f"{'':<23}hint: {printable(check.hint)}\n" if check.hint else "")


def doctor_document(checks: list[Check]) -> dict[str, object]:
    """The `--json` document: `{checks: [{name, status, detail, hint}]}`."""
    return {
        "checks": [
            {"name": c.name, "status": c.status, "detail": c.detail, "hint": c.hint} for c in checks
        ]
    }
