"""Comparing two statements: durations count to 0.01 second.

xAPI 1.0.3 Data 4.6 ("When comparing Durations, any precision beyond 0.01 second precision
SHOULD* NOT be included in the comparison") and xAPI 2.0 4.2.7 ("... shall not be included in
the comparison", e.g. "as a part of the statement signing process"). The LRS stores a duration as
received; only comparisons (a signed statement against its JWS payload, a statement against a
stored one with the same id) look at the truncated value.
"""

from __future__ import annotations

from typing import Any


def comparable_duration(text: str) -> str:
    """The duration with its seconds truncated (not rounded) to hundredths, without trailing
    zeros: PT0.1237S and PT0.12S compare equal, as do PT1.10S and PT1.1S, PT1.00S and PT1S.
    ISO 8601 allows "." or "," before the fraction."""
    if not text.endswith("S"):
        return text
    dot = max(text.rfind("."), text.rfind(","))
    fraction = text[dot + 1 : -1]
    if dot < 0 or not fraction.isdigit() or not text[dot - 1 : dot].isdigit():
        return text  # no fraction on the seconds
    kept = fraction[:2].rstrip("0")
    if kept == fraction and text[dot] == ".":
        return text
    return text[:dot] + ("." + kept if kept else "") + "S"


def for_comparison(statement: dict[str, Any]) -> dict[str, Any]:
    """The statement as compared: ``result.duration`` (also a SubStatement's) truncated to
    0.01 s. Returns the statement itself (not a copy) when nothing changes, which is the
    common case, so a caller can tell with ``is``."""
    changed = statement
    result = statement.get("result")
    if isinstance(result, dict) and isinstance(result.get("duration"), str):
        duration = comparable_duration(result["duration"])
        if duration != result["duration"]:
            changed = {**statement, "result": {**result, "duration": duration}}
    obj = statement.get("object")
    if isinstance(obj, dict) and obj.get("objectType") == "SubStatement":
        sub = for_comparison(obj)
        if sub is not obj:
            changed = {**changed, "object": sub}
    return changed
