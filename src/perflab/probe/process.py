"""This process's id without a system call per request, kept current across forks.

``os.getpid()`` is a system call (glibc stopped caching it), and the probe asks for it on
every request: the record carries it, and the writer checks it to restart its thread in
a forked gunicorn worker.
"""

from __future__ import annotations

import os

_pid = os.getpid()


def _after_fork() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork)


def current_pid() -> int:
    return _pid
