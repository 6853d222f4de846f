"""Ctrl-C and SIGTERM as a flag a long-running loop checks, so it stops cleanly, once."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Set by the first SIGINT/SIGTERM; later ones are ignored until the loop has stopped."""

    def __init__(self) -> None:
        self.requested = False
        self.signal: int | None = None

    def _handle(self, signum: int, frame) -> None:
        if not self.requested:
            self.requested, self.signal = True, signum

    @contextmanager
    def on_signals(self) -> Iterator[StopRequest]:
        previous = {sig: signal.signal(sig, self._handle) for sig in STOP_SIGNALS}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
