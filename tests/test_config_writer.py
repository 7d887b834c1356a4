"""Rewriting convex/config/top*Models.ts: exact form, header kept, date set, atomic, diffable."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from sync_client.config_writer import apply_update, plan_update, write_atomically
from sync_client.errors import RankingsError
from sync_client.rankings import (
    RankedModel,
    read_header_comments,
    read_ranked_list,
    render_ranked_list,
)
from sync_client.rankings_api import RANKINGS_ATTRIBUTION

REPO_CONFIG = Path(__file__).resolve().parents[1] / "convex" / "config"
TODAY = dt.date(2026, 12, 3)


HEADER = [
    "Top paid models on OpenRouter, by rank: `sync-models --paid` syncs these into",
    "the aiModels table. Plain data: `sync-models rankings --paid` rewrites it.",
    "Ranking data: OpenRouter (openrouter.ai/rankings), CC BY 4.0",
    "Last updated: 2026-11-27",
]
PAID_IDS = ["anthropic/claude-sonnet-4.5", "deepseek/deepseek-v3.2", "minimax/minimax-m2.1"]


def ranked(list_name: str, ids: list[str]) -> list[RankedModel]:
    return [RankedModel(api_id, rank, list_name) for rank, api_id in enumerate(ids, start=1)]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """Lists of our own in the shipped form (the repository's change with every rankings run)."""
    (tmp_path / "topPaidModels.ts").write_text(
        render_ranked_list("TOP_PAID_MODELS", ranked("paid", PAID_IDS), HEADER), encoding="utf-8"
    )
    (tmp_path / "topFreeModels.ts").write_text(
        render_ranked_list("TOP_FREE_MODELS", ranked("free", ["a/b:free"]), ["Free models."]),
        encoding="utf-8",
    )
    return tmp_path


@pytest.mark.parametrize(
    ("name", "constant"),
    [("topPaidModels.ts", "TOP_PAID_MODELS"), ("topFreeModels.ts", "TOP_FREE_MODELS")],
)
def test_the_writer_reproduces_the_repository_files_exactly(name: str, constant: str) -> None:
    text = (REPO_CONFIG / name).read_text(encoding="utf-8")
    models = read_ranked_list(REPO_CONFIG / name)
    assert render_ranked_list(constant, models, read_header_comments(text)) == text


def test_same_ranking_leaves_the_file_alone(config_dir: Path) -> None:
    current = [model.api_id for model in read_ranked_list(config_dir / "topPaidModels.ts")]
    update = plan_update(config_dir, "paid", current, TODAY)
    assert not update.changed
    assert update.diff() == ""
    assert apply_update(update) is False


def test_a_new_ranking_rewrites_list_and_date_and_keeps_the_header(config_dir: Path) -> None:
    path = config_dir / "topPaidModels.ts"
    before = path.read_text(encoding="utf-8")
    new_ids = ["openai/gpt-4o", "anthropic/claude-sonnet-4.5", "qwen/qwen3-coder"]

    update = plan_update(config_dir, "paid", new_ids, TODAY)
    assert update.changed
    assert path.read_text(encoding="utf-8") == before, "planning writes nothing"

    diff = update.diff()
    assert diff.startswith(f"--- a/{path.as_posix()}\n+++ b/{path.as_posix()}\n")
    assert "-// Last updated: 2026-11-27\n+// Last updated: 2026-12-03\n" in diff
    assert '+  { apiId: "openai/gpt-4o", rank: 1 },\n' in diff
    assert '-  { apiId: "minimax/minimax-m2.1", rank: 3 },\n' in diff

    assert apply_update(update) is True
    after = path.read_text(encoding="utf-8")
    old_header = read_header_comments(before)
    assert read_header_comments(after) == [*old_header[:-1], "Last updated: 2026-12-03"]
    assert [(m.api_id, m.rank) for m in read_ranked_list(path)] == [
        (api_id, rank) for rank, api_id in enumerate(new_ids, start=1)
    ]
    assert after.endswith('  { apiId: "qwen/qwen3-coder", rank: 3 },\n] as const;\n')
    assert sorted(p.name for p in config_dir.iterdir()) == ["topFreeModels.ts", "topPaidModels.ts"]


def test_a_header_without_a_date_gets_one(tmp_path: Path) -> None:
    path = tmp_path / "topFreeModels.ts"
    path.write_text(
        "// Free models.\n"
        "export const TOP_FREE_MODELS = [\n"
        '  { apiId: "a/b:free", rank: 1 },\n'
        "] as const;\n"
    )
    update = plan_update(tmp_path, "free", ["c/d:free"], TODAY)
    assert update.new_text.splitlines()[:3] == [
        "// Free models.",
        "// Ranking data: OpenRouter (openrouter.ai/rankings), CC BY 4.0",
        "// Last updated: 2026-12-03",
    ]


def test_the_shipped_lists_credit_the_rankings_source_and_licence() -> None:
    for name in ("topPaidModels.ts", "topFreeModels.ts"):
        header = read_header_comments((REPO_CONFIG / name).read_text(encoding="utf-8"))
        assert "Ranking data: OpenRouter (openrouter.ai/rankings), CC BY 4.0" in header


def test_a_list_without_the_attribution_gets_it_even_when_the_ranking_is_the_same(
    config_dir: Path,
) -> None:
    path = config_dir / "topPaidModels.ts"
    without = [line for line in HEADER if not line.startswith("Ranking data:")]
    path.write_text(render_ranked_list("TOP_PAID_MODELS", ranked("paid", PAID_IDS), without))

    update = plan_update(config_dir, "paid", PAID_IDS, TODAY)
    assert update.changed
    added = [line for line in update.diff().splitlines() if line.startswith("+//")]
    assert added == [f"+// {RANKINGS_ATTRIBUTION}", "+// Last updated: 2026-12-03"]
    assert apply_update(update) is True
    assert read_header_comments(path.read_text()) == [
        *without[:-1],
        *HEADER[-2:-1],
        "Last updated: 2026-12-03",
    ]
    assert not plan_update(config_dir, "paid", PAID_IDS, TODAY).changed  # once, not every run


def test_an_outdated_attribution_line_is_replaced_where_it_stands(config_dir: Path) -> None:
    path = config_dir / "topPaidModels.ts"
    header = ["Ranking data: someone else's words", *HEADER[:2], HEADER[3]]
    path.write_text(render_ranked_list("TOP_PAID_MODELS", ranked("paid", PAID_IDS), header))

    update = plan_update(config_dir, "paid", ["x/y"], TODAY)
    assert read_header_comments(update.new_text) == [
        RANKINGS_ATTRIBUTION,
        *HEADER[:2],
        "Last updated: 2026-12-03",
    ]


def test_a_broken_file_is_refused_and_left_alone(config_dir: Path) -> None:
    path = config_dir / "topFreeModels.ts"
    path.write_text("export const TOP_FREE_MODELS = [ { apiId: 42, rank: 1 } ];\n")
    with pytest.raises(RankingsError, match=r"topFreeModels\.ts:1"):
        plan_update(config_dir, "free", ["a/b:free"], TODAY)
    assert "apiId: 42" in path.read_text()


def test_an_empty_ranking_is_refused(config_dir: Path) -> None:
    with pytest.raises(RankingsError, match="no models to write"):
        plan_update(config_dir, "paid", [], TODAY)


def test_a_failed_write_keeps_the_original_and_no_temporary_file(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = config_dir / "topPaidModels.ts"
    before = path.read_text()

    def refuse(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, "half")
    assert path.read_text() == before
    assert sorted(p.name for p in config_dir.iterdir()) == ["topFreeModels.ts", "topPaidModels.ts"]


@pytest.mark.posix_only(reason="POSIX file modes (Windows keeps only a read-only flag)")
def test_the_file_mode_is_kept(config_dir: Path) -> None:
    path = config_dir / "topPaidModels.ts"
    path.chmod(0o640)
    write_atomically(path, "x\n")
    assert path.stat().st_mode & 0o777 == 0o640
    assert path.read_text() == "x\n"


def test_a_file_with_windows_line_endings_keeps_them(config_dir: Path) -> None:
    """A checkout with CRLF (git's autocrlf on Windows): unchanged stays untouched, a rewrite
    keeps CRLF, so that the diff is the ranking, not every line."""
    path = config_dir / "topPaidModels.ts"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert apply_update(plan_update(config_dir, "paid", PAID_IDS, TODAY)) is False
    assert apply_update(plan_update(config_dir, "paid", PAID_IDS[::-1], TODAY)) is True
    written = path.read_bytes()
    assert written.count(b"\r\n") == written.count(b"\n") > 5
    assert [m.api_id for m in read_ranked_list(path)] == PAID_IDS[::-1]
    write_atomically(config_dir / "new.ts", "a\nb\n")  # a new file: LF, as the repository's
    assert (config_dir / "new.ts").read_bytes() == b"a\nb\n"
