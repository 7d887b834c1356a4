"""Merge what the sync functions need into an app's `convex/schema.ts`, keeping the app's own.

What is needed is read off the package's own `schema.ts` and `lib/validators.ts` (the one
source): the `aiModels` fields (`aiModelFields`), each table's indexes, and the
`modelHistory` table. The app's schema is edited as text, only where its shape is plain:
`defineSchema({ ... })` whose `aiModels` is `defineTable(<object literal, or a constant of
this file holding one, or aiModelFields>)` followed by `.index(...)` calls. Then:

- every field and index the app has stays; missing fields are added (as the package
  declares them) and missing indexes chained on;
- `modelHistory` (from `lib/validators`) is added beside the app's tables; an app with no
  `aiModels` gets both tables;
- a field or index whose definition differs from the one the functions need, or a
  required field of the app's own (upsertModel inserts rows without it), is a conflict.

Any other shape raises `SchemaNotEditable` with the lines a person should add: an edit there
would be a guess.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from sync_client.ts_source import (
    Entry,
    NotReadable,
    ObjectLiteral,
    closing,
    code_mask,
    line_indent,
    normalized,
    object_literal,
    string_value,
)

VALIDATORS_MODULE = "./lib/validators"
_IDENTIFIER = re.compile(r"^[A-Za-z_$][\w$]*$")
_IMPORT = re.compile(r"\bimport\s+(?:type\s+)?\{([^}]*)\}\s*from\s*([\"'])", re.S)
_IMPORT_STATEMENT = re.compile(r"^import\b[^;]*?from\s*[\"'][^\"']*[\"'];?[ \t]*$", re.M | re.S)


class SchemaNotEditable(Exception):
    """The schema is not in a shape `init` edits; `lines_to_add` says what a person adds."""

    def __init__(self, reason: str, lines_to_add: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.lines_to_add = lines_to_add


class SchemaConflict(Exception):
    """The app defines something the functions need differently (each problem one line)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


Index = tuple[str, tuple[str, ...]]


@dataclass(frozen=True)
class TableSpec:
    """A table as the package's schema defines it: `defineTable(<fields>)` and its indexes."""

    fields_name: str
    indexes: tuple[Index, ...]


@dataclass(frozen=True)
class Requirements:
    """What the functions need of the schema (read off the package's own files)."""

    ai_model_fields: dict[str, str]
    tables: dict[str, TableSpec]


@dataclass
class Merge:
    """The merged schema text and what was added (nothing added: `text` is the app's)."""

    text: str
    fields: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    imports: list[str] = field(default_factory=list)
    #: The schema is in a shape init does not edit, but already names everything needed.
    unchecked: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.fields or self.indexes or self.tables or self.imports)


@dataclass(frozen=True)
class _Table:
    """`defineTable(argument)` followed by chained calls, as found in a text."""

    argument: str
    argument_start: int
    indexes: dict[str, tuple[str, ...]]
    #: Where the expression ends (after its last chained call), and the chain's indentation.
    end: int
    chain_indent: str | None


# --- reading ------------------------------------------------------------------------------------


def _schema_tables(text: str, mask: str) -> ObjectLiteral:
    calls = [match.end() for match in re.finditer(r"\bdefineSchema\s*\(", mask)]
    if len(calls) != 1:
        raise NotReadable(f"{len(calls)} defineSchema(...) calls, not one")
    opening = calls[0] + len(mask[calls[0] :]) - len(mask[calls[0] :].lstrip())
    if mask[opening : opening + 1] != "{":
        raise NotReadable("defineSchema(...) is not given an object literal of tables")
    return object_literal(text, mask, opening)


def _table(text: str, mask: str, entry: Entry) -> _Table:
    value = mask[entry.value_start : entry.value_end]
    match = re.match(r"defineTable\s*\(", value)
    if match is None:
        raise NotReadable(f"it is not `defineTable(...)`: `{entry.value[:60]}`")
    opening = entry.value_start + match.end() - 1
    close = closing(mask, opening)
    argument = text[opening + 1 : close].strip()
    argument_start = (
        opening + 1 + len(text[opening + 1 : close]) - len(text[opening + 1 : close].lstrip())
    )
    indexes: dict[str, tuple[str, ...]] = {}
    position, chain_indent = close + 1, None
    while True:
        call = re.compile(r"\s*\.\s*([A-Za-z_$][\w$]*)\s*\(").match(mask, position, entry.value_end)
        if call is None:
            break
        if chain_indent is None and "\n" in mask[position : call.start(1)]:
            chain_indent = line_indent(text, call.start(1))
        args_open = call.end() - 1
        args_close = closing(mask, args_open)
        if call.group(1) == "index":
            name, fields = _index_arguments(text, mask, args_open, args_close)
            indexes[name] = fields
        position = args_close + 1
    if mask[position : entry.value_end].strip():
        raise NotReadable(f"unexpected code after the table's chained calls: `{entry.value[:60]}`")
    return _Table(argument, argument_start, indexes, position, chain_indent)


