"""Benchmark: `sync-models --help` cold start against `python -c "import httpx"`.

Run: .venv/bin/python bench/bench_cli_start.py [--runs 21]

Each command runs as a fresh process (the venv's `sync-models` console script and the
venv's Python), interleaved, wall time from spawn to exit; the table shows medians.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from pathlib import Path

from _common import REPO_ROOT, Section, command_line, emit, machine, ms, parser, verdict

TARGET_RATIO = 2.0
VENV_BIN = REPO_ROOT / ".venv" / "bin"


def wall_time(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=60)
    return time.perf_counter() - started


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--runs", type=int, default=21)
    options = arguments.parse_args()
    help_command = [str(VENV_BIN / "sync-models"), "--help"]
    httpx_command = [str(VENV_BIN / "python"), "-c", "import httpx"]

    for command in (help_command, httpx_command):  # warm the page cache and .pyc files
        wall_time(command)
    help_times: list[float] = []
    httpx_times: list[float] = []
    for _ in range(options.runs):
        help_times.append(wall_time(help_command))
        httpx_times.append(wall_time(httpx_command))
    help_median = statistics.median(help_times)
    httpx_median = statistics.median(httpx_times)
    ratio = help_median / httpx_median

    emit(
        Section(
            title="`sync-models --help` cold start",
            command=command_line(),
            machine=machine(),
            headers=[
                "`sync-models --help`",
                '`python -c "import httpx"`',
                "ratio",
                f"≤ {TARGET_RATIO:g}x",
            ],
            rows=[
                [ms(help_median), ms(httpx_median), f"{ratio:.2f}", verdict(ratio <= TARGET_RATIO)]
            ],
            notes=[
                f"Median wall time of {options.runs} fresh processes each, interleaved, after one "
                f"warm-up run each; commands from `{Path('.venv/bin')}`.",
            ],
        ),
        options.json_out,
    )


if __name__ == "__main__":
    main()
