"""The clock of ``stored``: now in whole milliseconds, and its xAPI timestamp text."""

from __future__ import annotations

import time


def now_us() -> int:
    """Now in whole milliseconds, expressed in microseconds (``stored`` is precise to 1 ms)."""
    return (time.time_ns() // 1_000_000) * 1000


def format_us(us: int) -> str:
    seconds, micro = divmod(us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micro // 1000:03d}Z"
