"""Numbers in `--json` documents as people and `jq` expect.

Convex stores every number as a float64 and the SDK hands each back as a Python float, so a
context window would print as `131072.0` and a timestamp as `1796184117078.0`. Before a
document is printed, each float with a whole value becomes an int — except prices, which
keep the decimal form they were stored in.
"""

from __future__ import annotations

import math

#: Fields holding money, printed as stored.
PRICE_FIELDS = frozenset({"inputCostPer1MTokens", "outputCostPer1MTokens"})
#: Keys of a change entry (`{"field", "before", "after"}` or `{"field", "from", "to"}`)
#: whose value is the named field's.
_CHANGE_SIDES = frozenset({"before", "after", "from", "to"})
#: Beyond 2**53 a float no longer holds every integer, so it is not taken for one.
_EXACT_LIMIT = 2.0**53


def _whole(value: float) -> int | float:
    if math.isfinite(value) and value.is_integer() and abs(value) <= _EXACT_LIMIT:
        return int(value)
    return value


def with_whole_numbers(value: object, *, price: bool = False) -> object:
    """`value` (a JSON-ready structure) with each whole float outside a price made an int."""
    if isinstance(value, float):
        return value if price else _whole(value)
    if isinstance(value, dict):
        field = value.get("field")
        change_of_price = isinstance(field, str) and field in PRICE_FIELDS
        return {
            key: with_whole_numbers(
                item,
                price=key in PRICE_FIELDS or (change_of_price and key in _CHANGE_SIDES),
            )
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [with_whole_numbers(item) for item in value]
    return value
