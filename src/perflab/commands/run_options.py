"""``perflab run``'s command line is Locust's, with perflab's options on top.

Locust's own parser (``locust.argument_parser``) reads the options with Locust's meanings and
defaults, its config files (``~/.locust.conf``, ``locust.conf``, ``pyproject.toml``'s
``[tool.locust]``, ``--config FILE``) and ``LOCUST_*`` variables. As ``locust`` does, the
locustfile is imported after a first pass that reads only ``-f``/``--config``, so the options
it adds in ``init_command_line_parser`` are on the command line, in ``--help`` and, with their
defaults, in ``environment.parsed_options``. perflab's options are one more group of that
parser: they can be set in the same config files, and ``--help`` shows them apart.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import os
import types
from collections.abc import Sequence
from dataclasses import dataclass

from perflab.commands.arguments import int_between, not_empty, process_id, utf8_text
from perflab.errors import ExitCode, PerflabError
from perflab.load.scenario import Scenario, load_scenario

PERFLAB_GROUP = "perflab options (beyond Locust's)"
WEB_HOST = "127.0.0.1"  # Locust listens on every interface; perflab's UI stays on this machine
MASTER_BIND_HOST = "127.0.0.1"  # likewise a master, unless told --master-bind-host '*'
DESCRIPTION = """\
Usage: perflab run [options] [UserClass ...]

Locust's command line, config files (locust.conf, pyproject.toml [tool.locust], --config)
and LOCUST_* variables, with Locust's meanings: perflab runs the locustfile with Locust and
adds exact HDR percentiles, route grouping, the server's side, SLOs and a run directory.
Without --headless, Locust's web UI starts (with a perflab tab), bound to 127.0.0.1.
Exit codes: 0 pass, 1 the run failed (or, without --slo, a request failed, as Locust's
--exit-code-on-error), 2 bad usage, 3 an SLO was breached, 130 interrupted; a locustfile that
sets environment.process_exit_code decides it."""
EPILOG = """\
Examples:
  perflab run --headless -f locustfile.py -H https://staging.example.com -u 50 -r 5 -t 5m \\
      --slo "p95<300ms" --slo "error_rate<1%" --report
  perflab run -f locustfile.py -H http://127.0.0.1:8000      (web UI on http://127.0.0.1:8089)"""


@dataclass
class ParsedRun:
    options: argparse.Namespace  # Locust's parsed_options, perflab's options included
    scenario: Scenario  # the locustfiles, user classes picked
    notes: list[str]  # what to say before the run (an option the locustfile took)
    argv: list[str]  # as given, without "run"


def add_perflab_options(parser) -> list[str]:
    """perflab's own options, in their group, kept out of Locust's web form; returns what to
    say about them. Each value is ``perflab_NAME`` in ``parsed_options``: a locustfile that
    adds an option of the same name keeps it (its tasks read their own value) and perflab's
    is then ``--perflab-NAME``. Values are plain strings and numbers: Locust sends
    ``parsed_options`` to its workers over msgpack."""
    taken = {option for action in parser._actions for option in action.option_strings}
    group = parser.add_argument_group(PERFLAB_GROUP)
    notes: list[str] = []

    def add(*names: str, **kwargs) -> None:
        name = names[-1].removeprefix("--")
        long = f"--perflab-{name}"
        kept = [option for option in names if option not in taken]
        if len(kept) < len(names):
            notes.append(f"the locustfile's {names[-1]} is its own; perflab's is {long}")
            kept.append(long)
        dest = f"perflab_{name.replace('-', '_')}"
        if kwargs.get("action") != "store_true":
            kwargs.setdefault("metavar", name.replace("-", "_").upper())
        group.add_argument(*kept, dest=dest, **kwargs)

    add(
        "--slo",
        action="append",
        default=[],
        help='a service level objective, e.g. "p95<200ms", "error_rate<1%%", '
        '"/api/posts/:p99<500ms", "rps>50" (repeat for several)',
    )
    add(
        "--abort-on-fail",
        action="store_true",
        help="stop as soon as a latency/error SLO is breached",
    )
    add("--shape", help="ramp|step|spike|soak|stress[:key=value,…] or FILE:Class (needs -t)")
    add("--arrival-rate", help="open model: iterations/s, or FROM:TO:OVER (10:200:5m)")
    add(
        "--max-in-flight",
        type=int_between(1, 100_000),
        default=100,
        help="open model: concurrent iterations at most (default 100)",
    )
    if "--iterations" not in taken:  # locust-plugins adds it, with the same meaning
        add(
            "-i",
            "--iterations",
            type=int_between(1, 10**12),
            help="at most this many task iterations in all, then the run ends (headless)",
        )
    add("--out", type=not_empty, help="run directory (default .perflab/runs/TIMESTAMP)")
    add("--label", type=utf8_text, default="", help="a name for this run in reports")
    add("--report", action="store_true", help="write RUN_DIR/report.html at the end")
    add(
        "--store",
        type=not_empty,
        help="the probe's store file (same machine): server figures for report and web tab",
    )
    add("--data-volume", type=utf8_text, help='what the database holds, e.g. "10,000 posts"')
    add("--quiet", action="store_true", help="no live view (CI)")
    add(
        "--server-pid",
        type=process_id,
        help="watch this server process tree (default: whoever listens on --host's port)",
    )
    add(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="PostgreSQL URL to count connections (default $DATABASE_URL)",
    )
    add(
        "--workers",
        type=int_between(0, 256),
        default=0,
        help="start N worker processes on this machine (as Locust's --processes N)",
    )
    add(
        "--web",
        action="store_true",
        help="the web UI even when a config file or LOCUST_HEADLESS says headless",
    )
    return notes


