"""Run a function as the unprivileged user ``nobody``, from a root test process.

Root passes every permission check (``os.access``, reading other users' sockets), so the
tests of what a server's own user may do run the function in a forked child that has
become ``nobody``; its result comes back through a pipe.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any

NOBODY = 65534


def as_nobody(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` (a picklable result) in a forked child running as ``nobody``; an
    exception in the child fails the caller with its repr."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                answer = ("result", function(*args))
            except BaseException as exc:
                answer = ("raised", repr(exc))
            with os.fdopen(write_end, "wb") as writer:
                pickle.dump(answer, writer)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        data = reader.read()
    os.waitpid(child, 0)
    kind, value = pickle.loads(data) if data else ("raised", "the child said nothing")
    assert kind == "result", value
    return value
