"""``perf.assert_fast`` in a project's own suite (pytester, the sample project): a budget that
holds, one that cannot, and mistakes in using it; and a run that uses none, which must not
pay for the calibration."""

INNER_TESTS = """
import pytest

pytestmark = pytest.mark.django_db


def test_fixed_list_is_fast(client, books, perf):
    result = perf.assert_fast(lambda: client.get("/api/books/fixed/"), p50_ms=2000, repeat=10)
    assert result.repeat == 10 and result.speed.source == "measured"


def test_fixed_list_cpu_time(client, books, perf):
    perf.assert_fast(lambda: client.get("/api/books/fixed/"), p95_ms=2000, clock="cpu")


def test_nested_list_in_a_microsecond(client, books, perf):
    perf.assert_fast(lambda: client.get("/api/books/"), p50_ms=0.001, repeat=5)


def test_no_limit(perf):
    perf.assert_fast(lambda: None)


def test_a_pinned_factor_that_is_not_a_number(perf, monkeypatch):
    monkeypatch.setenv("PERFLAB_SPEED_FACTOR", "quick")
    perf.assert_fast(lambda: None, p50_ms=1)


def test_budget_only(client, books, perf):
    import sys

    with perf.budget(queries=1):
        client.get("/api/books/fixed/")
    assert "perflab.budgets.calibration" not in sys.modules  # nothing calibrated
"""


def test_a_time_budget_passes_fails_with_its_reasons_and_refuses_misuse(
    sample_project, monkeypatch
):
    monkeypatch.delenv("PERFLAB_SPEED_FACTOR", raising=False)  # the factor is measured
    sample_project.makepyfile(test_timing_inner=INNER_TESTS)
    result = sample_project.runpytest_subprocess("-k", "not budget_only")
    result.assert_outcomes(passed=2, failed=3)
    out = result.stdout.str()

    result.stdout.fnmatch_lines(
        [
            "*TooSlow: too slow: p50 * ms > * ms (p50_ms=0.001 x speed factor *)",
            "*  wall clock (time.perf_counter), 5 calls measured after 3 warm-up calls",
            "*  measured: min * p50 * p90 * p95 * p99 * max * ms",
            "*  speed factor * (calibration * ms / reference 5.0 ms*)",
            "*  where the time went (one more call, untimed: the capture slows it):",
            "*    N+1 queries (1):",
            "*      N+1: 3 statements, * ms, at *sample/shop/serializers.py:13:*.author",
            "*          in GET /api/books/ → sample.shop.views.BookListAPI",
            "*          hint: select_related('author')",
            "*    What ran: 1 request, 4 statements, * ms in the database",
        ]
    )
    assert "PerflabError: assert_fast needs a limit: p50_ms=, p90_ms=, p95_ms= or p99_ms=" in out
    assert "PerflabError: PERFLAB_SPEED_FACTOR='quick': expected a number above 0, e.g. 1.7" in out
    result.stdout.fnmatch_lines(["perflab: time budgets scaled by speed factor * (calibration *"])

    # A run without time budgets never calibrates, and says nothing of a factor.
    untimed = sample_project.runpytest_subprocess("-k", "budget_only")
    untimed.assert_outcomes(passed=1)
    assert "speed factor" not in untimed.stdout.str()
