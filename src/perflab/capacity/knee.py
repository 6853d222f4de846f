"""The knee of the throughput-latency curve: where more load buys latency, not throughput.

Definition (also in the README): order the steps by target rate, keeping those with a p95.
For each pair of neighbours A → B, throughput grows by ``B.achieved / A.achieved`` and p95
by ``B.p95 / A.p95``. The knee is the first step A after which p95 grows by a larger factor
than throughput (and by at least ``MIN_RISE_MS``, so a millisecond of jitter on a fast
endpoint is not a knee). Below the knee latency is roughly flat as throughput climbs; past
it requests queue. None when no pair qualifies: the knee was not reached.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from perflab.capacity.step import StepResult

MIN_RISE_MS = 5.0


def find_knee(steps: Sequence[StepResult]) -> StepResult | None:
    """The step after which p95 grows faster than throughput, or None."""
    curve = sorted(
        (s for s in steps if s.p95 is not None and s.achieved_rate > 0 and s.p95 > 0),
        key=lambda s: s.target_rate,
    )
    for before, after in itertools.pairwise(curve):
        throughput_growth = after.achieved_rate / before.achieved_rate
        latency_growth = after.p95 / before.p95
        if latency_growth > throughput_growth and after.p95 - before.p95 >= MIN_RISE_MS:
            return before
    return None
