"""Performance budgets for a test suite: the probe's recorders, opened around test code.

``capture`` is the one capture (the probe's own recorders); the budget, time, snapshot and
sweep modules read what it saw; ``pytest_plugin`` and ``unittest`` are how tests use them.
"""
