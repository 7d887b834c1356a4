"""The `sync-models` command: flags → settings → sync → rendered report and exit code.

Only what `--help` needs is imported at module level; the SDK, httpx and pydantic load when
a command runs. Running without a subcommand is the sync itself, so that later subcommands
(`sync-models status`, …) can sit next to it without breaking `sync-models --free`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sync_client.alerts import DEFAULT_EXPIRING_WITHIN_DAYS
from sync_client.api import DEFAULT_WORKERS, MAX_WORKERS
from sync_client.commands import register as register_subcommands
from sync_client.console import (
    DEFAULT_CONFIG_DIR,
    DEFAULT_TIMEOUT_S,
    Output,
    load_cli_settings,
    open_store,
    run_guarded,
    use_utf8_output,
)
from sync_client.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from sync_client.after_sync import AfterSync
    from sync_client.api import SyncList, SyncResult
    from sync_client.api import SyncOptions as LibraryOptions
    from sync_client.convex_types import ModelRow
    from sync_client.local import LocalBackendHandle
    from sync_client.settings import ListChoice
    from sync_client.sync import SyncReport

app = typer.Typer(
    name="sync-models",
    help="Sync ranked OpenRouter models into a Convex aiModels table.",
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    subcommand_metavar="[COMMAND]",
)


def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("sync-models")
        except PackageNotFoundError:  # run from a checkout that was never installed
            from sync_client import __version__ as number
        print(f"sync-models {number}")
        raise typer.Exit()


@dataclass(frozen=True)
class SyncOptions:
    """The sync command's flags, as given."""

    free: bool = False
    paid: bool = False
    all_lists: bool = False
    models: tuple[str, ...] = ()
    dry_run: bool = False
    json_output: bool = False
    prod: bool = False
    env_file: Path | None = None
    config_dir: Path = DEFAULT_CONFIG_DIR
    timeout_s: float = DEFAULT_TIMEOUT_S
    workers: int = DEFAULT_WORKERS
    local: bool = False
    deactivate_stale: bool = False
    catalog: bool = False
    max_cost_per_1m: float | None = None
    expiring_within: int = DEFAULT_EXPIRING_WITHIN_DAYS
    deactivate_over_budget: bool = False


@app.callback()
def sync_command(
    ctx: typer.Context,
    free: Annotated[bool, typer.Option("--free", help="Sync the ranked free models.")] = False,
    paid: Annotated[bool, typer.Option("--paid", help="Sync the ranked paid models.")] = False,
    all_lists: Annotated[
        bool, typer.Option("--all", help="Sync both lists (paid, then free).")
    ] = False,
    models: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            metavar="ID",
            help="Also sync this OpenRouter id (repeatable); alone, sync only these ids.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout.")
    ] = False,
    prod: Annotated[
        bool, typer.Option("--prod", help="Load .env.prod instead of .env.local.")
    ] = False,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", metavar="PATH", help="Load this env file.")
    ] = None,
    config_dir: Annotated[
        Path,
        typer.Option(
            "--config-dir",
            metavar="DIR",
            help="Directory holding topPaidModels.ts and topFreeModels.ts.",
        ),
    ] = DEFAULT_CONFIG_DIR,
    timeout_s: Annotated[
        float,
        typer.Option(
            "--timeout",
            metavar="S",
            min=0.1,
            help="Deadline for each Convex call and timeout of each OpenRouter request, "
            "in seconds.",
        ),
    ] = DEFAULT_TIMEOUT_S,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            metavar="N",
            min=1,
            max=MAX_WORKERS,
            help="How many per-model Convex calls may run at once (more are used only while "
            "calls are slow).",
        ),
    ] = DEFAULT_WORKERS,
    local: Annotated[
        bool,
        typer.Option("--local", help="Sync into a throwaway local backend (needs Node)."),
    ] = False,
    deactivate_stale: Annotated[
        bool,
        typer.Option(
            "--deactivate-stale",
            help="Set synced models that OpenRouter no longer lists inactive.",
        ),
    ] = False,
    catalog: Annotated[
        bool,
        typer.Option(
            "--catalog",
            help="Sync every model OpenRouter lists (batched), not a ranked list.",
        ),
    ] = False,
    max_cost_per_1m: Annotated[
        float | None,
        typer.Option(
            "--max-cost-per-1m",
            metavar="USD",
            min=0,
            help="Alert on active models whose input or output cost per 1M tokens is above "
            "this (default: SYNC_MAX_COST_PER_1M, else no budget).",
        ),
    ] = None,
    expiring_within: Annotated[
        int,
        typer.Option(
            "--expiring-within",
            metavar="DAYS",
            min=0,
            help="Alert on active models OpenRouter retires within this many days.",
        ),
    ] = DEFAULT_EXPIRING_WITHIN_DAYS,
    deactivate_over_budget: Annotated[
        bool,
        typer.Option(
            "--deactivate-over-budget",
            help="After writing, set the active models over the budget inactive.",
        ),
    ] = False,
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            expose_value=False,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """Sync ranked OpenRouter models into the Convex aiModels table.

    With no list flag, SYNC_MODEL_LIST (free, paid or all; default free, paid with --prod)
    picks the list.
    """
    options = SyncOptions(
        free=free,
        paid=paid,
        all_lists=all_lists,
        models=tuple(models or ()),
        dry_run=dry_run,
        json_output=json_output,
        prod=prod,
        env_file=env_file,
        config_dir=config_dir,
        timeout_s=timeout_s,
        workers=workers,
        local=local,
        deactivate_stale=deactivate_stale,
        catalog=catalog,
        max_cost_per_1m=max_cost_per_1m,
        expiring_within=expiring_within,
        deactivate_over_budget=deactivate_over_budget,
    )
    ctx.obj = options
    if ctx.invoked_subcommand is not None:
        return
    output = Output(json_mode=json_output)
    raise typer.Exit(run_guarded(output, lambda: run_sync(options, output)))


