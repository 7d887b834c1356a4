"""No module imports itself in a circle: local_backend/, convex/ and sync_client/ (CONTRIBUTING
rule; scripts/import_circles.py is the checker)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "import_circles", REPO / "scripts" / "import_circles.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("import_circles", module)
    spec.loader.exec_module(module)
    return module


def test_the_project_has_no_import_circle() -> None:
    assert _checker().find_circles() == []


def test_the_checker_finds_a_circle_made_of_type_imports_and_python_imports(
    tmp_path: Path,
) -> None:
    source = tmp_path / "local_backend" / "src"
    source.mkdir(parents=True)
    (source / "a.ts").write_text('import type { B } from "./b.js";\nexport type A = B;\n')
    (source / "b.ts").write_text('import { type A } from "./a";\nexport type B = A[];\n')
    (source / "c.ts").write_text('import type { A } from "./a.js";\n')
    (source / "a.test.ts").write_text('import type { C } from "./c.js";\n')
    (tmp_path / "convex").mkdir()
    package = tmp_path / "sync_client"
    package.mkdir()
    (package / "one.py").write_text("from sync_client.two import x\n")
    (package / "two.py").write_text("from .one import y\n")
    (package / "three.py").write_text("from sync_client import one\n")

    assert _checker().find_circles(tmp_path) == [
        ["local_backend/src/a.ts", "local_backend/src/b.ts"],
        ["sync_client/one.py", "sync_client/two.py"],
    ]
