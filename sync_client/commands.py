"""The subcommands beside the sync — `rankings`, `history`, `status`, `activate`, `deactivate` —
and how what ran after a sync (sync_client.after_sync) is rendered.

`register(app)` adds the commands to cli.py's Typer app; each body runs under `run_guarded`,
so failures become one `error:` line (or a JSON error document) and an exit code.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sync_client.after_sync import AfterSync
from sync_client.console import (
    DEFAULT_CONFIG_DIR,
    DEFAULT_TIMEOUT_S,
    Output,
    load_cli_settings,
    open_store,
    run_guarded,
)
from sync_client.errors import ConfigError, ExitCode, SyncModelsError
from sync_client.safe_text import printable

if TYPE_CHECKING:
    from sync_client.convex_store import ConvexStore
    from sync_client.settings import Settings
    from sync_client.stale import Deactivation

JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
EnvFileFlag = Annotated[
    Path | None, typer.Option("--env-file", metavar="PATH", help="Load this env file.")
]
ProdFlag = Annotated[bool, typer.Option("--prod", help="Load .env.prod instead of .env.local.")]
TimeoutFlag = Annotated[
    float,
    typer.Option("--timeout", metavar="S", min=0.1, help="Deadline for each call, in seconds."),
]
ConfigDirFlag = Annotated[
    Path,
    typer.Option(
        "--config-dir",
        metavar="DIR",
        help="Directory holding topPaidModels.ts and topFreeModels.ts.",
    ),
]


def _guarded(json_output: bool, body: Callable[[Output], int]) -> None:
    output = Output(json_mode=json_output)
    raise typer.Exit(run_guarded(output, lambda: body(output)))


def _store(settings: Settings, timeout_s: float) -> AbstractContextManager[ConvexStore]:
    assert settings.convex_url is not None
    return open_store(settings.convex_url, settings.deploy_key, timeout_s)


# --- rankings ---------------------------------------------------------------------------------


def rankings_command(
    paid: Annotated[bool, typer.Option("--paid", help="Rank paid models.")] = False,
    free: Annotated[bool, typer.Option("--free", help="Rank free models.")] = False,
    top: Annotated[int, typer.Option("--top", min=1, max=50, help="How many to keep.")] = 10,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the diff; write nothing.")
    ] = False,
    start_date: Annotated[
        str | None, typer.Option("--start-date", metavar="YYYY-MM-DD", help="Window start.")
    ] = None,
    end_date: Annotated[
        str | None, typer.Option("--end-date", metavar="YYYY-MM-DD", help="Window end.")
    ] = None,
    config_dir: ConfigDirFlag = DEFAULT_CONFIG_DIR,
    json_output: JsonFlag = False,
    env_file: EnvFileFlag = None,
    prod: ProdFlag = False,
    timeout_s: TimeoutFlag = DEFAULT_TIMEOUT_S,
) -> None:
    """Rewrite topPaidModels.ts or topFreeModels.ts from OpenRouter's rankings API."""

    def body(output: Output) -> int:
        if paid == free:
            raise ConfigError(
                "pick exactly one of --paid and --free", hint="sync-models rankings --paid"
            )
        for flag, value in (("--start-date", start_date), ("--end-date", end_date)):
            if value is not None:
                _check_date(flag, value)
        settings = load_cli_settings(output, env_file, prod, require_convex=False)
        return run_rankings(
            output,
            settings,
            list_name="paid" if paid else "free",
            top=top,
            dry_run=dry_run,
            config_dir=config_dir,
            timeout_s=timeout_s,
            start_date=start_date,
            end_date=end_date,
        )

    _guarded(json_output, body)


def _check_date(flag: str, value: str) -> None:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{flag} must be a date like 2026-11-26, got {value!r}") from None


