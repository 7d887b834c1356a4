"""Benchmark: a per-model sync of 20 ranked models against its floor, at 0, 20 and 50 ms latency.

Run: .venv/bin/python bench/bench_sync.py [--repeats 9] [--latencies 0,20,50] [--profile]

"Sync" is `sync_client.sync.sync_models` as the CLI calls it: one `fetch_catalog` (GET,
retry policy, pydantic validation of all 335 models of the snapshot), mapping, a
`ConvexStore` (admin auth, the SDK in one worker process, a deadline per call) and 20
`upsertModel` calls, one at a time (bench_workers.py runs them in parallel).
The floor is the same I/O with no client logic: one raw `httpx.get` of the same body (not
parsed), a bare `ConvexClient` with admin auth, and 20 `client.mutation` calls with
precomputed arguments. Both run against the same local backend (latency added to every
client message) and the same loopback OpenRouter, interleaved, from an empty table each
time; the table shows medians.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import httpx
from _common import SNAPSHOT, Section, command_line, emit, machine, ms, parser, verdict
from convex import ConvexClient
from support.local_backend import LocalBackend, deadline, start_local_backend
from support.openrouter_server import OpenRouterServer

from sync_client.convex_store import UPSERT_MODEL, ConvexStore
from sync_client.mapping import to_upsert_args
from sync_client.openrouter import fetch_catalog
from sync_client.settings import Secret
from sync_client.sync import SyncTarget, sync_models

RANKED = 20
TARGET_OVERHEAD = 0.10


def floor_run(backend: LocalBackend, base_url: str, args_list: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    httpx.get(base_url + "/models").raise_for_status()
    client = ConvexClient(backend.url)
    client.set_admin_auth(backend.admin_key)
    for args in args_list:
        client.mutation(UPSERT_MODEL, args)
    del client  # closes its socket, as ConvexStore.close does
    return time.perf_counter() - started


def client_run(backend: LocalBackend, base_url: str, targets: list[SyncTarget]) -> float:
    started = time.perf_counter()
    report = sync_models(
        targets,
        fetch_catalog=lambda: fetch_catalog(base_url),
        open_store=lambda: ConvexStore(backend.url, Secret(backend.admin_key), timeout_s=30),
        list_synced="paid",
    )
    elapsed = time.perf_counter() - started
    if report.errors or report.inserted != len(targets):
        raise RuntimeError(f"the sync did not insert every model: {report.results}")
    return elapsed


def timed(backend: LocalBackend, latency_ms: int, run: Callable[[], float]) -> float:
    backend.reset()  # every run inserts the same 20 rows into an empty table
    backend.set_faults(latency_ms=latency_ms)  # reset clears the faults too
    with deadline(120):
        return run()


def profile(backend: LocalBackend, base_url: str, targets: list[SyncTarget]) -> None:
    import cProfile
    import pstats

    timed(backend, 0, lambda: client_run(backend, base_url, targets))  # warm up
    profiler = cProfile.Profile()
    profiler.enable()
    timed(backend, 0, lambda: client_run(backend, base_url, targets))
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--repeats", type=int, default=15)
    arguments.add_argument("--latencies", default="0,20,50")
    arguments.add_argument(
        "--profile", action="store_true", help="cProfile one sync at 0 ms, print the top 25"
    )
    options = arguments.parse_args()
    latencies = [int(value) for value in options.latencies.split(",")]

    with OpenRouterServer() as openrouter, start_local_backend() as backend:
        openrouter.serve_snapshot(SNAPSHOT)
        catalog = fetch_catalog(openrouter.base_url)
        chosen = catalog.models[:RANKED]
        targets = [SyncTarget(model.id, rank, "paid") for rank, model in enumerate(chosen, 1)]
        args_list = [dict(to_upsert_args(model)) for model in chosen]

        if options.profile:
            profile(backend, openrouter.base_url, targets)
            return
        runs = {
            "floor": lambda: floor_run(backend, openrouter.base_url, args_list),
            "client": lambda: client_run(backend, openrouter.base_url, targets),
        }
        rows: list[list[str]] = []
        for latency in latencies:
            floor_times: list[float] = []
            client_times: list[float] = []
            for repeat in range(options.repeats + 1):  # the first pair warms up
                # Alternate which goes first, so neither always inherits the other's wake.
                order = ("floor", "client") if repeat % 2 else ("client", "floor")
                measured = {name: timed(backend, latency, runs[name]) for name in order}
                floor, client = measured["floor"], measured["client"]
                if repeat:
                    floor_times.append(floor)
                    client_times.append(client)
            floor_median = statistics.median(floor_times)
            client_median = statistics.median(client_times)
            overhead = client_median / floor_median - 1
            rows.append(
                [
                    f"{latency} ms",
                    ms(client_median),
                    ms(floor_median),
                    f"{client_median / floor_median:.3f}x",
                    f"{overhead * 100:+.1f} %",
                    verdict(overhead <= TARGET_OVERHEAD),
                ]
            )

    emit(
        Section(
            title=f"Per-model sync of {RANKED} ranked models vs the floor",
            command=command_line(),
            machine=machine(),
            headers=["latency", "sync", "floor", "sync / floor", "overhead", "≤ 10 %"],
            rows=rows,
            notes=[
                f"Median of {options.repeats} interleaved runs per latency (after a warm-up pair), "
                "alternating which of the two goes first.",
                "Sync: `sync_models` with `fetch_catalog` (GET + validation of the 335-model "
                "snapshot), mapping, `ConvexStore` (connect, admin auth, per-call deadline) and "
                f"{RANKED} `upsertModel` calls.",
                f"Floor: one raw GET of the same body + a bare `ConvexClient` with admin auth and "
                f"{RANKED} `mutation` calls with precomputed arguments.",
                "Latency is the local backend's `--latency-ms` (added before it answers each "
                "client message); OpenRouter is a loopback server with none.",
                "`--profile` shows where a sync's time goes: the SDK's `mutation` calls and "
                "httpx building its TLS context (which the floor pays too); validating the "
                "catalog and mapping take a few ms.",
            ],
        ),
        options.json_out,
    )


if __name__ == "__main__":
    main()
