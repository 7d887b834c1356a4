"""The ranked-list parser: accepted forms, every error's location, the real files, round trips."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync_client.errors import ConfigError, ExitCode, RankingsError
from sync_client.rankings import (
    FREE_FILE,
    MAX_API_ID_LENGTH,
    PAID_FILE,
    RankedModel,
    load_rankings,
    parse_ranked_list,
    read_header_comments,
    read_ranked_list,
    render_ranked_list,
)

REPO_CONFIG_DIR = Path(__file__).resolve().parents[1] / "convex" / "config"


def ranked(*pairs: tuple[str, int], list_name: str = "extra") -> list[RankedModel]:
    return [RankedModel(api_id, rank, list_name) for api_id, rank in pairs]


def parse_error(text: str, constant_name: str | None = None) -> RankingsError:
    with pytest.raises(RankingsError) as info:
        parse_ranked_list(text, path="list.ts", constant_name=constant_name)
    return info.value


# --- accepted forms --------------------------------------------------------------------------


def test_canonical_form_sorted_by_rank() -> None:
    text = """// Top paid models
// Last updated: 2026-11-27
export const TOP_PAID_MODELS = [
  { apiId: "openai/gpt-5", rank: 2 },
  { apiId: "anthropic/claude-sonnet-4.5", rank: 1 },
  { apiId: "google/gemini-2.5-pro", rank: 3 },
] as const;
"""
    models = parse_ranked_list(text, list_name="paid", constant_name="TOP_PAID_MODELS")
    assert models == ranked(
        ("anthropic/claude-sonnet-4.5", 1),
        ("openai/gpt-5", 2),
        ("google/gemini-2.5-pro", 3),
        list_name="paid",
    )


def test_lenient_syntax_comments_quotes_key_order_no_trailing_comma() -> None:
    text = """/* block
   comment */ const LIST = [ // after the bracket
  {'rank': 1, "apiId": 'qwen/qwen3-coder:free'},
  { "apiId" : "~openai/gpt-latest" /* inline */, rank : 2 , },
  {apiId:'it\\'s"quoted"\\u00e9\\x41\\u{1F600}\\\\', rank:10}
]"""
    models = parse_ranked_list(text)
    assert [model.api_id for model in models] == [
        "qwen/qwen3-coder:free",
        "~openai/gpt-latest",
        'it\'s"quoted"\u00e9A\U0001f600\\',
    ]
    assert [model.rank for model in models] == [1, 2, 10]


def test_bare_array_and_semicolon_without_as_const() -> None:
    assert parse_ranked_list('[{apiId: "a/b", rank: 1}];') == ranked(("a/b", 1))


def test_gaps_in_ranks_are_allowed() -> None:
    models = parse_ranked_list('[{apiId: "a", rank: 5}, {apiId: "b", rank: 2}]')
    assert [model.rank for model in models] == [2, 5]


# --- errors name file, line, column and what was expected ------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("export const X = [\n]", 1, 18, "the list is empty"),
        ('[\n  {apiId: "a", rank: 0},\n]', 2, 22, "rank must be a positive whole number"),
        ('[\n  {apiId: "a", rank: -3},\n]', 2, 22, "found -3"),
        ('[\n  {apiId: "a", rank: 1.5},\n]', 2, 22, "found 1.5"),
        ('[\n  {apiId: "a", rank: 1e2},\n]', 2, 22, "found 1e2"),
        ('[\n  {apiId: "a", rank: "1"},\n]', 2, 22, "expected rank to be a number"),
        ('[{apiId: "a", rank: 1},\n {apiId: "a", rank: 2}]', 2, 2, 'duplicate apiId "a"'),
        ('[{apiId: "a", rank: 1},\n {apiId: "b", rank: 1}]', 2, 2, "duplicate rank 1"),
        ('[{apiId: "a", rank: 1, apiId: "b"}]', 1, 24, "duplicate key apiId"),
        ('[\n {apiId: "a"}]', 2, 13, "entry has no rank"),
        ("[\n {rank: 1}]", 2, 10, "entry has no apiId"),
        ('[{apiId: "a", rank: 1, name: "x"}]', 1, 24, 'unknown key "name"'),
        ('[{apiId: "a", rank: 1} {apiId: "b", rank: 2}]', 1, 24, "expected ',' or ']'"),
        ('[{apiId: "a" rank: 1}]', 1, 14, "expected ',' or '}' after the value of apiId"),
        ('[{apiId "a", rank: 1}]', 1, 9, "expected ':' after the key apiId"),
        ("[{apiId: a, rank: 1}]", 1, 10, "expected apiId to be a string"),
        ('[{apiId: "", rank: 1}]', 1, 10, "apiId is empty"),
        ('[{apiId: " a/b", rank: 1}]', 1, 10, "whitespace or control characters"),
        ('[{apiId: "a\\tb", rank: 1}]', 1, 10, "whitespace or control characters"),
        ('[{apiId: "a\\x1b[2Jb", rank: 1}]', 1, 10, "whitespace or control characters"),
        ('[{apiId: "a\\u009bb", rank: 1}]', 1, 10, "whitespace or control characters"),
        ('[{apiId: "a/b, rank: 1}]', 1, 10, "unterminated string"),
        ('[{apiId: "a\n", rank: 1}]', 1, 10, "unterminated string"),
        ("[{apiId: `a`, rank: 1}]", 1, 10, "template strings are not supported"),
        ('[{apiId: "a\\u12", rank: 1}]', 1, 12, "malformed \\u escape"),
        ('[{apiId: "a\\1", rank: 1}]', 1, 12, "octal escapes are not allowed"),
        ('[{apiId: "a", rank: 1}] as any', 1, 28, "expected 'const' after 'as'"),
        ('[{apiId: "a", rank: 1}]; export {}', 1, 26, "expected end of file"),
        ('[{apiId: "a", rank: 1}]\n/* open', 2, 1, "unterminated /* comment"),
        ('[{apiId: "a", rank: 1}] + 1', 1, 25, "unexpected character '+'"),
        ("module.exports = []", 1, 1, "expected 'export const NAME = ['"),
        ("export let X = []", 1, 8, "expected 'const' after 'export'"),
        ("export const X: string[] = []", 1, 15, "expected '=' after the constant name X"),
        ('{apiId: "a", rank: 1}', 1, 1, "expected 'export const NAME = ['"),
        ("[1]", 1, 2, "expected '{' to start an entry"),
        ('[{apiId: "a", rank: 1}, ...more]', 1, 25, "unexpected character '.'"),
        ("", 1, 1, "found end of file"),
    ],
)
def test_errors_name_file_line_column_and_expectation(
    text: str, line: int, column: int, message: str
) -> None:
    error = parse_error(text)
    assert message in error.detail
    assert (error.line, error.column) == (line, column)
    assert str(error).startswith(f"list.ts:{line}:{column}: ")
    assert isinstance(error, ConfigError)


def test_wrong_constant_name_for_a_known_file() -> None:
    error = parse_error('export const TOP_FREE_MODELS = [{apiId: "a", rank: 1}]', "TOP_PAID_MODELS")
    assert "expected the constant to be named TOP_PAID_MODELS, found TOP_FREE_MODELS" in str(error)


def test_code_is_never_evaluated(tmp_path: Path) -> None:
    marker = tmp_path / "evaluated"
    text = f'[{{apiId: require("fs").writeFileSync("{marker}", "x"), rank: 1}}]'
    error = parse_error(text)
    assert "expected apiId to be a string" in str(error)
    assert not marker.exists()


def test_megabyte_long_id_is_refused_quickly_without_echoing_it() -> None:
    long_id = "vendor/" + "m" * 1_000_000
    started = time.monotonic()
    with pytest.raises(RankingsError) as caught:
        parse_ranked_list(f'[{{apiId: "{long_id}", rank: 1}}]')
    assert time.monotonic() - started < 2
    assert "1,000,007 characters long" in str(caught.value)
    assert len(str(caught.value)) < 300


def test_an_id_at_the_length_limit_is_accepted() -> None:
    longest = "vendor/" + "m" * (MAX_API_ID_LENGTH - len("vendor/"))
    assert parse_ranked_list(f'[{{apiId: "{longest}", rank: 1}}]')[0].api_id == longest
    with pytest.raises(RankingsError, match="characters long"):
        parse_ranked_list(f'[{{apiId: "{longest}m", rank: 1}}]')


# --- files -----------------------------------------------------------------------------------


def write_lists(config_dir: Path, paid: list[tuple[str, int]], free: list[tuple[str, int]]) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / PAID_FILE).write_text(
        render_ranked_list("TOP_PAID_MODELS", ranked(*paid), ["Top paid models"])
    )
    (config_dir / FREE_FILE).write_text(
        render_ranked_list("TOP_FREE_MODELS", ranked(*free), ["Top free models"])
    )


def test_read_ranked_list_knows_list_name_and_constant_from_file_name(tmp_path: Path) -> None:
    write_lists(tmp_path, [("p/one", 1)], [("f/one:free", 1)])
    assert read_ranked_list(tmp_path / PAID_FILE) == ranked(("p/one", 1), list_name="paid")
    assert read_ranked_list(tmp_path / FREE_FILE) == ranked(("f/one:free", 1), list_name="free")
    swapped = tmp_path / "swapped"
    swapped.mkdir()
    (swapped / FREE_FILE).write_text((tmp_path / PAID_FILE).read_text())
    with pytest.raises(RankingsError, match="TOP_FREE_MODELS"):
        read_ranked_list(swapped / FREE_FILE)


def test_load_rankings_choices(tmp_path: Path) -> None:
    write_lists(
        tmp_path,
        paid=[("p/two", 2), ("p/one", 1), ("shared/model", 3)],
        free=[("f/one:free", 1), ("shared/model", 2)],
    )
    assert [m.api_id for m in load_rankings(tmp_path, "paid")] == [
        "p/one",
        "p/two",
        "shared/model",
    ]
    assert [m.api_id for m in load_rankings(tmp_path, "free")] == ["f/one:free", "shared/model"]
    all_models = load_rankings(tmp_path, "all")
    assert [(m.api_id, m.list_name, m.rank) for m in all_models] == [
        ("p/one", "paid", 1),
        ("p/two", "paid", 2),
        ("shared/model", "paid", 3),
        ("f/one:free", "free", 1),
    ]


def test_missing_file_is_an_error_with_hint(tmp_path: Path) -> None:
    with pytest.raises(RankingsError, match="file not found") as info:
        load_rankings(tmp_path, "free")
    assert info.value.path == tmp_path / FREE_FILE
    assert info.value.hint is not None
    assert "--config-dir" in info.value.hint


def test_non_utf8_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / FREE_FILE
    path.write_bytes(b'[{apiId: "\xff", rank: 1}]')
    with pytest.raises(RankingsError, match="not UTF-8"):
        read_ranked_list(path)


def test_a_directory_in_place_of_a_list_is_not_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / FREE_FILE).mkdir()
    with pytest.raises(RankingsError, match=r"not a regular file \(a directory\)") as info:
        load_rankings(tmp_path, "free")
    assert info.value.exit_code == ExitCode.USAGE


@pytest.mark.posix_only(reason="creates a FIFO with os.mkfifo, which Windows does not have")
def test_a_fifo_in_place_of_a_list_is_refused_without_waiting_for_a_writer(
    tmp_path: Path,
) -> None:
    os.mkfifo(tmp_path / FREE_FILE)
    outcome: list[BaseException] = []
    reader = threading.Thread(
        target=lambda: outcome.append(_raised(lambda: load_rankings(tmp_path, "free"))),
        daemon=True,
    )
    reader.start()
    reader.join(timeout=5)
    if reader.is_alive():  # unblock the reader so the test process can end
        with open(tmp_path / FREE_FILE, "w"):
            pass
        pytest.fail("reading a FIFO blocked")
    (error,) = outcome
    assert isinstance(error, RankingsError)
    assert "not a regular file (a named pipe)" in str(error)


def _raised(action: Callable[[], object]) -> BaseException:
    try:
        action()
    except BaseException as error:  # handed to the test thread to check
        return error
    raise AssertionError("no error")


def test_error_in_a_file_names_that_file(tmp_path: Path) -> None:
    path = tmp_path / PAID_FILE
    path.write_text(
        'export const TOP_PAID_MODELS = [\n  { apiId: "a", rank: 1 }\n  { apiId: "b" }\n]'
    )
    with pytest.raises(RankingsError) as info:
        read_ranked_list(path)
    assert str(info.value).startswith(f"{path}:3:3: expected ',' or ']' after an entry")


@pytest.mark.parametrize(("file_name", "list_name"), [(PAID_FILE, "paid"), (FREE_FILE, "free")])
def test_the_repository_lists_parse(file_name: str, list_name: str) -> None:
    path = REPO_CONFIG_DIR / file_name
    text = path.read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    models = read_ranked_list(path)
    assert models, "the list is empty"
    assert all(model.list_name == list_name for model in models)
    # Independent check: every apiId literal in the file is found, in rank order.
    literal_ids = re.findall(r"""apiId['"]?\s*:\s*["']([^"']+)["']""", code)
    ranks = [int(rank) for rank in re.findall(r"""rank['"]?\s*:\s*(\d+)""", code)]
    expected = [api_id for _, api_id in sorted(zip(ranks, literal_ids, strict=True))]
    assert [model.api_id for model in models] == expected
    assert any(line.startswith("Last updated:") for line in read_header_comments(text))


# --- render and round trip -------------------------------------------------------------------


def test_render_writes_the_documented_form() -> None:
    text = render_ranked_list(
        "TOP_FREE_MODELS",
        ranked(("b/x:free", 2), ("a/y:free", 1)),
        ["Top free models", "", "Last updated: 2026-11-27"],
    )
    assert text == (
        "// Top free models\n"
        "//\n"
        "// Last updated: 2026-11-27\n"
        "export const TOP_FREE_MODELS = [\n"
        '  { apiId: "a/y:free", rank: 1 },\n'
        '  { apiId: "b/x:free", rank: 2 },\n'
        "] as const;\n"
    )
    assert read_header_comments(text) == ["Top free models", "", "Last updated: 2026-11-27"]


def test_render_writes_what_a_terminal_would_act_on_as_escapes() -> None:
    odd = "vendor/\u202emodel\u2066-模型"  # a valid id: reordering marks are no control
    text = render_ranked_list("TOP_FREE_MODELS", ranked((odd, 1), ("c1/\x9b\x7f", 2)))
    assert '{ apiId: "vendor/\\u202emodel\\u2066-模型", rank: 1 }' in text
    assert '{ apiId: "c1/\\u009b\\u007f", rank: 2 }' in text
    assert parse_ranked_list(text.replace("c1/\\u009b\\u007f", "c1/x"))[0].api_id == odd


def test_render_rejects_bad_constant_name_and_multiline_header() -> None:
    with pytest.raises(ValueError, match="constant name"):
        render_ranked_list("TOP FREE", ranked(("a", 1)))
    with pytest.raises(ValueError, match="line break"):
        render_ranked_list("X", ranked(("a", 1)), ["one\ntwo"])


_api_ids = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=40,
).filter(lambda value: value == value.strip() and not any(char.isspace() for char in value))


@settings(max_examples=200, deadline=None)
@given(
    entries=st.dictionaries(
        _api_ids, st.integers(min_value=1, max_value=10**12), min_size=1
    ).filter(lambda mapping: len(set(mapping.values())) == len(mapping)),
    header=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")))),
)
def test_render_then_parse_round_trips(entries: dict[str, int], header: list[str]) -> None:
    models = ranked(*entries.items(), list_name="paid")
    text = render_ranked_list("TOP_PAID_MODELS", models, header)
    parsed = parse_ranked_list(text, list_name="paid", constant_name="TOP_PAID_MODELS")
    assert parsed == sorted(models, key=lambda model: model.rank)
