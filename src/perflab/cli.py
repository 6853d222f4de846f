"""The `perflab` command: parses arguments, runs one subcommand, maps errors to exit codes.

This is the one module that assembles the command list, the reference app's own commands
(seed, serve, demo: ``perflab.demo.commands``) included, and the one that knows which
optional extra each command needs. ``pip install django-perflab`` is the probe alone; a
command whose extra is not installed says in one line what to install (exit code 4).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import re
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata

from perflab import __version__
from perflab.errors import ExitCode, PerflabError

DISTRIBUTION = "django-perflab"


@dataclass(frozen=True)
class Command:
    name: str
    module: str  # has ``register(subparsers)``, which sets the parser's ``run``
    extra: str  # the optional dependencies it needs (pyproject's optional-dependencies)


COMMANDS = (
    Command("demo", "perflab.demo.commands.demo", "demo"),
    Command("run", "perflab.commands.run", "load"),
    Command("capacity", "perflab.commands.capacity", "load"),
    Command("report", "perflab.commands.report", "load"),
    Command("compare", "perflab.commands.compare", "load"),
    Command("seed", "perflab.demo.commands.seed", "demo"),
    Command("serve", "perflab.demo.commands.serve", "demo"),
    Command("inspect", "perflab.commands.inspect", "load"),
)
PIPED_WIDTH = 200
# name[extras] version ; marker — a requirement as the installed metadata writes it
_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?[^;]*(?:;(.*))?")


@functools.cache
def extra_requirements(extra: str) -> tuple[str, ...]:
    """The distributions ``extra`` needs, read from perflab's installed metadata, so
    pyproject.toml stays the one list (an extra made of other extras included). Run from a
    source tree without metadata: none."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return ()
    wanted = re.compile(rf"""\bextra\s*==\s*['"]{re.escape(extra)}['"]""")
    names: list[str] = []
    for requirement in requires:
        name, extras, marker = _REQUIREMENT.match(requirement).groups()
        if not marker or not wanted.search(marker):
            continue
        if _canonical(name) == DISTRIBUTION:
            for inner in (extras or "").split(","):
                names += extra_requirements(inner.strip())
        else:
            names.append(name)
    return tuple(names)


@functools.cache
def missing_requirements(extra: str) -> tuple[str, ...]:
    """The distributions ``extra`` needs that are not installed; the import then says what
    is missing where the metadata cannot (a source tree)."""
    missing = []
    for name in extra_requirements(extra):
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return tuple(missing)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


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
        if missing_requirements(command.extra):  # listed; main says what to install
            subparsers.add_parser(command.name, help=f"(needs the {command.extra} extra)")
        else:
            importlib.import_module(command.module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    requested = next((arg for arg in argv if not arg.startswith("-")), None)
    command = next((c for c in COMMANDS if c.name == requested), None)
    missing = missing_requirements(command.extra) if command else ()
    if missing:
        print(
            f"perflab: error: perflab {command.name} needs the {command.extra} extra "
            f"(not installed: {', '.join(missing)}): "
            f"pip install '{DISTRIBUTION}[{command.extra}]'",
            file=sys.stderr,
        )
        return int(ExitCode.MISSING_EXTRA)
    previous = None
    try:
        if requested == "run":  # Locust's own parser reads the rest (commands.run_options)
            _patch_for_locust()  # the locustfile is imported while parsing
            from perflab.commands.run import main as run_main

            command_main = functools.partial(run_main, argv[argv.index(requested) + 1 :])
        else:
            args = build_parser().parse_args(argv)
            command_main = functools.partial(args.run, args)
        from rich.console import Console  # every command prints through rich (the load extra)

        # Piped output (CI logs, scripts) gets wide tables rather than 80 squeezed columns.
        width = None if sys.stdout.isatty() else PIPED_WIDTH
        console = Console(soft_wrap=True, width=width)
        previous = _sigterm_as_interrupt()
        return int(command_main(console))
    except ModuleNotFoundError as exc:
        # The metadata said the extra is installed, but one of its packages is not (an
        # environment changed by hand, an editable install older than pyproject.toml). The
        # install line only when the module is one of the extra's: else it would mislead.
        extra = command.extra if command else "load"
        module = (exc.name or "").partition(".")[0]
        ours = _canonical(module) in {_canonical(n) for n in extra_requirements(extra)}
        hint = f"pip install '{DISTRIBUTION}[{extra}]'" if ours else str(exc)
        print(
            f"perflab: error: {'perflab ' + command.name if command else 'perflab'} cannot "
            f"import {exc.name or exc}: {hint}",
            file=sys.stderr,
        )
        return int(ExitCode.MISSING_EXTRA)
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