def run_rankings(
    output: Output,
    settings: Settings,
    *,
    list_name: str,
    top: int,
    dry_run: bool,
    config_dir: Path,
    timeout_s: float,
    start_date: str | None = None,
    end_date: str | None = None,
    today: dt.date | None = None,
) -> int:
    """Fetch catalog and rankings, pick the top ids, rewrite the list file (unless dry run)."""
    import httpx

    from sync_client.config_writer import apply_update, plan_update
    from sync_client.openrouter import fetch_catalog
    from sync_client.rankings_api import (
        RANKINGS_ATTRIBUTION,
        RANKINGS_LICENSE,
        RANKINGS_SOURCE,
        fetch_rankings,
        select_top,
    )

    if list_name not in ("paid", "free"):
        raise ConfigError(f"unknown list {list_name!r}")
    timeout = httpx.Timeout(timeout_s)
    # Rankings first: a missing or refused key fails before the models list is fetched.
    output.progress("fetching OpenRouter's daily rankings")
    window = fetch_rankings(
        settings.openrouter_base_url,
        api_key=settings.openrouter_api_key,
        start_date=start_date,
        end_date=end_date,
        timeout=timeout,
        log=output.progress,
    )
    output.progress("fetching the OpenRouter catalog")
    catalog = fetch_catalog(
        settings.openrouter_base_url,
        api_key=settings.openrouter_api_key,
        timeout=timeout,
        log=output.progress,
    )
    selection = select_top(window, catalog, "paid" if list_name == "paid" else "free", top)
    update = plan_update(
        config_dir,
        list_name,
        [pick.api_id for pick in selection.picks],
        today or dt.datetime.now(dt.UTC).date(),
    )
    written = False if dry_run else apply_update(update)
    diff = update.diff()
    if output.json_mode:
        output.document(
            {
                "list": list_name,
                "path": str(update.path),
                "dryRun": dry_run,
                "changed": update.changed,
                "written": written,
                "window": {
                    "startDate": window.start_date,
                    "endDate": window.end_date,
                    "asOf": window.as_of,
                },
                "attribution": {"source": RANKINGS_SOURCE, "license": RANKINGS_LICENSE},
                "picks": [
                    {"apiId": p.api_id, "rank": p.rank, "totalTokens": p.total_tokens}
                    for p in selection.picks
                ],
                "unmatchedPermaslugs": selection.unmatched,
                "diff": diff,
            }
        )
        return int(ExitCode.OK)
    start, end = printable(window.start_date or "?"), printable(window.end_date or "?")
    lines = [
        f"Top {len(selection.picks)} {list_name} models by tokens, {start} to {end} "
        f"(as of {printable(window.as_of or 'unknown')}):",
        *(
            f"  {p.rank:>2}. {printable(p.api_id)}  ({p.total_tokens:,} tokens)"
            for p in selection.picks
        ),
    ]
    if len(selection.picks) < top:
        lines.append(f"  (only {len(selection.picks)} ranked {list_name} models matched)")
    if selection.unmatched:
        lines.append(f"  {len(selection.unmatched)} ranked permaslugs match no listed model")
    lines += [RANKINGS_ATTRIBUTION, ""]
    if not update.changed:
        lines.append(f"{update.path} is already up to date.")
    else:
        lines.append(diff.rstrip("\n"))
        lines.append(
            f"Dry run: {update.path} was not written." if dry_run else f"Wrote {update.path}."
        )
    output.data("\n".join(lines) + "\n")
    return int(ExitCode.OK)


# --- history ----------------------------------------------------------------------------------


def history_command(
    api_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="One model's history.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=8192, help="At most N rows.")] = 50,
    json_output: JsonFlag = False,
    env_file: EnvFileFlag = None,
    prod: ProdFlag = False,
    timeout_s: TimeoutFlag = DEFAULT_TIMEOUT_S,
) -> None:
    """Show what changed for each model (or one model) at each sync, newest first."""
    from sync_client.history import history_document, render_history

    def body(output: Output) -> int:
        settings = load_cli_settings(output, env_file, prod)
        with _store(settings, timeout_s) as store:
            rows = store.history(api_id, limit)
        if output.json_mode:
            output.document(history_document(rows))
        else:
            output.data(render_history(rows))
        return int(ExitCode.OK)

    _guarded(json_output, body)


# --- status -----------------------------------------------------------------------------------


def status_command(
    max_cost_per_1m: Annotated[
        float | None,
        typer.Option(
            "--max-cost-per-1m",
            metavar="USD",
            min=0,
            help="Mark the active models above this budget (default: SYNC_MAX_COST_PER_1M).",
        ),
    ] = None,
    json_output: JsonFlag = False,
    env_file: EnvFileFlag = None,
    prod: ProdFlag = False,
    timeout_s: TimeoutFlag = DEFAULT_TIMEOUT_S,
) -> None:
    """List the synced models: active, free, costs, last synced, stale (OpenRouter no longer
    lists it, as a sync judges it) and, with a budget, over budget."""
    from sync_client.status import build_status, render_status, status_document

    def body(output: Output) -> int:
        settings = load_cli_settings(output, env_file, prod)
        listed = _listed_by_openrouter(settings, timeout_s, output)
        with _store(settings, timeout_s) as store:
            rows = store.list_models(synced_only=True)
        budget = settings.max_cost_per_1m if max_cost_per_1m is None else max_cost_per_1m
        status = build_status(
            rows, now_ms=time.time() * 1000, catalog_ids=listed, max_cost_per_1m=budget
        )
        if output.json_mode:
            output.document(status_document(status))
        else:
            output.data(render_status(status))
        return int(ExitCode.OK)

    _guarded(json_output, body)


