import pytest

from perflab.probe.probe import forget_probe, get_probe
from perflab.probe.store import RecordingStore


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


@pytest.fixture
def store(tmp_path):
    """A store file of this test's own (a test module may bring another kind of store)."""
    return RecordingStore.at_path(tmp_path / "probe.sqlite3")


def write_in_batches(store, records, size: int) -> None:
    """``records`` written as the probe's writer would, ``size`` at a time (batch edges that
    fall inside a minute or an hour are part of what a store test checks)."""
    for i in range(0, len(records), size):
        store.write(records[i : i + size])
