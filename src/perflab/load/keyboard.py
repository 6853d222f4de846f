"""Locust's keys during a run, read as ``locust`` reads them: w/W add 1/10 users, s/S take
1/10 away. Only from a terminal: a piped or scripted run reads nothing."""

from __future__ import annotations

import atexit
import logging
import sys

import gevent

# Each key and the change in users, as Locust's main binds them.
USER_KEYS = {"w": 1, "W": 10, "s": -1, "S": -10}
SPAWN_RATE = 100  # Locust's rate for a key's change


def listen_to_keys(runner) -> gevent.Greenlet | None:
    """Start reading the terminal's keys for ``runner`` (a local runner or a master); None
    when stdin is not a terminal. Kill the greenlet to give the terminal its mode back."""
    if sys.stdin is None or not sys.stdin.isatty():
        return None
    from locust.input_events import input_listener

    def change(delta: int) -> None:
        if runner.state == "spawning":
            logging.warning("Already spawning users, can't change their number right now")
        else:
            runner.start(max(0, runner.user_count + delta), SPAWN_RATE)

    keys = {key: (lambda delta=delta: change(delta)) for key, delta in USER_KEYS.items()}
    greenlet = gevent.spawn(input_listener(keys))
    atexit.register(greenlet.kill, block=True)  # the terminal's mode back, whatever happens
    return greenlet
