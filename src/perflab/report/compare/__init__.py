"""Run-to-run comparison (``perflab compare``): per-endpoint deltas of two runs, judged
against regression limits.

``limits`` parses ``--max-regression``; ``server`` loads a run and matches its endpoints to
the probe store's routes; ``model`` builds and judges the ``Comparison``; ``render`` shows it
as a rich table or GitHub Markdown (JSON is ``Comparison.as_dict``).
"""

from __future__ import annotations

from perflab.report.compare.limits import Limit, parse_limits
from perflab.report.compare.model import compare
from perflab.report.compare.render import render_markdown, render_terminal
from perflab.report.compare.server import load_run, probe_store_problem

__all__ = [
    "Limit",
    "compare",
    "load_run",
    "parse_limits",
    "probe_store_problem",
    "render_markdown",
    "render_terminal",
]
