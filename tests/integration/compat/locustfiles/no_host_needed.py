"""A plain ``User`` that reports its own requests (Locust's manual_stats_reporting and
custom-client examples): no HttpUser, so no host is needed, and none is given."""

import time

from locust import User, constant, task


class ComputeUser(User):
    wait_time = constant(0.2)

    @task
    def crunch(self):
        started = time.perf_counter()
        sum(range(10_000))
        self.environment.events.request.fire(
            request_type="compute", name="sum-of-range",
            response_time=(time.perf_counter() - started) * 1000, response_length=0,
            exception=None, context={},
        )  # fmt: skip
