"""Errors a person can act on, each mapped to a distinct process exit code."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Exit codes shared by every perflab command (scripts and CI branch on them)."""

    OK = 0
    FAILED = 1  # the job itself failed (a server died, requests failed)
    USAGE = 2  # bad input or configuration: fix the command line or settings
    SLO_BREACHED = 3
    MISSING_EXTRA = 4  # the command needs an optional extra: pip install 'django-perflab[…]'
    INTERRUPTED = 130


class PerflabError(Exception):
    """An expected failure: printed as one line, never as a traceback."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code
