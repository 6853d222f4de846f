"""Ending a run from the locustfile, as Locust's docs show: a greenlet quits the runner
after `--quit-after` requests, and a quitting listener sets the exit code from the failure
ratio (`--max-fail-ratio`): 1 above it, 0 at or below it — failures or not. One request in
four fails."""

import gevent
from locust import HttpUser, constant, events, task
from locust.runners import STATE_CLEANUP, STATE_STOPPED, STATE_STOPPING, WorkerRunner


@events.init_command_line_parser.add_listener
def add_arguments(parser):
    parser.add_argument("--quit-after", type=int, default=20, help="requests before quitting")
    parser.add_argument("--max-fail-ratio", type=float, default=0.1)


def checker(environment):
    while environment.runner.state not in (STATE_STOPPING, STATE_STOPPED, STATE_CLEANUP):
        gevent.sleep(0.05)
        if environment.stats.total.num_requests >= environment.parsed_options.quit_after:
            environment.runner.quit()
            return


@events.init.add_listener
def on_locust_init(environment, **_kwargs):
    if not isinstance(environment.runner, WorkerRunner):
        gevent.spawn(checker, environment)


@events.quitting.add_listener
def set_exit_code(environment, **_kwargs):
    ratio = environment.stats.total.fail_ratio
    environment.process_exit_code = 1 if ratio > environment.parsed_options.max_fail_ratio else 0


class ThresholdUser(HttpUser):
    wait_time = constant(0.05)

    @task
    def orders(self):
        for _ in range(3):
            self.client.get("/orders/")
        self.client.get("/fail/orders/")
