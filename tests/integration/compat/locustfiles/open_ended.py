"""A run without -t, ended from outside (Ctrl-C, or SIGTERM from CI): the locustfile records
that its quitting listener ran, as cleanup code would."""

from pathlib import Path

from locust import HttpUser, constant, events, task


@events.quitting.add_listener
def clean_up(environment, **_kwargs):
    Path("cleaned-up").write_text(str(environment.runner.user_count))


class SteadyUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def page(self):
        self.client.get("/steady")
