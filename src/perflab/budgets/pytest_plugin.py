"""perflab's pytest plugin (registered by the ``pytest11`` entry point): the ``perf``
fixture, the ``perf`` marker and the ``--perflab`` sweep.

Loaded into every pytest run where perflab is installed, so it imports nothing of Django or
of perflab's probe until a test asks for it: a suite that uses none of it pays for the
options and the marker only.
"""

from __future__ import annotations

import pytest

SWEEP_MODES = ("report", "fail")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("perflab", "perflab: performance budgets and the N+1 sweep")
    group.addoption(
        "--perflab", nargs="?", const="report", default=None, choices=SWEEP_MODES,
        dest="perflab_sweep", metavar="MODE",
        help="sweep the suite for N+1s and duplicate statements in every request a test "
        "makes: 'report' (the default) lists them, 'fail' also fails the tests where one "
        "is found and not allowed (perflab_allow)",
    )  # fmt: skip
    group.addoption(
        "--perflab-json", default=None, metavar="PATH", dest="perflab_json",
        help="with --perflab: write the sweep's findings as JSON (default perflab-sweep.json)",
    )  # fmt: skip
    group.addoption(
        "--perflab-html", default=None, metavar="PATH", dest="perflab_html",
        help="with --perflab: write the sweep's findings as an HTML page",
    )  # fmt: skip
    group.addoption(
        "--perflab-update", action="store_true", default=False, dest="perflab_update",
        help="rewrite perf.snapshot() files with what the tests do now",
    )  # fmt: skip
    parser.addini(
        "perflab_allow", type="linelist", default=[],
        help="known N+1s and duplicates the --perflab sweep does not fail on (see perflab's "
        "README, 'Allow-list')",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "perf(queries=None, n_plus_one=None, duplicates=None, db_ms=None): the test's body "
        "must stay within this budget (perflab)",
    )
