"""Stands in for library code in call-site tests (the finder is told to exclude this file)."""

from perflab.probe.callsite import Where


def query(finder, memo, depth=3):
    """A statement issued ``depth`` library frames below the caller."""
    if depth:
        return query(finder, memo, depth - 1)
    return Where.of(finder.find(skip=0, memo=memo)).callsite


def calling_back(callback):
    """Library code that calls back into the app (a custom field, a signal handler)."""
    return callback()


def view(callback, *args):
    """A view function of a library: call-site walks stop here once it is marked."""
    return callback(*args)
