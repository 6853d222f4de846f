"""Users that load Locust's own web UI, as Locust's examples do (basic.py, events.py:
``host = "http://127.0.0.1:8089"``, the UI's default address): the target answers only once
the UI has started."""

import os

from locust import HttpUser, constant, task


class UiUser(HttpUser):
    host = os.environ["WEB_UI"]
    wait_time = constant(0.2)

    @task
    def stats(self):
        self.client.get("/stats/requests")
