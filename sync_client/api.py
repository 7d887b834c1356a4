"""The whole sync as one typed call: fetch → map → write → history and stale → report.

The CLI maps its flags to `SyncOptions` and renders the `SyncResult`; a script or a
notebook calls the same function without Typer:

    from sync_client.api import SyncOptions, sync
    from sync_client.settings import load_settings

    result = sync(load_settings(), SyncOptions(lists="free"))

Heavy modules (the SDK, httpx, pydantic) load when `sync` runs, not on import.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sync_client.alerts import DEFAULT_EXPIRING_WITHIN_DAYS
from sync_client.errors import ConfigError, ExitCode

if TYPE_CHECKING:
    from sync_client.after_sync import AfterSync
    from sync_client.alerts import Alert, GuardRules
    from sync_client.convex_store import ConvexStore
    from sync_client.openrouter import Catalog
    from sync_client.settings import Settings
    from sync_client.sync import StepCallback, SyncReport

DEFAULT_CONFIG_DIR = Path("convex/config")
DEFAULT_TIMEOUT_S = 30.0
#: The default of `SyncOptions.workers` (chosen by bench/bench_workers.py) and its ceiling.
DEFAULT_WORKERS = 10
MAX_WORKERS = 64

SyncList = Literal["free", "paid", "all", "catalog"]
SYNC_LISTS: tuple[SyncList, ...] = ("free", "paid", "all", "catalog")


@dataclass(frozen=True)
class SyncOptions:
    """What to sync and how.

    `lists`: a ranked list (`free`, `paid`, `all` = paid then free), `catalog` (every model
    OpenRouter lists, batched) or None (only `models`). `models` are extra OpenRouter ids.
    """

    lists: SyncList | None = "free"
    models: tuple[str, ...] = ()
    dry_run: bool = False
    deactivate_stale: bool = False
    #: The budget the guard checks active models against, USD per 1M tokens (None: none).
    max_cost_per_1m: float | None = None
    #: An active model OpenRouter retires within this many days is `expiring`.
    expiring_within_days: int = DEFAULT_EXPIRING_WITHIN_DAYS
    #: After writing, turn off the active models over the budget (needs `max_cost_per_1m`).
    deactivate_over_budget: bool = False
    config_dir: Path = DEFAULT_CONFIG_DIR
    #: Deadline of each Convex call; connect/read timeout of each OpenRouter request.
    timeout_s: float = DEFAULT_TIMEOUT_S
    #: How many per-model Convex calls may run at once (each in a worker process; the pool
    #: grows to this only while calls are slow).
    workers: int = DEFAULT_WORKERS

    def __post_init__(self) -> None:
        if self.lists is not None and self.lists not in SYNC_LISTS:
            raise ConfigError(f"unknown list {self.lists!r}", hint="free, paid, all or catalog")
        if isinstance(self.models, str):
            raise ConfigError("models must be a tuple of ids, not one string")
        if self.lists == "catalog" and self.models:
            raise ConfigError("the catalog sync takes every listed model; it takes no models")
        if self.lists is None and not self.models:
            raise ConfigError("nothing to sync: give a list or at least one model id")
        if not self.timeout_s > 0:
            raise ConfigError(f"the timeout must be positive, got {self.timeout_s!r}")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int):
            raise ConfigError(f"workers must be a whole number, got {self.workers!r}")
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ConfigError(f"workers must be 1 to {MAX_WORKERS}, got {self.workers}")
        if self.max_cost_per_1m is not None and not 0 <= self.max_cost_per_1m < math.inf:
            raise ConfigError(f"the budget must be 0 or more, got {self.max_cost_per_1m!r}")
        if self.expiring_within_days < 0:
            raise ConfigError(
                f"--expiring-within must be 0 or more days, got {self.expiring_within_days}"
            )
        if self.deactivate_over_budget and self.max_cost_per_1m is None:
            raise ConfigError(
                "--deactivate-over-budget needs a budget",
                hint="pass --max-cost-per-1m USD or set SYNC_MAX_COST_PER_1M",
            )

    @property
    def guard(self) -> GuardRules:
        """The rules the guard applies to active models."""
        from sync_client.alerts import GuardRules

        return GuardRules(self.max_cost_per_1m, self.expiring_within_days)

    @property
    def label(self) -> str:
        """What the report calls the run: `free`, `free + --model`, `--model`, `catalog`."""
        if self.lists is None:
            return "--model"
        return f"{self.lists} + --model" if self.models else self.lists


@dataclass(frozen=True)
class SyncResult:
    """A finished (or early-stopped) sync and what ran after it.

    `after` is None when the run stopped early (Convex became unreachable).
    """

    report: SyncReport
    after: AfterSync | None

    @property
    def alerts(self) -> list[Alert]:
        """The guard's alerts on active models (each with its reasons, before and after)."""
        return self.report.alerts

    @property
    def exit_code(self) -> int:
        """The CLI's exit code for this outcome: 0 ok, 1 something failed, 3 Convex lost,
        4 alerts on active models (with or without model errors)."""
        code = self.report.exit_code
        if self.after is not None and not self.after.ok and code in (ExitCode.OK, ExitCode.ALERTS):
            return int(ExitCode.PARTIAL)
        return code

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK


class _CatalogOnce:
    """Fetches OpenRouter's list when the sync asks for it, and keeps it for the stale check."""

    def __init__(self, settings: Settings, timeout_s: float, log: Callable[[str], None]) -> None:
        self._settings = settings
        self._timeout_s = timeout_s
        self._log = log
        self.catalog: Catalog | None = None

    def __call__(self) -> Catalog:
        import httpx

        from sync_client.openrouter import fetch_catalog

        self.catalog = fetch_catalog(
            self._settings.openrouter_base_url,
            api_key=self._settings.openrouter_api_key,
            timeout=httpx.Timeout(self._timeout_s),
            log=self._log,
        )
        return self.catalog


def sync(
    settings: Settings,
    options: SyncOptions | None = None,
    *,
    progress: Callable[[str], None] | None = None,
    on_step: StepCallback | None = None,
) -> SyncResult:
    """Sync into the deployment `settings` names; raises `SyncModelsError` for what stops a run
    before it writes (configuration, ranked lists, OpenRouter).

    `progress` receives one-line diagnostics (retries, warnings); `on_step` each write as it
    starts (by default its line goes to `progress`).
    """
    from sync_client.convex_store import ConvexStore
    from sync_client.rankings import load_rankings
    from sync_client.settings import SELF_HOSTED_HINT
    from sync_client.sync import build_targets, silent

    options = options or SyncOptions()
    progress = progress or silent
    url, key = settings.convex_url, settings.deploy_key
    if url is None or key is None:
        raise ConfigError(
            "a sync needs CONVEX_URL and CONVEX_DEPLOY_KEY (or their self-hosted twins)",
            hint="set both in .env.local (or the environment), or name an env file; "
            + SELF_HOSTED_HINT,
        )
    lists = options.lists
    ranked = [] if lists is None or lists == "catalog" else load_rankings(options.config_dir, lists)
    targets = build_targets(ranked, options.models)
    fetch = _CatalogOnce(settings, options.timeout_s, progress)

    # One store for the whole run: its first worker starts while the catalog downloads.
    # A ranked sync makes one call per model, plus a few before and after.
    expected_calls = 0 if options.lists == "catalog" else len(targets) + 1
    with ConvexStore(
        url, key, options.timeout_s, workers=options.workers, expected_calls=expected_calls
    ) as store:
        if options.lists == "catalog":
            from sync_client.catalog_sync import sync_catalog

            report = sync_catalog(
                fetch_catalog=fetch,
                open_store=lambda: nullcontext(store),
                dry_run=options.dry_run,
                progress=progress,
                on_step=on_step,
                guard=options.guard,
            )
        else:
            from sync_client.sync import sync_models

            report = sync_models(
                targets,
                fetch_catalog=fetch,
                open_store=lambda: nullcontext(store),
                list_synced=options.label,
                dry_run=options.dry_run,
                progress=progress,
                on_step=on_step,
                guard=options.guard,
                workers=options.workers,
            )
        if report.aborted is not None:
            return SyncResult(report, None)
        after = _follow_up(report, store, fetch.catalog, options)
    return SyncResult(report, after)


def _follow_up(
    report: SyncReport, store: ConvexStore, catalog: Catalog | None, options: SyncOptions
) -> AfterSync:
    from sync_client.after_sync import RESENT_HISTORY_NOTE, follow_up_sync

    inserted = {result.api_id for result in report.results if result.action == "inserted"}
    after = follow_up_sync(
        report,
        store,
        record_history=lambda entries: store.record_history(entries, new_ids=inserted),
        catalog_ids=None if catalog is None else set(catalog.ids()),
        deactivate_stale=options.deactivate_stale,
        deactivate_over_budget=options.deactivate_over_budget,
    )
    if store.history_resent:
        after.history_note = RESENT_HISTORY_NOTE
    return after
