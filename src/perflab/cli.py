"""The `perflab` command: parses arguments, runs one subcommand, maps errors to exit codes."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from rich.console import Console

from perflab import __version__
from perflab.commands import capacity, compare, demo, inspect, report, run, seed, serve
from perflab.errors import ExitCode, PerflabError

COMMANDS = [demo, run, capacity, report, compare, seed, serve, inspect]
LOAD_COMMANDS = {"run"}  # run Locust in this process: gevent must patch first
PIPED_WIDTH = 200


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit code 2), not the whole usage text."""

    def error(self, message: str) -> None:
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="perflab", description="Load-test and profile a Django application in one run."
    )
    parser.add_argument("--version", action="version", version=f"perflab {__version__}")
    subparsers = parser.add_subparsers(
        title="commands", metavar="COMMAND", required=True, parser_class=_OneLineParser
    )
    for command in COMMANDS:
        command.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)  # bad usage ends here, before gevent's 0.2 s
    if argv[0] in LOAD_COMMANDS:
        _patch_for_locust()
    # Piped output (CI logs, scripts) gets wide tables rather than 80 squeezed columns.
    width = None if sys.stdout.isatty() else PIPED_WIDTH
    console = Console(soft_wrap=True, width=width)
    previous = _sigterm_as_interrupt()
    try:
        return int(args.run(args, console))
    except PerflabError as exc:
        print(f"perflab: error: {exc}", file=sys.stderr)
        return int(exc.exit_code)
    except KeyboardInterrupt:
        print("perflab: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _sigterm_as_interrupt():
    """SIGTERM ends a command as Ctrl-C does (cleanup runs, exit 130) rather than on the
    spot, which left children behind: the demo's gunicorn (its own session) and load test,
    capacity's step. Commands that stop on signals themselves (run, serve) install their own
    handlers while they do. Returns the handler to restore (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _interrupt)


def _patch_for_locust() -> None:
    """Locust needs gevent's monkey-patching before sockets and threads are used."""
    import os

    os.environ.pop("LOCUST_SKIP_MONKEY_PATCH", None)  # set by the test suite for its own process
    from gevent import monkey

    monkey.patch_all()
