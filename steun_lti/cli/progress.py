"""Progress of long CLI runs (exports of a million statements take a minute or two).

On a terminal: a bar (tqdm) with count, rate and, when the total is known, percentage and time
left. When stderr is not a terminal (a log, cron, CI): no bar and no carriage returns, but a
plain line every ``every`` seconds and one at the end.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO

from tqdm import tqdm


class Progress:
    """Counts things read; use as a context manager and call :meth:`update` with the count
    so far (not an increment)."""

    def __init__(
        self,
        what: str = "statements",
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        every: float = 10.0,
    ) -> None:
        self.what = what
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.count = 0
        self.started = time.monotonic()
        self._last_line = self.started
        self._bar: Any = None
        if _is_tty(self.stream):
            self._bar = tqdm(
                total=total,
                unit=f" {what}",
                unit_scale=False,
                file=self.stream,
                desc="Reading",
                dynamic_ncols=True,
                mininterval=0.2,
                smoothing=0.1,
            )

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close(failed=exc_type is not None)

    def update(self, count: int) -> None:
        if count <= self.count:
            return
        if self._bar is not None:
            self._bar.update(count - self.count)
            self.count = count
            return
        self.count = count
        now = time.monotonic()
        if now - self._last_line >= self.every:
            self._last_line = now
            self._line(now)

    def close(self, *, failed: bool = False) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            return
        if not failed and self.count:
            self._line(time.monotonic(), final=True)

    def _line(self, now: float, final: bool = False) -> None:
        elapsed = max(now - self.started, 1e-9)
        text = f"Read {self.count:,}"
        if self.total:
            text += f" of {self.total:,} {self.what} ({100 * self.count / self.total:.0f}%)"
        else:
            text += f" {self.what}"
        text += f" in {elapsed:.0f} s, {self.count / elapsed:,.0f} per second"
        print(text + ("." if final else ""), file=self.stream, flush=True)


def _is_tty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
