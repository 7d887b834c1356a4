"""Shared helpers of the benchmarks: the machine line, the command line, result sections.

Each benchmark measures its figure and its baseline in the same run and prints a Markdown
table of ratios; with `--json-out FILE` it also writes the section for `bench/run_all.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
# The local backend launcher and the loopback OpenRouter live with the test support code.
sys.path.insert(0, str(REPO_ROOT / "tests"))

SNAPSHOT = "models-2025-12-02.json"


@dataclass
class Section:
    """One benchmark's outcome: a table plus what it measured and how to reproduce it."""

    title: str
    command: str
    machine: str
    headers: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", f"Command: `{self.command}`", ""]
        lines.append(f"Machine: {self.machine}")
        lines.append("")
        lines.append("| " + " | ".join(self.headers) + " |")
        lines.append("|" + "|".join(" --- " for _ in self.headers) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines) + "\n"


def parser(description: str) -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--json-out", type=Path, help="also write the section here as JSON")
    return result


def command_line() -> str:
    """How this benchmark was started, relative to the repository root."""
    script = Path(sys.argv[0]).resolve()
    try:
        shown = str(script.relative_to(REPO_ROOT))
    except ValueError:
        shown = str(script)
    args = list(sys.argv[1:])
    if "--json-out" in args:  # an artefact of run_all, not part of reproducing the figure
        at = args.index("--json-out")
        del args[at : at + 2]
    return shlex.join([".venv/bin/python", shown, *args])


def machine() -> str:
    """CPU model and cores, OS, Python and Node versions."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        node = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        node = "unknown"
    return (
        f"{cpu}, {os.cpu_count()} cores; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; Node {node or 'unknown'}"
    )


def emit(section: Section, json_out: Path | None) -> None:
    """Print the section; write it as JSON too when asked (for run_all)."""
    print(section.markdown(), flush=True)
    if json_out is not None:
        json_out.write_text(json.dumps(asdict(section), indent=2))


def load_section(path: Path) -> Section:
    data: dict[str, Any] = json.loads(path.read_text())
    return Section(**data)


def verdict(ok: bool) -> str:
    return "yes" if ok else "**no**"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
