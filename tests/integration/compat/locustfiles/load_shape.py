"""A LoadTestShape in the locustfile: two users, then three, then the shape says the test is
over (tick() returns None) — the run ends without -t."""

from locust import HttpUser, LoadTestShape, constant, task


class ShapedUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def page(self):
        self.client.get("/shaped")


class TwoSteps(LoadTestShape):
    def tick(self):
        run_time = self.get_run_time()
        if run_time < 1:
            return (2, 10)
        if run_time < 2:
            return (3, 10)
        return None
