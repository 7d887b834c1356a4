"""Recorder for the reliability matrix (tests/test_reliability.py).

Each scenario test fills in one `ScenarioRecord` — what it ran, what it expected, what it
measured — and the `scenario` fixture appends it as a JSON line to the file named by
`$SYNC_MODELS_RELIABILITY_LOG` when that is set (nothing is written otherwise).
`scripts/reliability_report.py` runs the matrix and renders docs/RELIABILITY.md from those lines.

The measurement is recorded before the test's assertions run, so a failing check still leaves
its line; whether the checks held comes from pytest's own result (the report joins them).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

LOG_ENV_VAR = "SYNC_MODELS_RELIABILITY_LOG"
# The OpenRouter models list every scenario is served (one of the project's own snapshots).
MATRIX_SNAPSHOT = "models-2025-12-02.json"


@dataclass
class ScenarioRecord:
    """One row of the matrix."""

    id: str
    group: str = ""
    scenario: str = ""
    expected: str = ""
    outcome: str = ""
    exit_code: int | None = None
    seconds: float | None = None
    db_check: str = ""

    def describe(self, group: str, scenario: str, expected: str) -> ScenarioRecord:
        """Say what this scenario is and what a correct product does."""
        self.group, self.scenario, self.expected = group, scenario, expected
        return self

    def measured(
        self,
        *,
        outcome: str,
        exit_code: int | None,
        seconds: float | None,
        db_check: str = "",
    ) -> None:
        """What actually happened (call this before asserting on it)."""
        self.outcome = outcome
        self.exit_code = exit_code
        self.seconds = None if seconds is None else round(seconds, 2)
        self.db_check = db_check


def append_record(record: ScenarioRecord, log_path: Path) -> None:
    """Append one JSON line (opened per record: test processes never share a handle)."""
    with log_path.open("a", encoding="utf-8") as log:
        log.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")


@pytest.fixture(name="scenario")
def scenario_fixture(request: pytest.FixtureRequest) -> Iterator[ScenarioRecord]:
    """A blank record for this test, written to the reliability log after the test (if set)."""
    record = ScenarioRecord(id=request.node.nodeid)
    yield record
    log_name = os.environ.get(LOG_ENV_VAR)
    if log_name and record.group:
        append_record(record, Path(log_name))
