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
        "--perflab", nargs="?", const="report", default=None,
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


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args: list[str]) -> None:
    """``--perflab`` takes a mode only when one follows: ``pytest --perflab tests/`` sweeps
    tests/. argparse reads the path as the option's value (the option has no ``choices``, or
    the first, early parse would refuse it before this hook runs); rewritten here, before
    the full parse, it is a path again."""
    for position, arg in enumerate(args):
        if arg == "--":
            return
        following = args[position + 1] if position + 1 < len(args) else None
        if arg == "--perflab" and following not in SWEEP_MODES:
            args[position] = "--perflab=report"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "perf(queries=None, n_plus_one=None, duplicates=None, db_ms=None, using=None, "
        "threshold=2): the test's body must stay within this budget (perflab)",
    )
    mode = config.option.perflab_sweep
    if mode is not None and mode not in SWEEP_MODES:  # no argparse choices: see above
        raise pytest.UsageError(f"--perflab takes {' or '.join(SWEEP_MODES)}, not {mode!r}")
    if mode:  # the sweep's hooks exist only in a --perflab run
        from perflab.budgets.sweep import Sweep

        config.pluginmanager.register(Sweep(config), "perflab-sweep")
    elif config.option.perflab_json or config.option.perflab_html:
        raise pytest.UsageError("--perflab-json and --perflab-html go with --perflab")


# -- budgets: the ``perf`` fixture and the ``perf`` marker (perflab.budgets.budget) --------


@pytest.fixture
def perf(request: pytest.FixtureRequest):
    """The test's performance checks: ``perf.budget(queries=3, n_plus_one=0)``,
    ``perf.capture()``, ``perf.assert_fast(fn, p50_ms=…)``, ``perf.snapshot()``."""
    from perflab.budgets.perf import Perf

    # PERFLAB_UPDATE_SNAPSHOTS=1 is read by the snapshot itself (unittest has no options)
    update = request.config.option.perflab_update
    return Perf(request.node.path, _name_in_module(request.node), update)


def _name_in_module(item: pytest.Item) -> str:
    """The test's name within its module, classes included: ``TestX.test_y[param]``."""
    chain = item.listchain()
    modules = [i for i, node in enumerate(chain) if isinstance(node, pytest.Module)]
    start = modules[-1] + 1 if modules else len(chain) - 1
    return ".".join(node.name for node in chain[start:])


def _marked_budget(item: pytest.Item):
    """The ``Budget`` of the test's ``perf`` marker, or None; ``pytest.UsageError`` (one
    line, naming the test) when its arguments are not a budget."""
    marker = item.get_closest_marker("perf")
    if marker is None:
        return None
    from perflab.budgets.budget import LIMITS, Budget

    known = (*LIMITS, "using", "threshold")
    unknown = [name for name in marker.kwargs if name not in known]
    try:
        if marker.args:
            raise TypeError("takes keyword arguments only, e.g. perf(queries=3)")
        if unknown:
            raise TypeError(f"unknown argument {unknown[0]!r} (known: {', '.join(known)})")
        budget = Budget(**marker.kwargs)
        from django.conf import settings

        if settings.configured:  # else the call phase says what is missing
            budget.check_alias()
        return budget
    except (TypeError, ValueError) as error:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.perf: {error}") from None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Markers that are not budgets stop the run before any test, as a usage error (a line
    for each)."""
    errors = []
    for item in items:
        try:
            _marked_budget(item)
        except pytest.UsageError as error:
            errors.append(str(error))
    if errors:
        raise pytest.UsageError(*errors)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """A test marked ``perf(...)`` runs its body (not its fixtures' setup) in that budget."""
    budget = _marked_budget(item)
    if budget is None:
        return (yield)
    from perflab.budgets.capture import Capture

    with Capture(threshold=budget.threshold) as seen:
        result = yield  # the test's own error passes through, unchecked
    overruns = budget.check(seen)
    if overruns:  # the message is the story: no traceback into the plugin
        pytest.fail(budget.explain(seen, overruns), pytrace=False)
    return result


# -- snapshots: each test's first snapshot takes its bare key (perflab.budgets.snapshot) ----


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test run again in this process (reruns, repeats) numbers its snapshots afresh."""
    import sys

    snapshot = sys.modules.get("perflab.budgets.snapshot")  # loaded once a test took one
    if snapshot is not None:
        snapshot.forget_taken_keys()


# -- time budgets: the speed factor they were scaled by (perflab.budgets.calibration) -----


def pytest_terminal_summary(terminalreporter) -> None:
    """The measured speed factor, when a test calibrated in this process: a CI log then
    shows which factor to pin with ``PERFLAB_SPEED_FACTOR``. Never calibrates by itself."""
    import sys

    calibration = sys.modules.get("perflab.budgets.calibration")
    measured = calibration.measured_factor() if calibration is not None else None
    if measured is not None:
        terminalreporter.write_line(f"perflab: time budgets scaled by {measured.describe()}")
