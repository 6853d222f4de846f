"""`perflab capacity`: step the open-model arrival rate up, then bisect, until an SLO breaks.

One concept per module: ``plan`` (which rate next, always bounded), ``step`` (one step's
figures and verdict, from its run directory), ``knee`` (where latency outgrows throughput),
``saturation`` (which resource gave out first) and ``search`` (the loop of ``perflab run``
subprocesses and ``capacity.json``).
"""

from perflab.capacity.knee import find_knee
from perflab.capacity.plan import StepPlanner
from perflab.capacity.saturation import Saturation, judge_saturation
from perflab.capacity.step import StepResult, judge_step

__all__ = ["Saturation", "StepPlanner", "StepResult", "find_knee", "judge_saturation", "judge_step"]
