"""A User class naming a host of its own that is not the run's target, as Locust's examples
do (``host = "http://127.0.0.1:8089"``): ``-H`` on the master decides where the load goes,
on every worker too."""

import os

from locust import HttpUser, constant, task


class ElsewhereUser(HttpUser):
    host = os.environ["CLASS_HOST"]  # nothing listens there
    wait_time = constant(0.2)

    @task
    def page(self):
        self.client.get("/overridden/by-the-master")
