"""Command-line values every command shares: argparse types and output-path checks.

A bad value must end the command before anything starts, in one line, with exit code 2.
argparse does that for a ``type=`` that raises ``ArgumentTypeError`` (``cli._OneLineParser``
prints ``argument --users: …``), so ranges are checked there rather than after parsing;
checks that need several options or the file system are one ``PerflabError`` each.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from perflab.errors import PerflabError

PID_MAX = 2**31 - 1  # a pid_t; whether such a process exists is the command's check
SQLITE_INTEGER_MAX = 2**63 - 1


def int_between(low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``; "1e3", "nan" and huge numbers are refused."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:,} to {high:,}, got {text}")
        return value

    return parse


def float_between(low: float, high: float, *, above_low: bool = False) -> Callable[[str], float]:
    """A finite number from ``low`` (excluded with ``above_low``) to ``high``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value <= low if above_low else value < low
        if not math.isfinite(value) or too_low or value > high:
            bound = f"above {low:g}" if above_low else f"from {low:g}"
            raise argparse.ArgumentTypeError(f"must be {bound} to {high:g}, got {text}")
        return value

    return parse


def port(text: str) -> int:
    """A TCP port to listen on or connect to."""
    return int_between(1, 65535)(text)


def process_id(text: str) -> int:
    """A process id (a positive pid_t); the command checks that the process exists."""
    try:
        return int_between(1, PID_MAX)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a process id, got {text!r}") from None


def url(text: str) -> str:
    """A URL whose parts parse (a port in range, brackets closed); what it may point at is
    the command's check (``perflab.load.target.check_target``: resolves and answers)."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - parsed lazily: out of range or not a number raises here
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL ({exc})") from None
    return text


def nonempty_path(text: str) -> Path:
    """A path; an empty one is refused (``Path("")`` would quietly be the current directory)."""
    return Path(not_empty(text))


def utf8_text(value: str) -> str:
    """Free text that is stored or shown (a label, a route, a request id): bytes that are not
    UTF-8 reach Python as lone surrogates, which SQLite, JSON readers and HTML refuse later."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"{value!r} is not UTF-8 text") from None
    return value


def not_empty(text: str) -> str:
    """A value that means something only when it is not blank (a database URL)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def make_output_dir(path: Path, option: str) -> None:
    """The directory a command fills (``capacity --out``), made now, as the last check before
    any work: a file in the way or a place that cannot be written is one line, not a
    traceback from the first write."""
    if path.exists() and not path.is_dir():
        raise PerflabError(f"{option} {path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PerflabError(f"{option} {path}: cannot create it ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise PerflabError(f"{option} {path}: is not writable")


def check_output_file(path: Path, option: str) -> None:
    """A file perflab will write (replacing it if there): its directory must exist already."""
    if not path.name:
        raise PerflabError(f"{option} needs a file name, got {str(path)!r}")
    if path.is_dir():
        raise PerflabError(f"{option} {path}: is a directory (name the file to write)")
    parent = path.parent
    if not parent.is_dir():
        why = "does not exist" if not parent.exists() else "is not a directory"
        raise PerflabError(f"{option} {path}: the directory {parent} {why}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PerflabError(f"{option} {path}: the directory {parent} is not writable")
