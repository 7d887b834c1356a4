"""Benchmark: `--catalog` (batched `upsertModels`) against per-model upserts of the same catalog.

Run: .venv/bin/python bench/bench_catalog.py [--latency-ms 50]

Both sync every model of the 335-model snapshot from a loopback OpenRouter into an empty
table of the local backend with the given latency: `sync_catalog` (what `--catalog` runs)
and `sync_models` with every listed id as a target (one `upsertModel` per model). Mutation
round trips are the backend's committed-mutation count (`GET /_test/stats`) before and after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from _common import SNAPSHOT, Section, command_line, emit, machine, parser, verdict
from support.local_backend import LocalBackend, deadline, start_local_backend
from support.openrouter_server import OpenRouterServer

from sync_client.catalog_sync import sync_catalog
from sync_client.convex_store import ConvexStore
from sync_client.openrouter import fetch_catalog
from sync_client.settings import Secret
from sync_client.sync import SyncReport, SyncTarget, sync_models

TARGET_SPEEDUP = 10.0
TARGET_ROUND_TRIPS = 5


def measured(
    backend: LocalBackend, latency_ms: int, run: Callable[[], SyncReport]
) -> tuple[float, int, SyncReport]:
    """Seconds and committed mutations of one run from an empty table."""
    backend.reset()
    backend.set_faults(latency_ms=latency_ms)  # reset clears the faults too
    before = backend.stats()["mutations"]
    started = time.perf_counter()
    with deadline(600):
        report = run()
    elapsed = time.perf_counter() - started
    return elapsed, backend.stats()["mutations"] - before, report


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--latency-ms", type=int, default=50)
    options = arguments.parse_args()
    latency = options.latency_ms

    with OpenRouterServer() as openrouter, start_local_backend() as backend:
        openrouter.serve_snapshot(SNAPSHOT)
        base_url = openrouter.base_url
        count = len(fetch_catalog(base_url))

        def store() -> Any:
            return ConvexStore(backend.url, Secret(backend.admin_key), timeout_s=60)

        def catalog_run() -> SyncReport:
            return sync_catalog(fetch_catalog=lambda: fetch_catalog(base_url), open_store=store)

        def per_model_run() -> SyncReport:
            catalog = fetch_catalog(base_url)
            targets = [SyncTarget(model.id, None, "catalog") for model in catalog]
            return sync_models(
                targets, fetch_catalog=lambda: catalog, open_store=store, list_synced="catalog"
            )

        batched_s, batched_trips, batched = measured(backend, latency, catalog_run)
        single_s, single_trips, single = measured(backend, latency, per_model_run)
    for report in (batched, single):
        if report.errors or report.inserted != count:
            raise RuntimeError(f"a run did not insert all {count} models")

    speedup = single_s / batched_s
    emit(
        Section(
            title=f"`--catalog` vs per-model, {count} models at {latency} ms latency",
            command=command_line(),
            machine=machine(),
            headers=["path", "time", "mutation round trips", "per-model / catalog", "target met"],
            rows=[
                ["per-model `upsertModel`", f"{single_s:.2f} s", str(single_trips), "1.0", ""],
                [
                    "`--catalog` (`upsertModels`)",
                    f"{batched_s:.2f} s",
                    str(batched_trips),
                    f"{speedup:.1f}x faster",
                    verdict(speedup >= TARGET_SPEEDUP and batched_trips <= TARGET_ROUND_TRIPS)
                    + f" (≥ {TARGET_SPEEDUP:g}x, ≤ {TARGET_ROUND_TRIPS} round trips)",
                ],
            ],
            notes=[
                "One run of each, from an empty table; both times include the catalog fetch "
                "(loopback, no latency) and opening the Convex connection (connect + auth pay "
                "the latency too).",
                "Round trips = committed mutations counted by the local backend "
                "(`GET /_test/stats`).",
            ],
        ),
        options.json_out,
    )


if __name__ == "__main__":
    main()
