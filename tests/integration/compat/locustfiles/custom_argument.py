"""A locustfile with its own command-line arguments, read by tasks from parsed_options.

`--my-argument` is shown in the web UI (Locust's default), `--my-hidden-argument` is not;
the requests are named after their values, so the run's statistics show what the tasks read.
"""

from locust import HttpUser, constant, events, task


@events.init_command_line_parser.add_listener
def add_arguments(parser):
    parser.add_argument(
        "--my-argument", type=str, default="from-default", help="names the item requests"
    )
    parser.add_argument(
        "--my-hidden-argument",
        type=int,
        default=7,
        include_in_web_ui=False,
        help="names the hidden requests",
    )


class ArgumentUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def read_arguments(self):
        options = self.environment.parsed_options
        self.client.get(f"/items/{options.my_argument}")
        self.client.get("/hidden", name=f"/hidden/{options.my_hidden_argument}")
