"""Human and JSON rendering of sync reports and errors."""

from __future__ import annotations

import json

from sync_client.errors import (
    ConfigError,
    ConvexDeadlineError,
    ConvexUnavailableError,
    OpenRouterError,
)
from sync_client.report import (
    error_code,
    error_document,
    format_value,
    render_human,
    render_rows,
    report_document,
)
from sync_client.sync import FieldChange, ModelResult, SyncReport, SyncTarget


def finished_report() -> SyncReport:
    return SyncReport(
        list_synced="free",
        results=[
            ModelResult("qwen/qwen3-coder:free", 1, "free", action="inserted", is_free=True),
            ModelResult("a/paid", 2, "free", action="updated", is_free=False),
            ModelResult("gone/model:free", 3, "free", error="not listed by OpenRouter"),
        ],
    )


def test_human_output_has_the_summary_block_then_one_line_per_model() -> None:
    text = render_human(finished_report())
    lines = text.splitlines()
    assert lines[0] == "✅ Sync complete!"
    summary = dict(line.strip().split(": ", 1) for line in lines[1:8])
    assert summary == {
        "List synced": "free",
        "Total": "3",
        "Inserted": "1",
        "Updated": "1",
        "Free": "1",
        "Paid": "1",
        "Errors": "1",
    }
    assert lines[-3:] == [
        "[NEW] [FREE] qwen/qwen3-coder:free",
        "[UPD] [PAID] a/paid",
        "[ERR] gone/model:free — not listed by OpenRouter",
    ]


def test_json_document_has_the_documented_shape() -> None:
    document = json.loads(json.dumps(report_document(finished_report())))
    assert document["summary"] == {
        "listSynced": "free",
        "total": 3,
        "inserted": 1,
        "updated": 1,
        "errors": 1,
        "free": 1,
        "paid": 1,
        "dryRun": False,
        "unanswered": 0,
        "notAttempted": 0,
    }
    first, second, third = document["results"]
    assert first == {
        "apiId": "qwen/qwen3-coder:free",
        "rank": 1,
        "listName": "free",
        "isFree": True,
        "action": "inserted",
    }
    assert second["action"] == "updated" and second["isFree"] is False
    assert third == {
        "apiId": "gone/model:free",
        "rank": 3,
        "listName": "free",
        "error": "not listed by OpenRouter",
    }
    assert "error" not in document


def test_an_aborted_run_says_so_and_lists_what_was_not_attempted() -> None:
    report = finished_report()
    report.not_attempted = [SyncTarget("late/model", 4, "free")]
    report.aborted = ConvexUnavailableError("cannot reach or authenticate to h within 5 s")
    text = render_human(report)
    assert "stopped early" in text.splitlines()[0]
    assert "Not attempted: 1" in text
    assert "[---] late/model — not attempted" in text
    document = report_document(report)
    assert document["notAttempted"] == ["late/model"]
    assert document["summary"]["total"] == 4
    assert document["error"]["code"] == "convex_unavailable"
    assert "within 5 s" in document["error"]["message"]


def test_a_call_cut_off_by_its_deadline_is_sent_no_answer_apart_from_the_unsent() -> None:
    report = finished_report()
    report.unanswered = [SyncTarget("slow/model", 4, "free")]
    report.not_attempted = [SyncTarget("late/model", 5, "free")]
    report.aborted = ConvexDeadlineError("upsertModel got no answer from h within 5 s")
    lines = render_human(report).splitlines()
    assert "   Sent, no answer: 1" in lines and "   Not attempted: 1" in lines
    assert "[???] slow/model — sent, no answer (may have landed)" in lines
    assert "[---] late/model — not attempted" in lines
    assert not any(line.startswith("[---] slow/model") for line in lines)
    document = report_document(report)
    assert document["unanswered"] == ["slow/model"]
    assert document["notAttempted"] == ["late/model"]
    assert document["summary"]["unanswered"] == document["summary"]["notAttempted"] == 1
    assert document["summary"]["total"] == 5


def test_a_long_not_attempted_list_names_the_first_twenty_and_counts_the_rest() -> None:
    report = finished_report()
    report.not_attempted = [SyncTarget(f"vendor/model-{i}", None, "catalog") for i in range(335)]
    report.aborted = ConvexUnavailableError("cannot reach or authenticate to h within 5 s")
    lines = render_human(report).splitlines()
    assert "   Not attempted: 335" in lines
    named = [line for line in lines if line.endswith("— not attempted")]
    assert named == [f"[---] vendor/model-{i} — not attempted" for i in range(20)]
    assert lines[-1] == "[---] … and 315 more not attempted (--json lists every one)"
    assert len(report_document(report)["notAttempted"]) == 335


def test_dry_run_shows_each_changed_field_old_to_new() -> None:
    report = SyncReport(
        list_synced="paid",
        dry_run=True,
        results=[
            ModelResult(
                "a/model",
                1,
                "paid",
                planned="update",
                is_free=False,
                changes=(
                    FieldChange("inputCostPer1MTokens", 3.0, 2.5),
                    FieldChange("description", "old text", None),
                ),
            ),
            ModelResult("b/model", 2, "paid", planned="unchanged", is_free=False),
            ModelResult(
                "c/model",
                3,
                "paid",
                planned="insert",
                is_free=True,
                changes=(FieldChange("modelName", None, "C"),),
            ),
        ],
    )
    text = render_human(report)
    assert text.startswith("🔎 Dry run — nothing was written")
    assert "   Would update: 1" in text and "   Unchanged: 1" in text
    assert "[UPD] [PAID] a/model — would update\n      inputCostPer1MTokens: 3 → 2.5\n" in text
    assert '      description: "old text" → (unset)' in text
    assert "[SAME] [PAID] b/model — unchanged" in text
    assert "[NEW] [FREE] c/model — would insert\n" in text
    assert "modelName" not in text
    document = report_document(report)
    assert document["results"][0]["action"] == "update"
    assert document["results"][0]["changes"][1] == {
        "field": "description",
        "before": "old text",
        "after": None,
    }
    assert document["summary"]["unchanged"] == 1
    assert document["results"][2]["changes"] == [
        {"field": "modelName", "before": None, "after": "C"}
    ]


def test_error_codes_and_documents() -> None:
    assert error_code(ConfigError("x")) == "config"
    assert error_code(OpenRouterError("x")) == "openrouter"
    assert error_code(ConvexUnavailableError("x")) == "convex_unavailable"
    assert error_code(ValueError("x")) == "unexpected"
    assert error_document(ConfigError("bad flag", hint="use one")) == {
        "error": {"code": "config", "message": "bad flag", "hint": "use one"}
    }


def test_values_and_rows_render_compactly() -> None:
    assert format_value(200000.0) == "200000"
    assert format_value(0.2) == "0.2"
    assert format_value(None) == "(unset)"
    assert format_value("x" * 100).endswith('…"') and len(format_value("x" * 100)) == 62
    table = render_rows(
        [
            {"apiIdentifier": "z/b", "isActive": True, "isFree": False, "contextWindow": 8.0},
            {"apiIdentifier": "a/a", "isActive": False, "isFree": True},
        ]
    ).splitlines()
    assert table[0].split() == ["model", "active", "free", "in", "$/1M", "out", "$/1M", "context"]
    assert table[1].split() == ["a/a", "no", "yes", "-", "-", "-"]
    assert table[2].split() == ["z/b", "yes", "no", "-", "-", "8"]
    assert render_rows([]) == "(no rows)\n"