def _listed_by_openrouter(settings: Settings, timeout_s: float, output: Output) -> set[str] | None:
    """The ids OpenRouter lists now (one request, no retries: status stays quick), or None
    with a warning."""
    import httpx

    from sync_client.openrouter import RetryPolicy, fetch_catalog

    try:
        catalog = fetch_catalog(
            settings.openrouter_base_url,
            api_key=settings.openrouter_api_key,
            policy=RetryPolicy(max_attempts=1, deadline_s=timeout_s),
            timeout=httpx.Timeout(timeout_s),
            log=output.progress,
        )
    except SyncModelsError as error:
        output.progress(f"warning: stale is unknown: {error}")
        return None
    return set(catalog.ids())


# --- activate / deactivate --------------------------------------------------------------------


def activate_command(
    api_ids: Annotated[list[str], typer.Argument(metavar="ID", help="Model ids.")],
    max_cost_per_1m: Annotated[
        float | None,
        typer.Option(
            "--max-cost-per-1m",
            metavar="USD",
            min=0,
            help="Refuse models whose input or output cost per 1M tokens is above this.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Activate even above the budget.")] = False,
    json_output: JsonFlag = False,
    env_file: EnvFileFlag = None,
    prod: ProdFlag = False,
    timeout_s: TimeoutFlag = DEFAULT_TIMEOUT_S,
) -> None:
    """Turn models on for the app; prints each model's costs."""
    _guarded(
        json_output,
        lambda output: _run_activation(
            output, api_ids, True, max_cost_per_1m, force, env_file, prod, timeout_s
        ),
    )


def deactivate_command(
    api_ids: Annotated[list[str], typer.Argument(metavar="ID", help="Model ids.")],
    json_output: JsonFlag = False,
    env_file: EnvFileFlag = None,
    prod: ProdFlag = False,
    timeout_s: TimeoutFlag = DEFAULT_TIMEOUT_S,
) -> None:
    """Turn models off for the app."""
    _guarded(
        json_output,
        lambda output: _run_activation(
            output, api_ids, False, None, False, env_file, prod, timeout_s
        ),
    )


def _run_activation(
    output: Output,
    api_ids: list[str],
    active: bool,
    max_cost_per_1m: float | None,
    force: bool,
    env_file: Path | None,
    prod: bool,
    timeout_s: float,
) -> int:
    from sync_client.activation import (
        exit_code,
        render_results,
        results_document,
        set_models_active,
    )

    settings = load_cli_settings(output, env_file, prod)
    with _store(settings, timeout_s) as store:
        results = set_models_active(
            store, api_ids, active=active, max_cost_per_1m=max_cost_per_1m, force=force
        )
    if output.json_mode:
        output.document(results_document(results))
    else:
        output.data(render_results(results))
    return exit_code(results)


# --- doctor -----------------------------------------------------------------------------------


def doctor_command(
    config_dir: ConfigDirFlag = DEFAULT_CONFIG_DIR,
    json_output: JsonFlag = False,
    env_file: EnvFileFlag = None,
    prod: ProdFlag = False,
    timeout_s: TimeoutFlag = DEFAULT_TIMEOUT_S,
) -> None:
    """Check the setup a sync needs (settings, ranked lists, OpenRouter, Convex, functions);
    writes nothing."""
    from sync_client.doctor import (
        DoctorOptions,
        doctor_document,
        exit_code,
        render_check,
        run_doctor,
    )

    def body(output: Output) -> int:
        _remember_secrets(output, env_file, prod)
        options = DoctorOptions(
            env_file=env_file, prod=prod, config_dir=config_dir, timeout_s=timeout_s
        )
        on_check = None if output.json_mode else (lambda c: output.data(render_check(c)))
        checks = run_doctor(options, on_check)
        if output.json_mode:
            output.document(doctor_document(checks))
        return exit_code(checks)

    _guarded(json_output, body)


# --- init -------------------------------------------------------------------------------------


