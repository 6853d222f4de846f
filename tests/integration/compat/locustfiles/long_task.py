"""A task longer than the run (a checkout that waits on a payment provider): with
`--stop-timeout`, users stopped at `-t` finish the task they are in before the run ends."""

import gevent
from locust import HttpUser, constant, task


class CheckoutUser(HttpUser):
    wait_time = constant(0)

    @task
    def checkout(self):
        self.client.get("/checkout/begin")
        gevent.sleep(2.5)
        self.client.get("/checkout/end")
