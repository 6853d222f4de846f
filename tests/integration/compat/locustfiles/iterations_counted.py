"""A run bounded by task iterations with plain Locust only: the locustfile counts the
iterations it started and, once `--stop-after` is reached (0: never), stops its users and
quits the runner. One request per iteration."""

import gevent
from locust import HttpUser, constant, events, task
from locust.exception import StopUser

started = 0


@events.init_command_line_parser.add_listener
def add_arguments(parser):
    parser.add_argument(
        "--stop-after", type=int, default=0, help="iterations in total (0: no limit)"
    )


class CountingUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def one_iteration(self):
        global started
        limit = self.environment.parsed_options.stop_after
        if limit and started >= limit:
            gevent.spawn_later(0.1, self.environment.runner.quit)
            raise StopUser()
        started += 1
        self.client.get("/iteration")
