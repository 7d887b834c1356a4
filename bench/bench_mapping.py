"""Benchmark: parse + validate + map the real 335-model catalog and a synthetic 20,000-model one.

Run: .venv/bin/python bench/bench_mapping.py [--synthetic 20000] [--repeats 20]

What is timed is what a sync does with OpenRouter's response body (bytes, already read):
`openrouter.parse_catalog` (JSON parse + pydantic validation of every model) and
`mapping.to_upsert_args` for every model. `json.loads` of the same bytes is shown beside it
as the floor of merely parsing. The synthetic catalog repeats the snapshot's models with
unique ids and varied prices and token counts, extra keys included. Memory for it is
measured in fresh child processes: the tracemalloc peak of the step (Python allocations,
result kept alive) and the whole process's peak RSS (interpreter and imports included).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import psutil
from _common import SNAPSHOT, Section, command_line, emit, machine, ms, parser, verdict
from support.openrouter_server import snapshot_path

from sync_client.mapping import to_upsert_args
from sync_client.openrouter import parse_catalog

REAL_TARGET_S = 0.050
SYNTHETIC_TARGET_S = 2.0
SYNTHETIC_TARGET_BYTES = 200 * 2**20


def parse_and_map(body: bytes) -> list[Any]:
    return [to_upsert_args(model) for model in parse_catalog(body)]


def median_seconds(action: Any, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def synthetic_body(size: int) -> bytes:
    """`size` models cycled from the snapshot, each with its own id, prices and limits."""
    originals: list[dict[str, Any]] = json.loads(snapshot_path(SNAPSHOT).read_bytes())["data"]
    parts = []
    for n in range(size):
        model = dict(originals[n % len(originals)])
        model["id"] = f"{model['id']}-{n}"
        model["context_length"] = 4096 + n
        pricing = dict(model.get("pricing") or {})
        if pricing.get("prompt") not in (None, "0", "-1"):
            pricing["prompt"] = f"0.{n:09d}"
        model["pricing"] = pricing
        parts.append(json.dumps(model))
    return ('{"data":[' + ",".join(parts) + "]}").encode()


def child(path: Path, mode: str) -> None:
    """In a fresh process: time the step (`time`) or take its tracemalloc peak (`trace`)."""
    body = path.read_bytes()
    if mode == "trace":
        tracemalloc.start()
        result = parse_and_map(body)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(json.dumps({"count": len(result), "tracemalloc_peak": peak}))
        return
    rss_before = psutil.Process().memory_info().rss
    started = time.perf_counter()
    result = parse_and_map(body)
    elapsed = time.perf_counter() - started
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(
        json.dumps(
            {
                "count": len(result),
                "seconds": elapsed,
                "max_rss": max_rss,
                "rss_before": rss_before,
            }
        )
    )


def run_child(path: Path, mode: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--child", str(path), mode],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    result: dict[str, Any] = json.loads(output)
    return result


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--synthetic", type=int, default=20_000)
    arguments.add_argument("--repeats", type=int, default=20)
    arguments.add_argument("--child", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)
    options = arguments.parse_args()
    if options.child:
        child(Path(options.child[0]), options.child[1])
        return

    body = snapshot_path(SNAPSHOT).read_bytes()
    count = len(parse_and_map(body))
    parse_and_map(body)  # warm up
    real = median_seconds(lambda: parse_and_map(body), options.repeats)
    real_json = median_seconds(lambda: json.loads(body), options.repeats)

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "synthetic.json"
        path.write_bytes(synthetic_body(options.synthetic))
        megabytes = path.stat().st_size / 2**20
        timed = [run_child(path, "time") for _ in range(3)]
        traced = run_child(path, "trace")
        loads = median_seconds(lambda: json.loads(path.read_bytes()), 3)
    synthetic = statistics.median(run["seconds"] for run in timed)
    peak_rss = max(run["max_rss"] for run in timed)
    rss_growth = max(run["max_rss"] - run["rss_before"] for run in timed)
    peak_traced = traced["tracemalloc_peak"]
    assert all(run["count"] == options.synthetic for run in timed)

    rows = [
        [
            f"real catalog, {count} models ({len(body) / 2**10:.0f} KiB)",
            ms(real),
            ms(real_json),
            ms(REAL_TARGET_S),
            f"{real / REAL_TARGET_S:.2f}",
            verdict(real <= REAL_TARGET_S),
        ],
        [
            f"synthetic, {options.synthetic:,} models ({megabytes:.1f} MiB)",
            ms(synthetic),
            ms(loads),
            ms(SYNTHETIC_TARGET_S),
            f"{synthetic / SYNTHETIC_TARGET_S:.2f}",
            verdict(synthetic <= SYNTHETIC_TARGET_S),
        ],
        [
            "synthetic: tracemalloc peak",
            f"{peak_traced / 2**20:.0f} MiB",
            "",
            f"{SYNTHETIC_TARGET_BYTES / 2**20:.0f} MiB",
            f"{peak_traced / SYNTHETIC_TARGET_BYTES:.2f}",
            verdict(peak_traced <= SYNTHETIC_TARGET_BYTES),
        ],
        [
            "synthetic: RSS growth during the step",
            f"{rss_growth / 2**20:.0f} MiB",
            "",
            f"{SYNTHETIC_TARGET_BYTES / 2**20:.0f} MiB",
            f"{rss_growth / SYNTHETIC_TARGET_BYTES:.2f}",
            verdict(rss_growth <= SYNTHETIC_TARGET_BYTES),
        ],
        [
            "synthetic: whole-process peak RSS",
            f"{peak_rss / 2**20:.0f} MiB",
            "",
            f"{SYNTHETIC_TARGET_BYTES / 2**20:.0f} MiB",
            f"{peak_rss / SYNTHETIC_TARGET_BYTES:.2f}",
            verdict(peak_rss <= SYNTHETIC_TARGET_BYTES),
        ],
    ]
    emit(
        Section(
            title="Mapping: parse + validate + map",
            command=command_line(),
            machine=machine(),
            headers=["input", "measured", "json.loads alone", "target", "measured / target", "met"],
            rows=rows,
            notes=[
                "Timed: `parse_catalog(body)` (JSON + pydantic validation of every model) and "
                "`to_upsert_args` for each model; the body is already in memory (no network).",
                f"Real: median of {options.repeats} runs in this process. Synthetic: median of 3 "
                "fresh child processes; the tracemalloc peak is from a separate child.",
                "RSS growth = the child's peak RSS minus its RSS just before the step (body "
                "already read); whole-process peak RSS adds the interpreter, imports and body.",
            ],
        ),
        options.json_out,
    )


if __name__ == "__main__":
    main()
