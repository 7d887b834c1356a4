"""Benchmark: the local backend's cost per upsert as its `aiModels` table grows.

Run: .venv/bin/python bench/bench_backend_scale.py [--sizes 300,3000,10000]

Starts the backend (no added latency, Convex's limits enforced as always) and grows the table
to each size with `upsertModels` batches, as `--catalog` would. At each size it times, over
one admin socket: `upsertModel` updating an existing row (median of 30 calls) and one maximal
`upsertModels` batch updating existing rows (time per item). Every figure of a row is measured
at that size in the same run; the ratio column compares it with the smallest size.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from _common import Section, command_line, emit, machine, parser
from support.local_backend import start_local_backend

from sync_client.convex_store import BATCH_SIZE, ConvexStore
from sync_client.settings import Secret

SINGLE_CALLS = 30
DESCRIPTION = "A benchmark model. " * 30  # ~570 bytes, about a real catalog's median


def model(n: int, version: int = 0) -> dict[str, Any]:
    return {
        "apiIdentifier": f"bench-{n % 97}/model-{n}",
        "modelName": f"Bench {n}",
        "provider": f"bench-{n % 97}",
        "slug": f"bench-{n % 97}-model-{n}",
        "isFree": False,
        "contextWindow": 131072,
        "inputCostPer1MTokens": 0.5 + version,
        "outputCostPer1MTokens": 1.5,
        "maxCompletionTokens": 4096,
        "description": DESCRIPTION,
        "openRouterCreatedAt": 1_700_000_000_000,
    }


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--sizes", default="300,3000,10000")
    options = arguments.parse_args()
    sizes = sorted(int(size) for size in options.sizes.split(","))

    measured: list[tuple[int, float, float, float]] = []
    with (
        start_local_backend() as backend,
        ConvexStore(backend.url, Secret(backend.admin_key), timeout_s=600) as store,
    ):
        rows = 0
        for size in sizes:
            started = time.perf_counter()
            store.upsert_many([model(n) for n in range(rows, size)])
            fill_s = time.perf_counter() - started
            rows = size
            single: list[float] = []
            for call in range(SINGLE_CALLS):
                args = model(call * (size // SINGLE_CALLS), version=1)
                call_started = time.perf_counter()
                store.upsert(args)
                single.append(time.perf_counter() - call_started)
            batch = [
                model(n * (size // BATCH_SIZE) if size > BATCH_SIZE else n, 2)
                for n in range(min(size, BATCH_SIZE))
            ]
            started = time.perf_counter()
            results = store.upsert_many(batch)
            batch_s = time.perf_counter() - started
            if not all(result.ok and result.action == "updated" for result in results):
                raise RuntimeError("the batch did not update every row")
            if len(store.list_models()) != size:
                raise RuntimeError(f"the table does not hold {size} rows")
            measured.append((size, statistics.median(single), batch_s / len(batch), fill_s))

    _, base_single, base_item, _ = measured[0]
    emit(
        Section(
            title="Local backend: cost per upsert by table size",
            command=command_line(),
            machine=machine(),
            headers=[
                "rows in `aiModels`",
                "`upsertModel` (one update, median)",
                "vs smallest",
                f"`upsertModels` per item ({BATCH_SIZE:,}-update batch)",
                "vs smallest",
                "growing the table to this size",
            ],
            rows=[
                [
                    f"{size:,}",
                    f"{single * 1000:.1f} ms",
                    f"{single / base_single:.1f}x",
                    f"{item * 1000:.2f} ms",
                    f"{item / base_item:.1f}x",
                    f"{fill:.1f} s",
                ]
                for size, single, item, fill in measured
            ],
            notes=[
                f"One backend, no added latency; the table grows from one size to the next with "
                f"`upsertModels` batches of up to {BATCH_SIZE:,} inserts (the last column).",
                f"`upsertModel`: median of {SINGLE_CALLS} round trips from the Python SDK, each "
                "updating an existing row; a batch's time is one round trip for all its items.",
                "convex-test alone visits every document of the table for each index range; "
                "the backend's lookups (`local_backend/src/indexLookups.ts`) visit only the "
                "rows holding the looked-up value, so an upsert's cost should not grow with "
                "the table (the ratio columns).",
            ],
        ),
        options.json_out,
    )


if __name__ == "__main__":
    main()
