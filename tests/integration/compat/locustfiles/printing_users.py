"""Users that print, as many of Locust's examples do (worker_index, custom_messages): under
``--processes`` the prints come from the workers."""

from locust import HttpUser, constant, task


class PrintingUser(HttpUser):
    wait_time = constant(0.2)

    def on_start(self):
        print("a printing user started", flush=True)

    @task
    def page(self):
        self.client.get("/printed")
