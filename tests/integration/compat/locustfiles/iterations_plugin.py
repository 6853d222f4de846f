"""A run bounded by task iterations, the way locust-plugins does it: importing
locust_plugins adds `-i/--iterations` to Locust's parser; after that many iterations in
total the users stop and the runner quits. One request per iteration."""

import locust_plugins  # noqa: F401  (adds -i/--iterations)
from locust import HttpUser, constant, task


class IteratingUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def one_iteration(self):
        self.client.get("/iteration")
