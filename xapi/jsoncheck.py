"""Whether parsed JSON can be written back as JSON: Python's ``json`` reads ``NaN``,
``Infinity`` and numbers beyond a double, which no strict reader (orjson, browsers, R's jsonlite)
accepts, and which :func:`json.dumps` writes back as invalid JSON."""

from __future__ import annotations

import math
import sys
from typing import Any


def is_finite_json(value: Any, max_depth: int = 1000) -> bool:
    """True if ``value`` holds only finite numbers that fit a double, within ``max_depth``
    levels of arrays and objects."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, int) and not isinstance(item, bool):
            if abs(item) > sys.float_info.max:
                return False
        elif isinstance(item, dict | list):
            if depth > max_depth:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((c, depth + 1) for c in children)
    return True
