"""One FastHttpUser asking for "/" back to back: the load for benchmarks/generator.py.

Run as is by plain Locust and by `perflab run`, so both measure the same user. No think
time (``constant(0)``): each user sends its next request as soon as the last one answered,
so the request rate is bounded by the load generator's CPU, not by the script.
"""

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser


class Fast(FastHttpUser):
    wait_time = constant(0)

    @task
    def root(self):
        self.client.get("/")
