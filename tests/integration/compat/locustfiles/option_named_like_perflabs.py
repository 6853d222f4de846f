"""A locustfile whose own argument has a name perflab run also uses (`--label`): teams tag
their runs' requests with a label of their own. Plain Locust runs it as any other custom
argument."""

from locust import HttpUser, constant, events, task


@events.init_command_line_parser.add_listener
def add_arguments(parser):
    parser.add_argument("--label", default="nightly", help="names this run's requests")


class LabelledUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def labelled(self):
        self.client.get("/labelled", name=f"/labelled/{self.environment.parsed_options.label}")
