"""The machine-speed factor: pinned by PERFLAB_SPEED_FACTOR, else measured once and clamped."""

import pytest

from perflab.budgets import calibration
from perflab.budgets.calibration import (
    MAX_FACTOR,
    MIN_FACTOR,
    SPEED_FACTOR_ENV,
    measured_factor,
    reference_workload,
    speed_factor,
)
from perflab.errors import ExitCode, PerflabError


@pytest.fixture
def fresh_process(monkeypatch):
    """As if this process had not calibrated yet, and with no factor pinned."""
    monkeypatch.setattr(calibration, "_measured", None)
    monkeypatch.delenv(SPEED_FACTOR_ENV, raising=False)


def test_the_env_pins_the_factor_without_measuring(fresh_process, monkeypatch):
    monkeypatch.setenv(SPEED_FACTOR_ENV, "1.7")
    pinned = speed_factor()
    assert (pinned.factor, pinned.source, pinned.measured_ms) == (1.7, SPEED_FACTOR_ENV, None)
    assert measured_factor() is None  # no calibration ran
    assert pinned.describe() == "speed factor 1.70 (pinned by PERFLAB_SPEED_FACTOR)"
    monkeypatch.setenv(SPEED_FACTOR_ENV, " 0.5 ")
    assert speed_factor().factor == 0.5  # read on every call, not cached


@pytest.mark.parametrize("raw", ["fast", "0", "-1.5", "nan", "inf", "1,7"])
def test_an_invalid_env_value_is_a_one_line_usage_error(fresh_process, monkeypatch, raw):
    monkeypatch.setenv(SPEED_FACTOR_ENV, raw)
    with pytest.raises(PerflabError) as error:
        speed_factor()
    message = str(error.value)
    assert message == f"PERFLAB_SPEED_FACTOR={raw!r}: expected a number above 0, e.g. 1.7"
    assert error.value.exit_code == ExitCode.USAGE


def test_without_the_env_the_factor_is_measured_once_per_process(fresh_process, monkeypatch):
    monkeypatch.setenv(SPEED_FACTOR_ENV, "")  # empty is unset
    first = speed_factor()
    assert first.source == "measured"
    assert first.measured_ms > 0
    ratio = first.measured_ms / first.reference_ms
    assert first.factor == pytest.approx(min(max(ratio, MIN_FACTOR), MAX_FACTOR))
    assert speed_factor() is first  # cached: not measured again
    assert measured_factor() is first
    assert "calibration " in first.describe() and "reference 5.0 ms" in first.describe()


def test_a_machine_far_slower_or_faster_than_the_reference_is_clamped(fresh_process, monkeypatch):
    monkeypatch.setattr(calibration, "REFERENCE_MS", 1e-6)  # as if this machine were very slow
    slow = speed_factor()
    assert (slow.factor, slow.clamped) == (MAX_FACTOR, True)
    assert f"clamped to {MIN_FACTOR:g}-{MAX_FACTOR:g}" in slow.describe()

    monkeypatch.setattr(calibration, "_measured", None)
    monkeypatch.setattr(calibration, "REFERENCE_MS", 1e6)  # ... or very fast
    fast = speed_factor()
    assert (fast.factor, fast.clamped) == (MIN_FACTOR, True)


def test_the_reference_workload_does_the_same_work_every_run():
    assert reference_workload() == reference_workload() > 0
    assert reference_workload(rows=10) < reference_workload()
