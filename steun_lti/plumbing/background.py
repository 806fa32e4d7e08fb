"""A worker's background thread: runs a loop until told to stop (the outbox and the score queue)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class BackgroundLoop:
    """One daemon thread running ``loop(stop_event)``; ``stop`` sets the event and waits for it."""

    def __init__(self, loop: Callable[[threading.Event], object], *, name: str) -> None:
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=loop, args=(self.stop_event,), name=name, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)
