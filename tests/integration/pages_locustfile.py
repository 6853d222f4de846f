"""GETs the pages listed in ``$PAGES`` (comma-separated), unnamed, so the runner names them.
``PageUser`` runs on requests (HttpUser), ``FastPageUser`` on geventhttpclient."""

import os
import random

from locust import FastHttpUser, HttpUser, constant, task

PAGES = os.environ["PAGES"].split(",")


class PageUser(HttpUser):
    wait_time = constant(0.01)

    @task
    def read(self):
        self.client.get(random.choice(PAGES))


class FastPageUser(FastHttpUser):
    wait_time = constant(0.01)

    @task
    def read(self):
        self.client.get(random.choice(PAGES))
