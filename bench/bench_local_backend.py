"""Benchmark: the local backend's own cost per upsertModel, from the Python SDK.

Run: .venv/bin/python bench/bench_local_backend.py [--upserts 1000]
Starts the backend (no added latency) with the project's convex/ functions, times each
`mutations/syncModels:upsertModel` call over one admin socket, and prints median and p90.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

# The launcher lives with the test support code; the benchmark reuses it as is.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from convex import ConvexClient
from support.local_backend import deadline, start_local_backend

UPSERT = "mutations/syncModels:upsertModel"


def upsert_args(n: int) -> dict[str, Any]:
    return {
        "apiIdentifier": f"bench/model-{n % 250}",
        "modelName": f"Bench {n}",
        "provider": "bench",
        "slug": f"bench-model-{n % 250}",
        "isFree": n % 2 == 0,
        "contextWindow": 131072,
        "inputCostPer1MTokens": 0.5 + n,
        "outputCostPer1MTokens": 1.5,
        "maxCompletionTokens": 4096,
        "description": "benchmark row",
        "openRouterCreatedAt": 1_700_000_000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upserts", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    options = parser.parse_args()
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")

    started = time.perf_counter()
    with start_local_backend() as backend:
        startup_ms = (time.perf_counter() - started) * 1000
        client = ConvexClient(backend.url)
        client.set_admin_auth(backend.admin_key)
        with deadline(120):
            for n in range(options.warmup):
                client.mutation(UPSERT, upsert_args(n))
            timings: list[float] = []
            for n in range(options.upserts):
                call_started = time.perf_counter()
                client.mutation(UPSERT, upsert_args(n))
                timings.append((time.perf_counter() - call_started) * 1000)
        stats = backend.stats()

    timings.sort()
    p90 = timings[int(len(timings) * 0.9) - 1]
    print(f"backend startup (spawn → ready): {startup_ms:.0f} ms")
    print(
        f"upsertModel over {len(timings)} calls: median {statistics.median(timings):.3f} ms, "
        f"p90 {p90:.3f} ms, max {timings[-1]:.3f} ms"
    )
    print(f"sockets opened: {stats['connections']}, backend rss: {stats['rss'] / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
