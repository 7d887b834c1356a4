"""Rewrite a ranked-list file (`convex/config/topPaidModels.ts` / `topFreeModels.ts`).

The new text keeps the file's `//` header, sets its `// Ranking data: …` attribution line (the
dataset's licence, CC BY 4.0, asks for it) and its `// Last updated: YYYY-MM-DD` line (each
added if missing) and lists the models in the exact form `rankings.render_ranked_list` writes.
When the ranked ids and their order are unchanged and the attribution is there, the file is
left alone (no date-only churn).
Writes are atomic: a temporary file in the same folder, then a rename over the original.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import RankingsError
from .rankings import (
    FREE_FILE,
    PAID_FILE,
    RankedModel,
    read_header_comments,
    read_ranked_list,
    render_ranked_list,
)
from .rankings_api import RANKINGS_ATTRIBUTION

LIST_FILES: dict[str, tuple[str, str]] = {
    "paid": (PAID_FILE, "TOP_PAID_MODELS"),
    "free": (FREE_FILE, "TOP_FREE_MODELS"),
}
_LAST_UPDATED = re.compile(r"^Last updated:")
_ATTRIBUTION = re.compile(r"^Ranking data:")


@dataclass(frozen=True)
class ConfigUpdate:
    """A planned rewrite of one ranked-list file."""

    path: Path
    old_text: str
    new_text: str
    old_models: list[RankedModel]
    new_models: list[RankedModel]

    @property
    def changed(self) -> bool:
        return self.old_text != self.new_text

    def diff(self) -> str:
        """A unified diff of the rewrite (empty when nothing changes)."""
        return "".join(
            difflib.unified_diff(
                self.old_text.splitlines(keepends=True),
                self.new_text.splitlines(keepends=True),
                fromfile=f"a/{self.path.as_posix()}",
                tofile=f"b/{self.path.as_posix()}",
            )
        )


def list_file(config_dir: Path, list_name: str) -> Path:
    """The file of the `paid` or `free` list in `config_dir`."""
    return config_dir / LIST_FILES[list_name][0]


def plan_update(
    config_dir: Path, list_name: str, api_ids: Sequence[str], today: dt.date
) -> ConfigUpdate:
    """The rewrite that makes `list_name`'s file rank `api_ids` in order (1, 2, ...).

    The current file must read cleanly (a RankingsError otherwise), so that its header is
    known and nothing hand-written is lost.
    """
    if not api_ids:
        raise RankingsError(
            "no models to write: the ranking matched no model of this list",
            path=list_file(config_dir, list_name),
            hint="the file was left as it is",
        )
    file_name, constant_name = LIST_FILES[list_name]
    path = config_dir / file_name
    old_models = read_ranked_list(path)
    old_text = path.read_text(encoding="utf-8")
    new_models = [
        RankedModel(api_id=api_id, rank=index + 1, list_name=list_name)
        for index, api_id in enumerate(api_ids)
    ]
    old_header = read_header_comments(old_text)
    same = [m.api_id for m in old_models] == list(api_ids) and _ranks_are_positions(old_models)
    if same and RANKINGS_ATTRIBUTION in old_header:
        new_text = old_text
    else:
        header = _with_date(_with_attribution(old_header), today)
        new_text = render_ranked_list(constant_name, new_models, header)
    return ConfigUpdate(path, old_text, new_text, old_models, new_models)


def _ranks_are_positions(models: Sequence[RankedModel]) -> bool:
    return all(model.rank == index + 1 for index, model in enumerate(models))


def _with_attribution(header: list[str]) -> list[str]:
    """The header with the attribution line set: in place, else before `Last updated:`, else
    at the end."""
    lines = [RANKINGS_ATTRIBUTION if _ATTRIBUTION.match(line) else line for line in header]
    if RANKINGS_ATTRIBUTION not in lines:
        dated = [index for index, line in enumerate(lines) if _LAST_UPDATED.match(line)]
        lines.insert(dated[0] if dated else len(lines), RANKINGS_ATTRIBUTION)
    return lines


def _with_date(header: list[str], today: dt.date) -> list[str]:
    stamp = f"Last updated: {today.isoformat()}"
    lines = [stamp if _LAST_UPDATED.match(line) else line for line in header]
    if stamp not in lines:
        lines.append(stamp)
    return lines


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a reader sees the old file or the new, never half.
    The file keeps its line endings (a Windows checkout's CRLF stays CRLF) and its mode."""
    exists = path.exists()
    mode = path.stat().st_mode & 0o777 if exists else 0o644
    newline = "\r\n" if exists and b"\r\n" in path.read_bytes() else "\n"
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def apply_update(update: ConfigUpdate) -> bool:
    """Write the planned text if it differs; returns whether the file was written."""
    if not update.changed:
        return False
    write_atomically(update.path, update.new_text)
    return True
