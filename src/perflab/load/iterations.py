"""``-i/--iterations N``: at most N task iterations in all, then the run ends.

The meaning is locust-plugins' (which ``locust`` users know the option from): the count is
of task executions started (a nested TaskSet's tasks, not the TaskSet itself); once N have
started, a user that wants another stops. Unlike
locust-plugins, the run ends when the last started iteration has finished rather than
cutting it off, so N iterations are measured.
"""

from __future__ import annotations

import functools

from locust import TaskSet
from locust.exception import StopUser
from locust.user.task import DefaultTaskSet


class IterationLimit:
    """Installed once per process, before any user starts."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.started = 0
        self.running = 0

    @property
    def done(self) -> bool:
        """Every allowed iteration has started and finished."""
        return self.started >= self.limit and self.running == 0

    def install(self) -> None:
        for cls in (TaskSet, DefaultTaskSet):
            if "execute_task" in vars(cls):
                cls.execute_task = self._counted(vars(cls)["execute_task"])

    def _counted(self, execute_task):
        limit = self

        @functools.wraps(execute_task)
        def execute_counted(task_set, task):
            if isinstance(task, type) and issubclass(task, TaskSet):
                return execute_task(task_set, task)  # a nested TaskSet: its tasks count
            if limit.started >= limit.limit:
                raise StopUser()
            limit.started += 1
            limit.running += 1
            try:
                execute_task(task_set, task)
            finally:
                limit.running -= 1

        return execute_counted
