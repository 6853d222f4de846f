import pytest

from perflab.probe.probe import forget_probe, get_probe


@pytest.fixture
def make_probe(settings, tmp_path):
    """Build the process's probe from ``PERFLAB`` overrides, with this test's own store."""
    base = dict(settings.PERFLAB)

    def make(**overrides):
        settings.PERFLAB = {**base, "STORE": {"PATH": str(tmp_path / "probe.sqlite3")}}
        settings.PERFLAB.update(overrides)
        forget_probe()
        return get_probe()

    yield make
    forget_probe()


@pytest.fixture
def probe(make_probe):
    return make_probe()


def flushed(probe):
    """The probe's store once everything queued has been written."""
    assert probe.writer.flush(timeout=10), probe.writer.stats
    return probe.store