def _index_arguments(text: str, mask: str, opening: int, close: int) -> Index:
    inner = text[opening + 1 : close]
    comma = mask.find(",", opening + 1, close)
    if comma < 0:
        raise NotReadable(f"an index call without fields: `.index({inner.strip()})`")
    name = string_value(text[opening + 1 : comma])
    fields_source = text[comma + 1 : close].strip().rstrip(",").strip()
    try:
        fields = json.loads(fields_source.replace("'", '"'))
    except json.JSONDecodeError:
        fields = None
    if (
        name is None
        or not isinstance(fields, list)
        or not all(isinstance(item, str) for item in fields)
    ):
        raise NotReadable(f'an index not written as `.index("name", ["field", ...])`: {inner}')
    return name, tuple(fields)


def _validators_imports(text: str, mask: str) -> dict[str, str]:
    """Local name → exported name, for the names imported from ./lib/validators."""
    names: dict[str, str] = {}
    for match in _IMPORT.finditer(mask):
        quote_at = match.end() - 1
        end = mask.find(match.group(2), quote_at + 1)
        module = text[quote_at + 1 : end]
        if module.removesuffix(".js").removesuffix(".ts") != VALIDATORS_MODULE:
            continue
        for specifier in text[match.start(1) : match.end(1)].split(","):
            parts = specifier.split()
            if len(parts) == 1:
                names[parts[0]] = parts[0]
            elif len(parts) == 3 and parts[1] == "as":
                names[parts[2]] = parts[0]
    return names


def _const_object(text: str, mask: str, name: str) -> ObjectLiteral | None:
    match = re.search(rf"^(?:export\s+)?const\s+{re.escape(name)}\s*(?::[^=]*)?=\s*\{{", mask, re.M)
    return None if match is None else object_literal(text, mask, match.end() - 1)


def requirements(schema_text: str, validators_text: str) -> Requirements:
    """What the functions need, read off the package's `schema.ts` and `lib/validators.ts`."""
    mask = code_mask(validators_text)
    fields = _const_object(validators_text, mask, "aiModelFields")
    if fields is None:
        raise NotReadable("lib/validators.ts has no `aiModelFields = { ... }`")
    schema_mask = code_mask(schema_text)
    tables = {}
    for entry in _schema_tables(schema_text, schema_mask).entries:
        assert entry.key is not None, "the package's schema has no spreads"
        table = _table(schema_text, schema_mask, entry)
        tables[entry.key] = TableSpec(table.argument, tuple(table.indexes.items()))
    return Requirements(
        {entry.key: entry.value for entry in fields.entries if entry.key is not None}, tables
    )


# --- writing ------------------------------------------------------------------------------------


def _index_call(index: Index) -> str:
    name, fields = index
    return f".index({json.dumps(name)}, [{', '.join(json.dumps(f) for f in fields)}])"


def _table_source(name: str, spec: TableSpec, fields_name: str, indent: str) -> str:
    chain = "".join(f"\n{indent}  {_index_call(index)}" for index in spec.indexes)
    return f"{name}: defineTable({fields_name}){chain}"


def lines_to_add(required: Requirements) -> str:
    """The schema lines a person adds by hand (when init cannot edit the schema)."""
    ai_models = required.tables["aiModels"]
    history = required.tables["modelHistory"]
    return "\n".join(
        [
            f'import {{ {history.fields_name} }} from "{VALIDATORS_MODULE}";',
            "",
            "// aiModels: these fields, beside the app's own (which must be v.optional):",
            *(f"{name}: {source}," for name, source in required.ai_model_fields.items()),
            "// aiModels: these indexes, chained on its defineTable(...):",
            *(_index_call(index) for index in ai_models.indexes),
            "// beside the app's other tables:",
            _table_source("modelHistory", history, history.fields_name, "") + ",",
        ]
    )


