"""docs/RELIABILITY.md's tables: what a run printed (outside text) stays text in its cell."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from markdown_it import MarkdownIt

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reliability_report.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reliability_report", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("reliability_report", module)
    spec.loader.exec_module(module)
    return module


def test_a_measured_outcome_quoting_markdown_stays_text_in_its_cell() -> None:
    report = load_script()
    outcome = "error: HTTP 403: x | [a](https://evil.example) ![i](p.png) <img src=x> *b*"
    record = {
        "id": "tests/test_reliability.py::test_x",
        "group": "Security",
        "scenario": "`--free` against a hostile list",
        "expected": "exit 0",
        "outcome": outcome,
        "exit_code": 3,
        "seconds": 0.5,
        "db_check": "0 rows <b>",
    }
    document = report.render(
        [record], {"test_x": "passed"}, exit_code=0, seconds=1.0, command=["python", "x"]
    )
    table = "\n".join(line for line in document.splitlines() if line.startswith("|"))
    html = MarkdownIt("commonmark").enable("table").render(table)
    body = html.split("<tbody>")[1]
    assert body.count("<td>") == 7
    assert "<a " not in body and "<img" not in body and "<em>" not in body and "<b>" not in body
    assert "<code>--free</code>" in body  # the scenario's own markdown still renders
    assert "x | [a](https://evil.example) ![i](p.png) &lt;img src=x&gt; *b*" in body
