"""The `sync-models` command: flags → settings → sync → rendered report and exit code.

Only what `--help` needs is imported at module level; the SDK, httpx and pydantic load when
a command runs. Running without a subcommand is the sync itself, so that later subcommands
(`sync-models status`, …) can sit next to it without breaking `sync-models --free`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sync_client.commands import register as register_subcommands
from sync_client.console import (
    DEFAULT_CONFIG_DIR,
    DEFAULT_TIMEOUT_S,
    Output,
    load_cli_settings,
    open_store,
    run_guarded,
)
from sync_client.errors import ConfigError, ExitCode, SyncModelsError

if TYPE_CHECKING:
    from sync_client.commands import AfterSync
    from sync_client.sync import ModelStore, SyncReport

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
    local: bool = False
    deactivate_stale: bool = False
    catalog: bool = False


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
    local: Annotated[
        bool,
        typer.Option("--local", help="Sync into a throwaway local backend (needs Node)."),
    ] = False,
    deactivate_stale: Annotated[
        bool,
        typer.Option(
            "--deactivate-stale",
            help="Set synced models in neither ranked list, or gone from OpenRouter, inactive.",
        ),
    ] = False,
    catalog: Annotated[
        bool,
        typer.Option(
            "--catalog",
            help="Sync every model OpenRouter lists (batched), not a ranked list.",
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

    With no list flag, SYNC_MODEL_LIST (free, paid or all; default free) picks the list.
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
        local=local,
        deactivate_stale=deactivate_stale,
        catalog=catalog,
    )
    ctx.obj = options
    if ctx.invoked_subcommand is not None:
        return
    output = Output(json_mode=json_output)
    raise typer.Exit(run_guarded(output, lambda: run_sync(options, output)))


def chosen_list(options: SyncOptions, default: str) -> str | None:
    """The list flag given, the default when neither a flag nor `--model` is, else None."""
    flags = [
        name
        for name, given in (
            ("free", options.free),
            ("paid", options.paid),
            ("all", options.all_lists),
        )
        if given
    ]
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


def run_sync(options: SyncOptions, output: Output) -> int:
    """The sync command's body; returns the exit code."""
    from sync_client.rankings import load_rankings
    from sync_client.settings import parse_list_choice
    from sync_client.sync import build_targets

    chosen_list(options, "free")  # flag conflicts are usage errors, whatever the settings
    settings = load_cli_settings(
        output, options.env_file, options.prod, require_convex=not options.local
    )
    choice = chosen_list(options, settings.default_list)
    ranked = (
        []
        if choice in (None, "catalog")
        else load_rankings(options.config_dir, parse_list_choice(choice))
    )
    targets = build_targets(ranked, options.models)
    if choice is None:
        label = "--model"
    elif options.models:
        label = f"{choice} + --model"
    else:
        label = choice

    fetched: list[Any] = []

    def fetch() -> Any:
        import httpx

        from sync_client.openrouter import fetch_catalog

        catalog = fetch_catalog(
            settings.openrouter_base_url,
            api_key=settings.openrouter_api_key,
            timeout=httpx.Timeout(options.timeout_s),
            log=output.progress,
        )
        fetched.append(catalog)
        return catalog

    local_context: AbstractContextManager[Any] = nullcontext()
    if options.local:
        from sync_client.local import run_local_backend

        output.progress("starting the local backend")
        local_context = run_local_backend()
    with local_context as backend:
        url = backend.url if backend is not None else settings.convex_url
        key = backend.admin_key if backend is not None else settings.deploy_key
        assert url is not None
        output.remember(key)

        def open_deployment() -> AbstractContextManager[ModelStore]:
            return open_store(url, key, options.timeout_s)

        report = _sync(targets, fetch, open_deployment, label, options, output)
        rows = None
        after = None
        if report.aborted is None:
            with open_store(url, key, options.timeout_s) as store:
                after = _follow_up(report, store, targets, choice, fetched, options, output)
                if backend is not None:
                    rows = store.list_models()
    _render(report, rows, output, after)
    if after is not None and not after.ok:
        return max(report.exit_code, int(ExitCode.PARTIAL))
    return report.exit_code


def _follow_up(
    report: SyncReport,
    store: Any,
    targets: Sequence[Any],
    choice: str | None,
    fetched: list[Any],
    options: SyncOptions,
    output: Output,
) -> AfterSync:
    """History, the stale report and `--deactivate-stale` (see sync_client.commands)."""
    from sync_client.commands import follow_up_sync

    return follow_up_sync(
        report,
        store,
        record_history=store.record_history,
        listed_ids=_listed_ids(choice, targets, fetched, options.config_dir, output),
        list_label="catalog" if choice == "catalog" else "paid or free",
        catalog_ids=set(fetched[0].ids()) if fetched else None,
        deactivate_stale=options.deactivate_stale,
    )


def _listed_ids(
    choice: str | None,
    targets: Sequence[Any],
    fetched: list[Any],
    config_dir: Path,
    output: Output,
) -> set[str] | None:
    """The ids a synced row must be among not to be stale, or None to judge by OpenRouter alone.

    A list sync compares with BOTH ranked lists (and the `--model` ids): after `--free`, a
    model of the paid list is still in use, not stale.
    """
    if choice == "catalog":
        return set(fetched[0].ids()) if fetched else None
    if choice is None:
        return None
    from sync_client.rankings import load_rankings

    try:
        ranked = load_rankings(config_dir, "all")
    except SyncModelsError as error:
        output.progress(f"warning: stale models judged by OpenRouter alone: {error}")
        return None
    return {model.api_id for model in ranked} | {target.api_id for target in targets}


def _sync(
    targets: Sequence[Any],
    fetch: Callable[[], Any],
    open_deployment: Callable[[], AbstractContextManager[ModelStore]],
    label: str,
    options: SyncOptions,
    output: Output,
) -> SyncReport:
    from sync_client.sync import sync_models

    if options.catalog:
        from sync_client.catalog_sync import sync_catalog

        return sync_catalog(
            fetch_catalog=fetch,
            open_store=open_deployment,  # type: ignore[arg-type]  # ConvexStore is both stores
            dry_run=options.dry_run,
            progress=output.progress,
        )
    return sync_models(
        targets,
        fetch_catalog=fetch,
        open_store=open_deployment,
        list_synced=label,
        dry_run=options.dry_run,
        progress=output.progress,
    )


def _render(
    report: SyncReport,
    rows: list[dict[str, Any]] | None,
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
    if after is not None:
        stale_text, notes = render_after_sync(after, report.dry_run)
        output.data(stale_text)
        if notes:
            output.progress(notes)
    if rows is not None:
        output.data("\nRows in the local backend:\n" + render_rows(rows))
    if report.aborted is not None:
        output.error(report.aborted)


register_subcommands(app)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: also reports usage errors as JSON when `--json` was asked for."""
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
