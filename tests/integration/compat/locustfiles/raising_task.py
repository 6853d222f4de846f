"""A task that raises after its request (a KeyError reading the JSON body): Locust counts it
as an exception, not a request failure, and by default exits 1 (`--exit-code-on-error`)."""

from locust import HttpUser, constant, task


class ParsingUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def read_order(self):
        order = self.client.get("/orders/7").json()
        order["total"]  # the target's body has no "total"