def init_command(
    convex_dir: Annotated[
        Path | None,
        typer.Option(
            "--convex-dir",
            metavar="DIR",
            help="The app's Convex functions folder (default: convex.json's, else ./convex).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan; write nothing.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite function files that differ.")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Add the sync's Convex functions to this app: write them into convex/ and merge its
    schema.ts (keeping the app's fields and indexes). Then run `npx convex deploy`."""
    from sync_client.init_app import (
        apply_plan,
        default_convex_dir,
        plan_document,
        plan_init,
        refusal,
        render_plan,
    )
    from sync_client.report import error_document

    def body(output: Output) -> int:
        plan = plan_init(convex_dir or default_convex_dir(Path.cwd()), force=force)
        refused = refusal(plan) if plan.refused else None
        if refused is None and not dry_run:
            apply_plan(plan)
        if output.json_mode:
            document = plan_document(plan, dry_run=dry_run)
            if refused is not None:
                document.update(error_document(refused))
            output.document(document)
        else:
            output.data(render_plan(plan, dry_run=dry_run))
            if refused is not None:
                output.error(refused)
        return int(ExitCode.USAGE) if refused is not None else int(ExitCode.OK)

    _guarded(json_output, body)


def _remember_secrets(output: Output, env_file: Path | None, prod: bool) -> None:
    """Scrub the secrets of the settings from all output, if the settings can be read."""
    from sync_client.settings import load_settings

    try:
        settings = load_settings(env_file=env_file, prod=prod, require_convex=False)
    except SyncModelsError:
        return  # the settings check reports why
    output.remember(settings.deploy_key)
    output.remember(settings.openrouter_api_key)


def register(app: typer.Typer) -> None:
    """Add the subcommands to the `sync-models` app."""
    app.command("rankings")(rankings_command)
    app.command("history")(history_command)
    app.command("status")(status_command)
    app.command("activate")(activate_command)
    app.command("deactivate")(deactivate_command)
    app.command("doctor")(doctor_command)
    app.command("init")(init_command)


# --- after a sync -----------------------------------------------------------------------------


def render_after_sync(after: AfterSync, dry_run: bool) -> tuple[str, list[str]]:
    """(data for stdout, diagnostic lines for stderr): the stale report; the history lines."""
    from sync_client.stale import render_stale

    notes: list[str] = []
    if after.history_recorded is not None:
        notes.append(f"history: {after.history_recorded} change(s) recorded")
    if after.history_note is not None:
        notes.append(f"note: {after.history_note}")
    if after.history_error is not None and after.history_error == after.stale_error:
        notes.append(f"warning: history and stale models were not checked: {after.stale_error}")
    else:
        if after.history_error is not None:
            notes.append(f"warning: history was not recorded: {after.history_error}")
        if after.stale_error is not None:
            notes.append(f"warning: stale models: {after.stale_error}")
    if after.over_budget_error is not None:
        notes.append(f"warning: {after.over_budget_error}")
    stale_text = render_stale(after.stale, after.deactivated)
    if dry_run and after.deactivate_requested and after.stale:
        stale_text += "  (dry run: --deactivate-stale changed nothing)\n"
    stale_text += _over_budget_text(after.over_budget, dry_run)
    return ("\n" + stale_text if stale_text else ""), notes


def _over_budget_text(outcomes: Sequence[Deactivation], dry_run: bool) -> str:
    """`[OFF] id — over-budget` per model `--deactivate-over-budget` turned (or would turn) off."""
    from sync_client.safe_text import printable

    if not outcomes:
        return ""
    lines = ["Deactivated (over budget):" if not dry_run else "Would deactivate (over budget):"]
    for outcome in outcomes:
        if outcome.ok:
            lines.append(f"  [OFF] {printable(outcome.api_id)} — over-budget")
        else:
            lines.append(
                f"  [ERR] {printable(outcome.api_id)} — over-budget, deactivation failed: "
                f"{printable(outcome.error or '')}"
            )
    if dry_run:
        lines.append("  (dry run: --deactivate-over-budget changed nothing)")
    return "\n".join(lines) + "\n"


def after_sync_document(after: AfterSync) -> dict[str, Any]:
    """Keys added to the sync's `--json` document."""
    from sync_client.stale import stale_document

    document: dict[str, Any] = {"stale": stale_document(after.stale, after.deactivated)}
    if after.history_recorded is not None:
        document["historyRecorded"] = after.history_recorded
    if after.history_note is not None:
        document["historyNote"] = after.history_note
    if after.history_error is not None:
        document["historyError"] = after.history_error
    if after.stale_error is not None:
        document["staleError"] = after.stale_error
    document["deactivated"] = [
        {
            "apiId": outcome.api_id,
            "reason": "over-budget",
            "ok": outcome.ok,
            **({"error": outcome.error} if outcome.error is not None else {}),
        }
        for outcome in after.over_budget
    ]
    if after.over_budget_error is not None:
        document["deactivateError"] = after.over_budget_error
    return document
