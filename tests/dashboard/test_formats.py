"""How figures read on the pages."""

import pytest

from perflab.dashboard.formats import count, duration, ms, rate, share


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "—"), (0.0434, "0.04 ms"), (12.345, "12.3 ms"), (1234.5, "1,234 ms")],
)
def test_milliseconds(value, shown):
    assert ms(value) == shown


def test_rates_keep_three_figures_when_small():
    assert (rate(3 / 3600), rate(0), rate(12.345), rate(1234.5)) == (
        "0.000833",
        "0",
        "12.3",
        "1,234",
    )


def test_shares_counts_durations():
    assert (share(None), share(0.5), share(1)) == ("—", "50.0 %", "100.0 %")
    assert (count(1200), count(20.0), count(0.5)) == ("1,200", "20", "0.5")
    assert (duration(90), duration(600), duration(7200 * 3)) == ("90 s", "10 min", "6.0 h")
