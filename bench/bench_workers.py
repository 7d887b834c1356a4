"""Benchmark: round trips of a ranked sync of 20 models against the worker count, at 0, 20, 50
and 200 ms latency, and the run at 0 ms against the in-process design it replaced.

Run: .venv/bin/python bench/bench_workers.py [--repeats 5] [--latencies 0,20,50,200]
     [--workers 1,2,4,8,16]

Each run is `sync.sync_models` as `api.sync` calls it: a `ConvexStore` (its worker processes
start then, the first while the catalog downloads), one `fetch_catalog` of the 335-model
snapshot, mapping, and 20 `upsertModel` calls, up to `workers` at once, from an empty table.
"Round trips" is a run's time beyond the same run at 0 ms, divided by the latency: what the
latency costs. The in-process row is the design before worker processes: the same fetch and
mapping, then one `ConvexClient` in this process and 20 sequential `mutation` calls.

The whole-process rows run each design as a fresh `python` process (interpreter start and
imports included, the SDK's among them), as a user's `sync-models` run pays them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from _common import SNAPSHOT, Section, command_line, emit, machine, ms, parser, verdict
from support.local_backend import LocalBackend, start_local_backend
from support.openrouter_server import OpenRouterServer

from sync_client.api import DEFAULT_WORKERS
from sync_client.convex_store import UPSERT_MODEL, ConvexStore
from sync_client.mapping import to_upsert_args
from sync_client.openrouter import fetch_catalog
from sync_client.settings import Secret
from sync_client.sync import SyncTarget, sync_models

RANKED = 20
TARGET_ROUND_TRIPS = 5  # at 200 ms, beyond the run at 0 ms
TARGET_RATIO = 1.15  # at 0 ms, against the in-process design


class Deployment(Protocol):
    """Where a run writes: the local backend, or its address handed to a child process."""

    @property
    def url(self) -> str: ...

    @property
    def admin_key(self) -> str: ...


@dataclass(frozen=True)
class DeploymentAddress:
    url: str
    admin_key: str


def worker_run(
    backend: Deployment, base_url: str, targets: list[SyncTarget], workers: int
) -> float:
    started = time.perf_counter()
    report = sync_models(
        targets,
        fetch_catalog=lambda: fetch_catalog(base_url),
        open_store=lambda: ConvexStore(
            backend.url, Secret(backend.admin_key), timeout_s=30, workers=workers
        ),
        list_synced="paid",
        workers=workers,
    )
    elapsed = time.perf_counter() - started
    if report.errors or report.inserted != len(targets):
        raise RuntimeError(f"the sync did not insert every model: {report.results}")
    return elapsed


def in_process_run(backend: Deployment, base_url: str, targets: list[SyncTarget]) -> float:
    from convex import ConvexClient

    started = time.perf_counter()
    catalog = fetch_catalog(base_url)
    client = ConvexClient(backend.url)
    client.set_admin_auth(backend.admin_key)
    for target in targets:
        model = catalog.get(target.api_id)
        assert model is not None
        args: dict[str, Any] = dict(to_upsert_args(model))
        client.mutation(UPSERT_MODEL, args)
    del client
    return time.perf_counter() - started


#: Environment of a whole-process run (`--one`): the loopback services and the ranked ids.
_CHILD_ENV = ("BENCH_CONVEX_URL", "BENCH_ADMIN_KEY", "BENCH_OPENROUTER_URL", "BENCH_IDS")


def whole_process_run(
    backend: LocalBackend, base_url: str, targets: list[SyncTarget], design: str
) -> float:
    """One run of `design` (`in-process` or a worker count) as a fresh Python process."""
    values = (backend.url, backend.admin_key, base_url, ",".join(t.api_id for t in targets))
    env = {**os.environ, **dict(zip(_CHILD_ENV, values, strict=True))}
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--one", design], env=env, check=True)
    return time.perf_counter() - started


def one_run(design: str) -> None:
    url, admin_key, base_url, ids = (os.environ[name] for name in _CHILD_ENV)
    deployment = DeploymentAddress(url, admin_key)
    targets = [SyncTarget(api_id, rank, "paid") for rank, api_id in enumerate(ids.split(","), 1)]
    if design == "in-process":
        in_process_run(deployment, base_url, targets)
    else:
        worker_run(deployment, base_url, targets, int(design))


def median_of(
    backend: LocalBackend, latency_ms: int, repeats: int, run: Callable[[], float]
) -> float:
    times = []
    for _ in range(repeats + 1):  # the first warms up
        backend.reset()  # every run inserts the same rows into an empty table
        backend.set_faults(latency_ms=latency_ms)
        times.append(run())
    return statistics.median(times[1:])


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--repeats", type=int, default=5)
    arguments.add_argument("--latencies", default="0,20,50,200")
    arguments.add_argument("--workers", default=f"1,2,4,8,{DEFAULT_WORKERS},16")
    arguments.add_argument("--one", help=argparse.SUPPRESS)
    options = arguments.parse_args()
    if options.one is not None:
        one_run(options.one)
        return
    latencies = [int(value) for value in options.latencies.split(",")]
    if 0 not in latencies:
        latencies.insert(0, 0)
    counts = sorted({int(value) for value in options.workers.split(",")} | {DEFAULT_WORKERS})

    with OpenRouterServer() as openrouter, start_local_backend() as backend:
        openrouter.serve_snapshot(SNAPSHOT)
        base_url = openrouter.base_url
        chosen = fetch_catalog(base_url).models[:RANKED]
        targets = [SyncTarget(model.id, rank, "paid") for rank, model in enumerate(chosen, 1)]
        seconds: dict[tuple[str, int], float] = {}
        for latency in latencies:
            seconds[("in-process", latency)] = median_of(
                backend,
                latency,
                options.repeats,
                lambda: in_process_run(backend, base_url, targets),
            )
            for count in counts:
                seconds[(str(count), latency)] = median_of(
                    backend,
                    latency,
                    options.repeats,
                    partial(worker_run, backend, base_url, targets, count),
                )
        whole: dict[str, float] = {}
        for design in ("in-process", str(DEFAULT_WORKERS)):
            whole[design] = median_of(
                backend,
                0,
                options.repeats,
                partial(whole_process_run, backend, base_url, targets, design),
            )

    baseline = seconds[("in-process", 0)]
    rows: list[list[str]] = []
    for name in ["in-process", *map(str, counts)]:
        row = [name if name == "in-process" else f"{name} workers", ms(seconds[(name, 0)])]
        row.append(f"{seconds[(name, 0)] / baseline:.2f}x")
        for latency in latencies:
            if latency:
                extra = seconds[(name, latency)] - seconds[(name, 0)]
                row.append(f"{ms(seconds[(name, latency)])} = {extra * 1000 / latency:.1f}")
        rows.append(row)
    default = str(DEFAULT_WORKERS)
    whole_ratio = whole[default] / whole["in-process"]
    for design in ("in-process", default):
        name = (
            "whole process, in-process"
            if design == "in-process"
            else (f"whole process, {design} workers")
        )
        row = [name, ms(whole[design]), f"{whole[design] / whole['in-process']:.2f}x"]
        rows.append(row + [""] * (len(latencies) - 1))
    at_200 = (seconds[(default, 200)] - seconds[(default, 0)]) / 0.2 if 200 in latencies else None
    ratio = seconds[(default, 0)] / baseline
    notes = [
        f"Median of {options.repeats} runs per cell (after a warm-up run), each from an empty "
        "table; a cell at L ms reads `time = round trips`, where round trips = (time - the same "
        "row's time at 0 ms) / L.",
        f"Targets (the default, {default} workers): at 0 ms no slower than {TARGET_RATIO}x the "
        f"in-process design: {ratio:.2f}x in this process (the SDK already imported), "
        f"{whole_ratio:.2f}x as whole processes, {verdict(whole_ratio <= TARGET_RATIO)}"
        + (
            ""
            if at_200 is None
            else f"; at 200 ms at most {TARGET_ROUND_TRIPS} round trips beyond 0 ms: "
            f"{at_200:.1f}, {verdict(at_200 <= TARGET_ROUND_TRIPS)}"
        )
        + ".",
        "Workers: `convex_worker` processes started by `worker_pool`; the pool starts one with "
        "the store and grows (to the count) only once a call has run longer than starting a "
        "worker takes (at least 50 ms; 100 ms more for a worker's first call).",
        "Latency is the local backend's latency fault (added before it answers each client "
        "message); OpenRouter is a loopback server with none.",
    ]
    emit(
        Section(
            title=f"Round trips of a ranked sync of {RANKED} models by worker count",
            command=command_line(),
            machine=machine(),
            headers=[
                "calls",
                "0 ms",
                "0 ms / in-process",
                *(f"{latency} ms = round trips" for latency in latencies if latency),
            ],
            rows=rows,
            notes=notes,
        ),
        options.json_out,
    )


if __name__ == "__main__":
    main()
