"""What the docs tell a person to copy or run is what the code needs."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONVEX = REPO / "convex"
RELATIVE_IMPORT = re.compile(r'from\s+"(\.\.?/[^"]+)"')


def section(markdown: str, heading: str) -> str:
    start = markdown.index(f"\n## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else len(markdown)]


def test_the_files_an_existing_app_copies_hold_everything_the_functions_import() -> None:
    text = section(
        (REPO / "docs" / "convex-functions.md").read_text(),
        "Adding these functions to an existing Convex app",
    )
    first_cells = [line.split("|")[1] for line in text.splitlines() if line.startswith("| `")]
    listed = {name for cell in first_cells for name in re.findall(r"`([\w/]+\.ts)`", cell)}
    functions = {name for name in listed if name.startswith(("mutations/", "queries/"))}
    assert functions, "no function files found in the section's table"
    pending, needed = list(functions), set(functions)
    while pending:
        module = CONVEX / pending.pop()
        for target in RELATIVE_IMPORT.findall(module.read_text()):
            resolved = (module.parent / f"{target}.ts").resolve().relative_to(CONVEX).as_posix()
            if not resolved.startswith("_generated/") and resolved not in needed:
                needed.add(resolved)
                pending.append(resolved)
    # The app keeps its own schema.ts; the section says how to edit it.
    assert "`schema.ts`" in text
    assert needed - listed - {"schema.ts"} == set(), (
        "imported by the functions but not in the list to copy"
    )
