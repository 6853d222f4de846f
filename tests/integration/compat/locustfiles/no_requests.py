"""Users that make no request (a smoke script whose calls were commented out): plain Locust
runs it and exits 0; perflab fails a run that made no request, and says so in one line."""

from locust import User, constant, task


class IdleUser(User):
    wait_time = constant(0.1)

    @task
    def think(self):
        pass
