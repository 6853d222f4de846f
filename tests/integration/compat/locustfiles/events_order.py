"""Locust's events, recorded in the order they fire with the runner's state at each.

Every process (a local runner, a master, each worker) appends one JSON line per event to
`--events-file`: the event, the process id and the runner's class, state, target and
current user counts — and on a master its worker count and connected clients. A worker
learns `--events-file` from its master's spawn message, so records are kept in memory
until the file is known.
"""

import json
import os

from locust import HttpUser, constant, events, task
from locust.runners import MasterRunner

pending: list[dict] = []
current: dict = {"environment": None}


def runner_state(runner) -> dict | None:
    if runner is None:
        return None
    state = {
        "class": type(runner).__name__,
        "state": runner.state,
        "target_user_count": runner.target_user_count,
        "user_count": runner.user_count,
    }
    if isinstance(runner, MasterRunner):
        state["worker_count"] = runner.worker_count
        state["clients"] = len(runner.clients)
    return state


def record(event: str, environment=None, **details) -> None:
    if environment is not None:
        current["environment"] = environment
    environment = current["environment"]
    runner = environment.runner if environment is not None else None
    pending.append({"event": event, "pid": os.getpid(), "runner": runner_state(runner), **details})
    options = environment.parsed_options if environment is not None else None
    path = getattr(options, "events_file", None)
    if path:
        with open(path, "a") as f:
            f.writelines(json.dumps(line) + "\n" for line in pending)
        pending.clear()


@events.init_command_line_parser.add_listener
def add_arguments(parser):
    parser.add_argument("--events-file", default=None, help="where to record the events")
    record("init_command_line_parser")


@events.init.add_listener
def on_init(environment, runner, web_ui, **_kwargs):
    record("init", environment, runner_is_environments=runner is environment.runner)


@events.test_start.add_listener
def on_test_start(environment, **_kwargs):
    record("test_start", environment)


@events.spawning_complete.add_listener
def on_spawning_complete(user_count, **_kwargs):
    record("spawning_complete", user_count_argument=user_count)


@events.test_stopping.add_listener
def on_test_stopping(environment, **_kwargs):
    record("test_stopping", environment)


@events.test_stop.add_listener
def on_test_stop(environment, **_kwargs):
    record("test_stop", environment)


@events.quitting.add_listener
def on_quitting(environment, **_kwargs):
    record("quitting", environment)


@events.quit.add_listener
def on_quit(exit_code, **_kwargs):
    record("quit", exit_code=exit_code)


class EventfulUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def page(self):
        self.client.get("/events/page")
