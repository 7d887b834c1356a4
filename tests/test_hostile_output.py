"""Hostile strings from upstream (control sequences, newlines, rich markup) go through the
mapping and every text renderer and come out shown, not obeyed: no raw control character,
no line a value started, nothing dropped. `--json` keeps them exact. (The same, end to end
against a loopback OpenRouter: test_e2e.py's hostile-list tests.)"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support.hostile_text import hostile_text, raw_controls

from sync_client.activation import ActivationResult, render_results
from sync_client.after_sync import AfterSync
from sync_client.alerts import Alert, AlertValues, ExpiringWarning
from sync_client.commands import render_after_sync
from sync_client.console import Output
from sync_client.doctor import Check, render_check
from sync_client.errors import ConvexCallError, SyncModelsError
from sync_client.history import render_history
from sync_client.mapping import to_upsert_args
from sync_client.openrouter import OpenRouterModel, Pricing
from sync_client.progress_bar import ProgressBar
from sync_client.report import render_human, render_rows
from sync_client.safe_text import printable
from sync_client.stale import Deactivation, StaleModel, render_stale
from sync_client.status import build_status, render_status
from sync_client.sync import (
    FieldChange,
    ModelResult,
    PlannedAction,
    Step,
    SyncReport,
    SyncTarget,
)

BENIGN = "plain"


def mapped_row(api_id: str, name: str, description: str, price: str) -> dict[str, Any]:
    """What a sync would store for a model carrying these strings (built unvalidated: a
    sync refuses a lone surrogate, but the renderers must cope with any string)."""
    model = OpenRouterModel.model_construct(
        id=api_id,
        name=name,
        description=description,
        pricing=Pricing.model_construct(prompt=price, completion="0.000002"),
        context_length=8192,
    )
    try:
        args = to_upsert_args(model)
    except ValueError:  # a price that is not a decimal is the model's own error: no price stored
        args = to_upsert_args(model.model_copy(update={"pricing": None}))
    return {**args, "syncedFromOpenRouter": True, "isActive": True}


def sync_report(api_id: str, text: str, list_synced: str, *, dry_run: bool) -> SyncReport:
    row = mapped_row(api_id, text, text, text)
    # Every field listed whether or not `text` maps to a value (a text like "0" is a price),
    # so the line count depends on the renderers alone.
    changes = tuple(
        FieldChange(field, text, row.get(field))
        for field in ("modelName", "description", "inputCostPer1MTokens", "contextWindow")
    )
    planned: PlannedAction | None = "update" if dry_run else None
    return SyncReport(
        list_synced=list_synced,
        dry_run=dry_run,
        results=[
            ModelResult(api_id, 1, list_synced, planned=planned, is_free=False, changes=changes),
            ModelResult(api_id, 2, list_synced, action=None if dry_run else "inserted"),
            ModelResult(api_id, 3, list_synced, error=f"upsertModel failed: {text}"),
        ],
        not_attempted=[SyncTarget(api_id, 4, list_synced)],
        alerts=[Alert(api_id, ("price-increase",), costs(1.0), costs(2.0))],
        expiring=[ExpiringWarning(api_id, dt.date(2026, 1, 31), retired=True)],
    )


def costs(value: float) -> AlertValues:
    return {"isFree": False, "inputCostPer1MTokens": value, "outputCostPer1MTokens": 1.0}


@contextmanager
def captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        yield stdout, stderr


def renderings(api_id: str, text: str) -> dict[str, str]:
    """Every text renderer's output for outside data holding `api_id` and `text`."""
    row = mapped_row(api_id, text, text, text)
    history_row = {
        "recordedAt": 1.7e12,
        "apiIdentifier": api_id,
        "kind": "changed",
        "changes": [{"field": text, "from": text, "to": 3.5}, {"field": "rank", "to": text}],
    }
    failed = ConvexCallError(f"setActive failed: {text}")
    after = AfterSync(
        stale=[StaleModel(api_id, True, ("not in the configured lists",))],
        deactivated=[Deactivation(api_id, ok=False, was_active=True, error=str(failed))],
        history_recorded=None,
        history_error=f"recordSync failed: {text}",
        stale_error=f"list failed: {text}",
        deactivate_requested=True,
    )
    stale_text, notes = render_after_sync(after, dry_run=False)
    with captured() as (_stdout, stderr):
        for note in notes:  # diagnostics, shown by Output.progress
            Output().progress(note)
    return {
        "dry-run diff": render_human(sync_report(api_id, text, "free", dry_run=True)),
        "report": render_human(sync_report(api_id, text, "free", dry_run=False)),
        "catalog lines": render_human(sync_report(api_id, text, "catalog", dry_run=False)),
        "local rows": render_rows([row]),
        "status": render_status(build_status([row], now_ms=1.7e12, listed_ids={text})),
        "history": render_history([history_row]),
        "doctor": render_check(Check("openrouter", "fail", f"got {text}", hint=f"try {text}")),
        "activation": render_results(
            [ActivationResult(api_id, "failed", 1.0, None, False, reason=text)]
        ),
        "stale": render_stale(after.stale, after.deactivated) + stale_text,
        "notes": stderr.getvalue(),
    }