def build_parser():
    """Locust's parser: its options, the locustfile's, then perflab's."""
    from locust import events
    from locust.argument_parser import get_parser

    global _NOTES
    if _NOTES is None:
        # A listener, as a Locust plugin adds its options, and the last one, so the
        # locustfile's options keep their names: Locust builds its parser again later (its
        # web UI reads the command line), and must know perflab's options then too.
        _NOTES = []
        events.init_command_line_parser.add_listener(_add_perflab_options)
    parser = get_parser()  # fires init_command_line_parser
    parser.prog = "perflab run"
    parser.description = DESCRIPTION
    parser.epilog = EPILOG
    parser.set_defaults(web_host=WEB_HOST, master_bind_host=MASTER_BIND_HOST)
    _one_line_errors(parser)
    return parser


_NOTES: list[str] | None = None  # what adding perflab's options had to say (a name taken)


def _add_perflab_options(parser, **_kwargs) -> None:
    if not any(action.dest == "perflab_slo" for action in parser._actions):
        _NOTES[:] = add_perflab_options(parser)


def parse_run_arguments(argv: Sequence[str]) -> ParsedRun:
    """Locust's order: ``-f`` first, the locustfile imported, then every option."""
    from locust.argument_parser import get_empty_argument_parser

    _import_locust_plugins()
    first = get_empty_argument_parser(add_help=False)
    first.add_argument("-h", "--help", action="store_true")
    _one_line_errors(first)
    known, _rest = first.parse_known_args(args=list(argv))
    try:
        scenario = load_scenario(known.locustfile)
    except PerflabError:
        if not known.help:  # --help still works without a locustfile, minus its options
            raise
        scenario = None
    parser = build_parser()
    options = parser.parse_args(args=list(argv))  # --help prints and exits here
    if options.stats_history_enabled and options.csv_prefix is None:
        raise PerflabError("'--csv-full-history' requires '--csv'")
    return ParsedRun(options, scenario.pick(options.user_classes), list(_NOTES), list(argv))


def _import_locust_plugins() -> None:
    """locust-plugins' options, when it is installed, as ``locust`` itself imports it."""
    with contextlib.suppress(ImportError):
        import locust_plugins  # noqa: F401


def _one_line_errors(parser) -> None:
    """A usage error is one line and exit code 2 (Locust adds a "Did you mean" line)."""

    def error(self, message: str) -> None:
        message = " ".join(message.split())
        if "unrecognized arguments:" in message:
            bad = message.split("unrecognized arguments:")[1].split()[0]
            options = [o for action in self._actions for o in action.option_strings]
            close = difflib.get_close_matches(bad, options, n=1)
            if close:
                message += f" (did you mean {close[0]}?)"
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")

    parser.error = types.MethodType(error, parser)
