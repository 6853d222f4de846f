"""The target set on the User class (from the team's own variable), no -H on the command
line."""

import os

from locust import HttpUser, constant, task


class ShopUser(HttpUser):
    host = os.environ["SHOP_URL"]
    wait_time = constant(0.1)

    @task
    def page(self):
        self.client.get("/from-the-class")