def _names_everything(mask: str, text: str, required: Requirements) -> bool:
    """A loose check for a schema init cannot read: does it name every field and index?"""
    names = [*required.ai_model_fields, "modelHistory"]
    indexes = [name for spec in required.tables.values() for name, _ in spec.indexes]
    return all(re.search(rf"\b{re.escape(name)}\s*:", mask) for name in names) and all(
        re.search(rf"[\"']{re.escape(name)}[\"']", text) for name in indexes
    )


class _Edits:
    def __init__(self, text: str) -> None:
        self.text = text
        self.inserts: list[tuple[int, int, str]] = []

    def insert(self, position: int, addition: str) -> None:
        """Insert at `position` (of the original text); at one position, in the order asked."""
        self.inserts.append((position, len(self.inserts), addition))

    def apply(self) -> str:
        text = self.text
        for position, _, addition in sorted(self.inserts, reverse=True):
            text = text[:position] + addition + text[position:]
        return text


def _after_entry(edits: _Edits, mask: str, entry: Entry) -> int:
    """Where to add lines after `entry`: after its comma (added if it has none) and after a
    comment that ends its line, so the comment stays with the entry."""
    rest = mask[entry.value_end :]
    stripped = rest.lstrip()
    if stripped.startswith(","):
        position = entry.value_end + len(rest) - len(stripped) + 1
    else:
        edits.insert(entry.value_end, ",")
        position = entry.value_end
    line_end = mask.find("\n", position)
    if line_end >= 0 and not mask[position:line_end].strip():
        return line_end
    return position


def _entry_indent(text: str, literal: ObjectLiteral) -> str:
    """The indentation of the literal's entries (one level in, when they share its line)."""
    if not literal.entries:
        return line_indent(text, literal.open) + "  "
    first = literal.entries[0].value_start
    indent = line_indent(text, first)
    return indent if "\n" in text[literal.open : first] else indent + "  "


def _closing_break(text: str, literal: ObjectLiteral, position: int) -> str:
    """A line break before the closing brace, when it would follow added lines on theirs."""
    return "" if "\n" in text[position : literal.close] else "\n" + line_indent(text, literal.close)


def merge_schema(app_text: str, required: Requirements) -> Merge:
    """The app's schema with what the functions need merged in (see the module docstring)."""
    try:
        return _merge(app_text, required)
    except NotReadable as error:
        mask = code_mask(app_text)
        if _names_everything(mask, app_text, required):
            return Merge(app_text, unchecked=True)
        raise SchemaNotEditable(str(error), lines_to_add(required)) from error


def _merge(text: str, required: Requirements) -> Merge:
    mask = code_mask(text)
    tables = _schema_tables(text, mask)
    if tables.spreads:
        raise NotReadable(f"its tables include a spread (`...{tables.spreads[0]}`)")
    edits, merge, problems = _Edits(text), Merge(text), list[str]()
    imported = _validators_imports(text, mask)
    local_names = {exported: local for local, exported in imported.items()}
    needed_imports: list[str] = []

    def fields_name(exported: str) -> str:
        if exported in local_names:
            return local_names[exported]
        if re.search(rf"(?<![\w$.]){re.escape(exported)}\b", mask):
            raise NotReadable(f"`{exported}` is already a name in schema.ts")
        needed_imports.append(exported)
        return exported

    ai_entry = tables.get("aiModels")
    history_entry = tables.get("modelHistory")
    indent = _entry_indent(text, tables)
    new_tables: list[str] = []
    if ai_entry is None:
        spec = required.tables["aiModels"]
        new_tables.append(_table_source("aiModels", spec, fields_name(spec.fields_name), indent))
        merge.tables.append("aiModels")
    else:
        _merge_ai_models(text, mask, ai_entry, required, edits, merge, problems, imported)
    if history_entry is None:
        spec = required.tables["modelHistory"]
        new_tables.append(
            _table_source("modelHistory", spec, fields_name(spec.fields_name), indent)
        )
        merge.tables.append("modelHistory")
    else:
        table = _table(text, mask, history_entry)
        if imported.get(table.argument) != required.tables["modelHistory"].fields_name:
            problems.append(
                "the app has a modelHistory table of its own (`defineTable("
                f"{table.argument[:40]})`); the functions need "
                f"`defineTable({required.tables['modelHistory'].fields_name})` from "
                f"{VALIDATORS_MODULE}"
            )
        else:
            _add_indexes(
                text,
                history_entry,
                table,
                required.tables["modelHistory"],
                edits,
                merge,
                problems,
                "modelHistory",
            )
    if problems:
        raise SchemaConflict(problems)
    if new_tables:
        if "defineTable" not in mask:
            raise NotReadable("schema.ts does not import defineTable")
        anchor = ai_entry or (tables.entries[-1] if tables.entries else None)
        position = tables.open + 1 if anchor is None else _after_entry(edits, mask, anchor)
        added = "".join(f"\n{indent}{source}," for source in new_tables)
        edits.insert(position, added + _closing_break(text, tables, position))
    if needed_imports:
        _add_import(text, mask, needed_imports, edits)
        merge.imports.extend(needed_imports)
    merge.text = edits.apply()
    return merge


