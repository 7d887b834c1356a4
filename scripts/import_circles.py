#!/usr/bin/env python3
"""Lists import circles among the project's own modules; exit 1 when there is one.

TypeScript: relative imports in local_backend/ and convex/ (tests and `_generated/` aside),
`import type` and `export … from` included: a circle of types is still a circle to read.
Python: imports between the modules of sync_client/.

Run from anywhere: `python scripts/import_circles.py` (tests/test_import_circles.py runs it).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TS_FOLDERS = ("local_backend", "convex")
TS_IMPORT = re.compile(r"""(?:import|export)[^;'"]*?from\s+["'](\.[^"']+)["']""")
PY_IMPORT = re.compile(
    r"^\s*(?:from\s+(?:sync_client)?\.?([\w.]+)\s+import|import\s+sync_client\.([\w.]+))",
    re.MULTILINE,
)

Graph = dict[str, set[str]]


def _typescript_edges(root: Path) -> Graph:
    edges: Graph = {}
    for folder in TS_FOLDERS:
        for path in sorted((root / folder).rglob("*.ts")):
            parts = path.relative_to(root).parts
            if path.name.endswith(".test.ts") or "_generated" in parts or "node_modules" in parts:
                continue
            targets = set()
            for specifier in TS_IMPORT.findall(path.read_text(encoding="utf-8")):
                target = (path.parent / specifier).resolve()
                if target.suffix in (".js", ""):
                    target = target.with_suffix(".ts")
                if target.is_file():
                    targets.add(target.relative_to(root.resolve()).as_posix())
            edges[path.relative_to(root).as_posix()] = targets
    return edges


def _python_edges(root: Path) -> Graph:
    edges: Graph = {}
    package = root / "sync_client"
    for path in sorted(package.rglob("*.py")):
        targets = set()
        for match in PY_IMPORT.finditer(path.read_text(encoding="utf-8")):
            name = (match.group(1) or match.group(2)).split(".")[0]
            for target in (package / f"{name}.py", package / name / "__init__.py"):
                if target.is_file() and target != path:
                    targets.add(target.relative_to(root).as_posix())
        edges[path.relative_to(root).as_posix()] = targets
    return edges


def find_circles(root: Path = REPO) -> list[list[str]]:
    """Each group of files that import one another in a circle (Tarjan's strongly connected
    components of more than one file), sorted."""
    edges = {**_typescript_edges(root), **_python_edges(root)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(circles)


def main() -> int:
    circles = find_circles()
    for circle in circles:
        print(f"import circle of {len(circle)} files: {', '.join(circle)}")
    if not circles:
        print("no import circles")
    return 1 if circles else 0


if __name__ == "__main__":
    sys.exit(main())