@given(api_id=hostile_text, text=hostile_text)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_every_renderer_shows_hostile_strings_escaped(api_id: str, text: str) -> None:
    benign = renderings(BENIGN, BENIGN)
    for renderer, output in renderings(api_id, text).items():
        assert raw_controls(output) == [], renderer
        # A value can't start a line: the output has the lines it has for plain values.
        assert output.count("\n") == benign[renderer].count("\n"), renderer


@given(api_id=hostile_text, text=hostile_text)
def test_the_report_shows_the_id_and_the_error_in_full(api_id: str, text: str) -> None:
    output = render_human(sync_report(api_id, text, "free", dry_run=False))
    assert f"[ERR] {printable(api_id)} — upsertModel failed: {printable(text)}" in output


@given(text=hostile_text)
def test_error_progress_and_hint_lines_are_one_escaped_line_each(text: str) -> None:
    with captured() as (stdout, stderr):
        output = Output()
        output.progress(f"[1/3] {text}: retrying")
        output.error(SyncModelsError(f"OpenRouter said: {text}", hint=f"check {text}"))
        output.data(f"report {text}\n")
    lines = stderr.getvalue().split("\n")
    assert lines == [
        f"[1/3] {printable(text)}: retrying",
        f"error: OpenRouter said: {printable(text)}",
        f"hint: check {printable(text)}",
        "",
    ]
    assert raw_controls(stdout.getvalue()) == []


@given(document=st.dictionaries(hostile_text, st.one_of(hostile_text, st.lists(hostile_text))))
def test_json_output_is_exact_and_holds_no_raw_control(document: dict[str, Any]) -> None:
    with captured() as (stdout, _stderr):
        Output(json_mode=True).document(document)
        Output(json_mode=True).error(SyncModelsError(json.dumps(document), hint="h"))
    text = stdout.getvalue()
    assert raw_controls(text) == []
    printed, end = json.JSONDecoder().raw_decode(text)
    assert printed == document
    assert json.loads(text[end:])["error"]["message"] == json.dumps(document)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


#: What rich itself writes to draw the bar: hide/show the cursor, erase the line, move up,
#: colours, carriage return, newline.
_RICH_OWN = ("\x1b[?25l", "\x1b[?25h", "\x1b[2K", "\x1b[1A", "\r", "\n")


def _without_rich_codes(text: str) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    for code in _RICH_OWN:
        text = text.replace(code, "")
    return text


def _in_wide_terminal(draw: Callable[[io.StringIO], None]) -> str:
    stream = _Terminal()
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "4000"
    try:
        draw(stream)
    finally:
        if saved is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = saved
    return stream.getvalue()


@given(current=hostile_text)
@example(current="\U0001f3fb")  # rich measures these as zero cells wide
@example(current="\U000e0000")
@settings(max_examples=40, deadline=None)
def test_the_progress_bar_shows_the_model_escaped_and_markup_as_typed(current: str) -> None:
    def draw(stream: io.StringIO) -> None:
        bar = ProgressBar(stream)
        bar.step(Step(0, 2, current, "line"))
        bar.abandon()

    drawn = _without_rich_codes(_in_wide_terminal(draw))
    assert [char for char in drawn if ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F] == []
    assert printable(current).strip() in drawn


def test_the_progress_bar_prints_markup_in_a_model_id_as_typed() -> None:
    def draw(stream: io.StringIO) -> None:
        bar = ProgressBar(stream)
        bar.step(Step(0, 2, "[bold red]vendor/model[/bold red]\x1b]0;t\x07", "line"))
        bar.abandon()

    drawn = _in_wide_terminal(draw)
    assert "[bold red]vendor/model[/bold red]\\x1b]0;t\\x07" in _without_rich_codes(drawn)
    assert "\x1b[1;31m" not in drawn
