"""Pausing the app's garbage collector around the writer's own work, and only that.

A batch's objects (records made mutable again, their statements, rows, documents) are
alive together for a few milliseconds; a collection in that window would move thousands
of them to the oldest generation, where they die at once but bring the app's full
collections forward. The pause must never cover a wait on the store (a lock held by
another process, a commit): the app's garbage would pile up for as long as the wait.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection inside; left alone when the app runs with it disabled."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
