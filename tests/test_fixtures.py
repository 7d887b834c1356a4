"""The project's own OpenRouter data: what scripts/build_openrouter_fixtures.py keeps and
replaces, that it always writes the same bytes, and that the stored snapshots hold every
case the suite relies on."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.openrouter_fixtures import every_snapshot
from support.openrouter_server import (
    EXTRA_SNAPSHOTS_ENV_VAR,
    FIXTURES_DIR,
    NO_EXTRA_SNAPSHOTS,
    SNAPSHOTS,
    extra_snapshots,
    load_snapshot,
    snapshot_path,
)

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_openrouter_fixtures.py"
OLD, NEW = SNAPSHOTS
PROSE = (
    "Acme Prose is a zebra\u2011striped model \u2013 fast, “quoted” and 長い.\n"
    "\n"
    "- **Bold** claim with `code`\n"
    "- see the [announcement](https://acme.example/blog) \n"
    "Last line."
)
ROUTER_PRICING = {"prompt": "-1", "completion": "-1", "request": "0"}
SOURCE: dict[str, Any] = {
    "data": [
        {
            "id": "acme/prose",
            "canonical_slug": "acme/prose-2025",
            "hugging_face_id": None,
            "name": "Acme: Prose",
            "created": 1764696672,
            "description": PROSE,
            "context_length": 131072,
            "architecture": {"modality": "text->text", "instruct_type": None},
            "pricing": {"prompt": "0.0000002", "completion": "0.000001", "image": "0"},
            "top_provider": {"context_length": None, "max_completion_tokens": None},
            "per_request_limits": None,
            "supported_parameters": ["tools", "max_tokens"],
            "default_parameters": {"temperature": 0.7, "top_p": None},
        },
        {"id": "openrouter/auto", "description": "", "pricing": ROUTER_PRICING},
        {"id": "acme/quiet:free", "description": None, "pricing": {"prompt": "0"}},
        {"id": "acme/bare", "name": "No description at all", "top_provider": None},
    ]
}

# Ids the tests and benchmarks name, as they rely on them.
PAID_RANKED = ("anthropic/claude-sonnet-4.5", "x-ai/grok-code-fast-1")
FREE_RANKED = ("qwen/qwen3-coder:free", "google/gemma-3-27b-it:free")
IN_BOTH = (
    "openrouter/auto",
    "google/gemma-3-27b-it:free",
    "meta-llama/llama-3.3-70b-instruct:free",
)
VANISHED = "deepseek/deepseek-r1-0528:free"


def build(sources: list[Path], out: Path) -> None:
    """Run the script as a user would."""
    command = [sys.executable, str(SCRIPT), *map(str, sources), "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True)


def script_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_openrouter_fixtures", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def without_descriptions(snapshot: dict[str, Any]) -> str:
    stripped = copy.deepcopy(snapshot)
    for model in stripped["data"]:
        model.pop("description", None)
    return json.dumps(stripped, ensure_ascii=False)


def test_keeps_every_fact_and_replaces_only_descriptions(tmp_path: Path) -> None:
    source = tmp_path / "models-2099-01-01.json"
    source.write_text(json.dumps(SOURCE, indent=2, ensure_ascii=True))
    build([source], tmp_path / "out")

    written = (tmp_path / "out" / source.name).read_bytes()
    built = json.loads(written)
    # Every other field, its order, JSON type and value, byte for byte once re-encoded.
    assert without_descriptions(built) == without_descriptions(SOURCE)
    assert [list(model) for model in built["data"]] == [list(m) for m in SOURCE["data"]]
    # Compact UTF-8, as OpenRouter sends it; nothing escaped.
    assert written == json.dumps(built, ensure_ascii=False, separators=(",", ":")).encode()
    assert "\u2013".encode() in written

    prose, empty, null, missing = built["data"]
    assert (empty["description"], null["description"]) == ("", None)
    assert "description" not in missing
    text = prose["description"]
    for word in ("Acme", "zebra", "striped", "quoted", "claim", "announcement", "Last"):
        assert word not in text
    source_lines, lines = PROSE.split("\n"), text.split("\n")
    assert [len(line) for line in lines] == [len(line) for line in source_lines]
    assert lines[0].startswith("Generated text for acme/prose.") and lines[1] == ""
    assert lines[2].startswith("- **") and "`" in lines[2]
    assert lines[3].startswith("- ") and re.search(r"\[[^\]]+\]\(https://example\.com/\w+\)", text)
    assert {char for char in text if ord(char) > 127} == {"\u2011", "\u2013", "“", "”", "長", "い"}


def test_rebuilding_writes_the_same_bytes(tmp_path: Path) -> None:
    source = tmp_path / "models-2099-01-01.json"
    source.write_text(json.dumps(SOURCE))
    build([source], tmp_path / "first")
    build([source], tmp_path / "second")
    build([source], tmp_path / "second")  # over its own output
    first = (tmp_path / "first" / source.name).read_bytes()
    assert (tmp_path / "second" / source.name).read_bytes() == first


def test_stored_snapshots_are_the_scripts_output_of_the_extra_ones(tmp_path: Path) -> None:
    sources = [path for path in extra_snapshots() if path.name in SNAPSHOTS]
    if not sources:
        pytest.skip(NO_EXTRA_SNAPSHOTS)
    build(sources, tmp_path)
    for source in sources:
        assert (tmp_path / source.name).read_bytes() == (FIXTURES_DIR / source.name).read_bytes()


def test_stored_snapshots_hold_what_the_suite_relies_on() -> None:
    assert sum(path.stat().st_size for path in FIXTURES_DIR.iterdir()) <= 1_000_000
    old, new = (load_snapshot(name)["data"] for name in (OLD, NEW))
    assert (len(old), len(new)) == (321, 335)  # whole catalogs, for the catalog and e2e tests
    assert not any("canonical_slug" in model for model in old)  # the older field set
    assert all("canonical_slug" in model for model in new)
    for models in (old, new):
        by_id = {model["id"]: model for model in models}
        prices = [(m["pricing"]["prompt"], m["pricing"]["completion"]) for m in models]
        assert ("0", "0") in prices and any("0" not in pair for pair in prices)  # free, paid
        assert any(api_id.endswith(":free") for api_id in by_id)
        assert by_id["openrouter/auto"]["pricing"]["prompt"] == "-1"  # the router sentinel
        assert any(m["top_provider"]["max_completion_tokens"] is None for m in models)
        assert any(m["top_provider"]["context_length"] is None for m in models)
        assert set(IN_BOTH) <= set(by_id) and VANISHED not in by_id
        descriptions = [model["description"] for model in models]
        assert any("\n" in text for text in descriptions)
        assert any(re.search(r"\[[^\]]+\]\(", text) for text in descriptions)
        assert any(any(ord(char) > 127 for char in text) for text in descriptions)
    assert set(PAID_RANKED + FREE_RANKED) <= {model["id"] for model in new}


def test_stored_descriptions_are_generated_text_only() -> None:
    """No word of anyone's prose: only the script's words (the last of a line may be cut
    short), its link, and the model's own id."""
    words = {*script_module().WORDS, "Generated", "text", "for", "notes", "https", "example", "com"}
    for name in SNAPSHOTS:
        for model in load_snapshot(name)["data"]:
            allowed = words | set(re.findall(r"[A-Za-z]+", model["id"]))
            for word in re.findall(r"[A-Za-z]+", model["description"]):
                assert any(known.startswith(word) for known in allowed), (model["id"], word)


def test_extra_snapshots_are_the_named_folders_captures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    capture = tmp_path / "models-2099-01-01.json"
    capture.write_text(json.dumps(SOURCE))
    (tmp_path / "notes.json").write_text("{}")
    monkeypatch.setenv(EXTRA_SNAPSHOTS_ENV_VAR, str(tmp_path))

    assert extra_snapshots() == [capture]
    cases = every_snapshot()
    own_ids = [name.removesuffix(".json") for name in SNAPSHOTS]
    assert [case.id for case in cases] == [*own_ids, "extra-models-2099-01-01"]
    assert snapshot_path(cases[2].values[0]) == capture
    assert snapshot_path("models-2025-12-02") == FIXTURES_DIR / "models-2025-12-02.json"

    monkeypatch.setenv(EXTRA_SNAPSHOTS_ENV_VAR, str(tmp_path / "absent"))
    [*own, skipped] = every_snapshot()
    assert [case.id for case in own] == own_ids
    assert skipped.marks[0].kwargs["reason"] == f"no models-*.json in {tmp_path / 'absent'}"
