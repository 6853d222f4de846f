"""A LoadTestShape that lasts 6 s, run with a shorter -t (Locust's custom_shape examples last
minutes and are often tried with -t): both tools ignore -t with a shape, as ``locust`` does."""

from locust import HttpUser, LoadTestShape, constant, task


class StagedUser(HttpUser):
    wait_time = constant(0.2)

    @task
    def page(self):
        self.client.get("/staged")


class SixSeconds(LoadTestShape):
    def tick(self):
        return (2, 10) if self.get_run_time() < 6 else None