def _merge_ai_models(
    text: str,
    mask: str,
    entry: Entry,
    required: Requirements,
    edits: _Edits,
    merge: Merge,
    problems: list[str],
    imported: dict[str, str],
) -> None:
    table = _table(text, mask, entry)
    spec = required.tables["aiModels"]
    fields: ObjectLiteral | None
    if imported.get(table.argument) == spec.fields_name:
        fields = None  # the package's own field list: complete
    elif _IDENTIFIER.match(table.argument):
        fields = _const_object(text, mask, table.argument)
        if fields is None:
            raise NotReadable(
                f"aiModels' fields come from `{table.argument}`, which is not an object "
                "literal in schema.ts"
            )
    elif table.argument.startswith("{"):
        fields = object_literal(text, mask, table.argument_start)
    else:
        raise NotReadable(f"aiModels is not built from an object of fields: `{table.argument}`")
    if fields is not None:
        _merge_fields(text, mask, fields, required, edits, merge, problems, imported)
    _add_indexes(text, entry, table, spec, edits, merge, problems, "aiModels")


def _merge_fields(
    text: str,
    mask: str,
    fields: ObjectLiteral,
    required: Requirements,
    edits: _Edits,
    merge: Merge,
    problems: list[str],
    imported: dict[str, str],
) -> None:
    spreads_ours = all(
        imported.get(spread) == required.tables["aiModels"].fields_name for spread in fields.spreads
    )
    if not spreads_ours:
        raise NotReadable(f"aiModels' fields include a spread (`...{fields.spreads[0]}`)")
    complete = bool(fields.spreads)  # `...aiModelFields` brings every field the functions need
    missing = []
    for name, source in required.ai_model_fields.items():
        have = fields.get(name)
        if have is None:
            if not complete:
                missing.append((name, source))
        elif normalized(have.value) != normalized(source):
            problems.append(f"aiModels.{name} is `{have.value}`; the functions need `{source}`")
    for entry in fields.entries:
        own = entry.key is not None and entry.key not in required.ai_model_fields
        if own and not normalized(entry.value).startswith("v.optional("):
            problems.append(
                f"aiModels.{entry.key} is required (`{entry.value}`), but upsertModel "
                "inserts rows without it: make it v.optional(...)"
            )
    if not missing:
        return
    if not re.search(r"\bimport\s*\{[^}]*\bv\b[^}]*\}\s*from\s*[\"']", mask):
        raise NotReadable("schema.ts does not import `v` from convex/values")
    if not fields.entries:
        raise NotReadable("aiModels' field object is empty")
    indent = _entry_indent(text, fields)
    position = _after_entry(edits, mask, fields.entries[-1])
    added = "".join(f"\n{indent}{name}: {source}," for name, source in missing)
    edits.insert(position, added + _closing_break(text, fields, position))
    merge.fields.extend(name for name, _ in missing)


def _add_indexes(
    text: str,
    entry: Entry,
    table: _Table,
    spec: TableSpec,
    edits: _Edits,
    merge: Merge,
    problems: list[str],
    table_name: str,
) -> None:
    indent = table.chain_indent or line_indent(text, entry.value_start) + "  "
    for name, fields in spec.indexes:
        have = table.indexes.get(name)
        if have is None:
            edits.insert(table.end, f"\n{indent}{_index_call((name, fields))}")
            merge.indexes.append(f"{table_name}.{name}")
        elif have != fields:
            problems.append(
                f"{table_name}: index {name} is on {list(have)}; the functions need it on "
                f"{list(fields)}"
            )


def _add_import(text: str, mask: str, names: list[str], edits: _Edits) -> None:
    line = f'import {{ {", ".join(names)} }} from "{VALIDATORS_MODULE}";\n'
    # After the last import (the lines that start with `import` and name a module).
    statements = list(_IMPORT_STATEMENT.finditer(mask))
    if not statements:
        edits.insert(0, line)
        return
    edits.insert(statements[-1].end(), "\n" + line.rstrip("\n"))