def chosen_list(options: SyncOptions, default: SyncList) -> SyncList | None:
    """The list flag given, the default when neither a flag nor `--model` is, else None."""
    given: tuple[tuple[SyncList, bool], ...] = (
        ("free", options.free),
        ("paid", options.paid),
        ("all", options.all_lists),
    )
    flags = [name for name, on in given if on]
    if options.catalog and (flags or options.models):
        raise ConfigError(
            "--catalog syncs every listed model; it takes no --free, --paid, --all or --model",
            hint="drop the list flags, or drop --catalog",
        )
    if options.catalog:
        return "catalog"
    if len(flags) > 1:
        raise ConfigError(
            "--free, --paid and --all are mutually exclusive",
            hint="pick one list; add single ids with --model ID",
        )
    if flags:
        return flags[0]
    return None if options.models else default


def library_options(
    options: SyncOptions, default_list: ListChoice, budget: float | None = None
) -> LibraryOptions:
    """The flags as the library's options (the default list and budget from the settings)."""
    from sync_client.api import SyncOptions as LibraryOptions

    return LibraryOptions(
        lists=chosen_list(options, default_list),
        models=options.models,
        dry_run=options.dry_run,
        deactivate_stale=options.deactivate_stale,
        max_cost_per_1m=budget if options.max_cost_per_1m is None else options.max_cost_per_1m,
        expiring_within_days=options.expiring_within,
        deactivate_over_budget=options.deactivate_over_budget,
        config_dir=options.config_dir,
        timeout_s=options.timeout_s,
        workers=options.workers,
    )


def run_sync(options: SyncOptions, output: Output) -> int:
    """The sync command's body; returns the exit code. Under GitHub Actions it also appends
    the run's markdown report to the job summary (`job_summary`)."""
    from sync_client.errors import SyncModelsError
    from sync_client.job_summary import render_failure_summary, render_sync_summary

    try:
        result, rows = _sync(options, output)
    except SyncModelsError as error:
        _write_job_summary(output, render_failure_summary(error))
        raise
    _render(result.report, rows, output, result.after)
    _write_job_summary(output, render_sync_summary(result.report, result.after))
    return result.exit_code


def _write_job_summary(output: Output, markdown: str) -> None:
    """Append to the job summary when GitHub Actions asks for one; a failure to write it is a
    warning, never the run's outcome."""
    from sync_client.job_summary import SUMMARY_VARIABLE, append_summary

    try:
        append_summary(markdown)
    except OSError as error:
        output.progress(f"warning: could not append to {SUMMARY_VARIABLE}: {error}")


def _sync(options: SyncOptions, output: Output) -> tuple[SyncResult, list[ModelRow] | None]:
    """Settings, the sync itself (in the local backend with `--local`), and that backend's rows."""
    import dataclasses

    from sync_client.api import sync
    from sync_client.progress_bar import progress_bar
    from sync_client.settings import Secret

    chosen_list(options, "free")  # flag conflicts are usage errors, whatever the settings
    settings = load_cli_settings(
        output, options.env_file, options.prod, require_convex=not options.local
    )
    request = library_options(options, settings.default_list, settings.max_cost_per_1m)
    local_context: AbstractContextManager[LocalBackendHandle | None] = nullcontext()
    if options.local:
        from sync_client.local import run_local_backend

        output.progress("starting the local backend")
        local_context = run_local_backend(progress=output.progress)
    with local_context as backend:
        if backend is not None:
            output.remember(backend.admin_key)
            settings = dataclasses.replace(
                settings, convex_url=backend.url, deploy_key=Secret(backend.admin_key.reveal())
            )
        with progress_bar() as bar:
            on_step = None if bar is None else bar.step
            result = sync(settings, request, progress=output.progress, on_step=on_step)
            if bar is not None and result.report.aborted is None:
                bar.finish()
        rows: list[ModelRow] | None = None
        if backend is not None and result.report.aborted is None:
            with open_store(backend.url, backend.admin_key, options.timeout_s) as store:
                rows = store.list_models()
    return result, rows


def _render(
    report: SyncReport,
    rows: list[ModelRow] | None,
    output: Output,
    after: AfterSync | None = None,
) -> None:
    from sync_client.commands import after_sync_document, render_after_sync
    from sync_client.report import render_human, render_rows, report_document

    if output.json_mode:
        document = report_document(report)
        if after is not None:
            document.update(after_sync_document(after))
        if rows is not None:
            document["localRows"] = rows
        output.document(document)
        return
    output.data(render_human(report))
    if report.guard_skipped is not None:
        output.progress(f"warning: {report.guard_skipped}")
    if after is not None:
        stale_text, notes = render_after_sync(after, report.dry_run)
        output.data(stale_text)
        for note in notes:
            output.progress(note)
    if rows is not None:
        output.data("\nRows in the local backend:\n" + render_rows(rows))
    if report.aborted is not None:
        output.error(report.aborted)


register_subcommands(app)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: also reports usage errors as JSON when `--json` was asked for."""
    use_utf8_output()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="sync-models", standalone_mode=False)
    except typer.TyperException as error:
        # Click's usage errors (unknown option, bad value) carry their own exit code (2).
        code = int(getattr(error, "exit_code", ExitCode.USAGE))
        format_message = getattr(error, "format_message", None)
        message = format_message() if callable(format_message) else str(error)
        if "--json" in args:
            Output(json_mode=True).error(ConfigError(message, hint="see sync-models --help"))
        elif callable(show := getattr(error, "show", None)):
            show()
        else:
            print(f"error: {message}", file=sys.stderr)
        sys.exit(code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)
