"""The Python types of the Convex functions' arguments and rows match `convex/lib/validators.ts`
(rows: `convex/lib/documents.ts`, which reads them off `convex/schema.ts`):
the same fields, the same optional ones, compatible value types (read from the validators'
own JSON description, so a field added on one side only fails here)."""

from __future__ import annotations

import json
import subprocess
import typing
from functools import cache
from typing import Literal

import pytest
from support.local_backend import REPO_ROOT, tsx_command

from sync_client.convex_types import HistoryEntry, ModelRow, UpsertArgs

PAIRS: list[tuple[str, type]] = [
    ("upsertModelArgs", UpsertArgs),
    ("aiModelDoc", ModelRow),
    ("historyEntry", HistoryEntry),
]
#: The module under convex/lib/ that exports each validator (validators.ts unless named here).
MODULES = {"aiModelDoc": "documents"}

#: Validator type → the Python types that hold such a value (a v.number() takes an int too).
PYTHON_TYPES: dict[str, set[object]] = {
    "string": {str},
    "id": {str},
    "boolean": {bool},
    "number": {float, int},
}


@cache
def validators() -> dict[str, typing.Any]:
    imports = "".join(
        f'import {{ {name} }} from "./convex/lib/{MODULES.get(name, "validators")}";'
        for name, _ in PAIRS
    )
    script = (
        imports
        + f"console.log(JSON.stringify({{ {', '.join(f'{n}: {n}.json' for n, _ in PAIRS)} }}));"
    )
    done = subprocess.run(
        tsx_command("--input-type=module", "-e", script),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    parsed: dict[str, typing.Any] = json.loads(done.stdout)
    return parsed


def matches(field_type: dict[str, typing.Any], annotation: object) -> bool:
    kind = field_type["type"]
    if kind == "array":
        return typing.get_origin(annotation) is list and matches(
            field_type["value"], typing.get_args(annotation)[0]
        )
    if kind == "union" and all(member["type"] == "literal" for member in field_type["value"]):
        return typing.get_origin(annotation) is Literal and set(typing.get_args(annotation)) == {
            member["value"] for member in field_type["value"]
        }
    return annotation in PYTHON_TYPES.get(kind, set())


@pytest.mark.parametrize(("validator", "typed_dict"), PAIRS, ids=[name for name, _ in PAIRS])
def test_the_python_type_has_the_validators_fields(validator: str, typed_dict: type) -> None:
    described = validators()[validator]
    assert described["type"] == "object"
    fields: dict[str, typing.Any] = described["value"]
    hints = typing.get_type_hints(typed_dict)

    assert set(hints) == set(fields)
    optional = {name for name, field in fields.items() if field["optional"]}
    assert typing.is_typeddict(typed_dict)
    assert vars(typed_dict)["__optional_keys__"] == optional
    assert vars(typed_dict)["__required_keys__"] == set(fields) - optional
    mismatched = {
        name: (field["fieldType"], hints[name])
        for name, field in fields.items()
        if not matches(field["fieldType"], hints[name])
    }
    assert mismatched == {}


def test_a_literal_union_must_hold_the_same_values() -> None:
    history_list = typing.get_type_hints(HistoryEntry)["list"]
    union = {"type": "union", "value": [{"type": "literal", "value": "paid"}]}
    assert not matches(union, history_list)
    assert not matches({"type": "number"}, str)
