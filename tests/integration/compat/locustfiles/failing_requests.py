"""Some requests fail (the target answers 500 under /fail/): Locust counts them as
failures and, by default, exits 1 (`--exit-code-on-error`)."""

from locust import HttpUser, constant, task


class FlakyUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def basket(self):
        self.client.get("/basket/")
        self.client.post("/fail/payment", json={"amount": 10})
