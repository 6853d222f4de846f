"""Users for the latency server: HttpUser and FastHttpUser, no waiting, unnamed URLs."""

from locust import FastHttpUser, HttpUser, constant, task


class PlainUser(HttpUser):
    wait_time = constant(0)

    @task
    def root(self) -> None:
        self.client.get("/")


class FastUser(FastHttpUser):
    wait_time = constant(0)

    @task
    def root(self) -> None:
        self.client.get("/")
