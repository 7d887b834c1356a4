"""The Convex functions and the local backend the package carries.

A wheel holds them under `sync_client/_bundled/`, laid out as in the repository
(`convex/`, `local_backend/src/`, `package.json`, `package-lock.json`; see pyproject.toml),
whose folders stay the one source. An editable install from a clone has no such folder and
reads the clone's own. Either way, `project_files()` is a folder with the repository's layout.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

#: The files `sync-models init` writes into an app's `convex/` folder, as in `convex/`.
FUNCTION_FILES = (
    "lib/aiModels.ts",
    "lib/documents.ts",
    "lib/errors.ts",
    "lib/history.ts",
    "lib/limits.ts",
    "lib/validators.ts",
    "mutations/activation.ts",
    "mutations/history.ts",
    "mutations/syncModels.ts",
    "queries/aiModels.ts",
    "queries/history.ts",
)
#: The ranked lists: written only where the app has none (a user's lists are theirs).
TEMPLATE_FILES = ("config/topPaidModels.ts", "config/topFreeModels.ts")
#: The schema the functions need (`init` merges it into the app's own `schema.ts`).
SCHEMA_FILE = "schema.ts"


def checkout_root() -> Path:
    """The clone this package would be running from (meaningful when `is_checkout()`)."""
    return Path(__file__).resolve().parents[1]


def is_checkout() -> bool:
    """True when the package runs from a clone (editable install), not from a wheel."""
    return not resources.files("sync_client").joinpath("_bundled").is_dir()


def project_files() -> Traversable:
    """The packaged copy of the repository's `convex/`, `local_backend/` and npm files, or the
    clone itself for an editable install."""
    bundled = resources.files("sync_client").joinpath("_bundled")
    return bundled if bundled.is_dir() else checkout_root()


def convex_file(relative: str) -> str:
    """The text of a file of the project's `convex/` folder (`relative` as in FUNCTION_FILES)."""
    return project_files().joinpath("convex", *relative.split("/")).read_text(encoding="utf-8")
