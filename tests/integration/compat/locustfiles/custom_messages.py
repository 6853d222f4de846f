"""Custom messages between the master and its workers (Locust's own example, recorded).

In test_start the master (or the local runner) makes one username per user the runner aims
for and sends each worker its share ("test_users"); a worker takes them and acknowledges
("acknowledge_users"); the master records every acknowledgement in `--acks-file`. Users
take a username when they start and name their requests after it.
"""

import json

from locust import HttpUser, constant, events, task
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

usernames: list[str] = []


@events.init_command_line_parser.add_listener
def add_arguments(parser):
    parser.add_argument("--acks-file", default="acks.jsonl", include_in_web_ui=False)


def setup_test_users(environment, msg, **_kwargs):
    usernames.extend(user["name"] for user in msg.data)
    environment.runner.send_message("acknowledge_users", {"received": len(msg.data)})


def on_acknowledge(environment, msg, **_kwargs):
    with open(environment.parsed_options.acks_file, "a") as f:
        f.write(json.dumps(msg.data) + "\n")


@events.init.add_listener
def on_locust_init(environment, **_kwargs):
    if not isinstance(environment.runner, MasterRunner):
        environment.runner.register_message("test_users", setup_test_users)
    if not isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message("acknowledge_users", on_acknowledge)


@events.test_start.add_listener
def on_test_start(environment, **_kwargs):
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    users = [{"name": f"user{i}"} for i in range(runner.target_user_count)]
    if isinstance(runner, LocalRunner):
        runner.send_message("test_users", users)
        return
    worker_count = runner.worker_count
    chunk_size = len(users) // worker_count
    for i, worker in enumerate(runner.clients):
        end = (i + 1) * chunk_size if i + 1 < worker_count else len(users)
        runner.send_message("test_users", users[i * chunk_size : end], worker)


class MessagedUser(HttpUser):
    wait_time = constant(0.1)

    def on_start(self):
        self.username = usernames.pop()

    @task
    def profile(self):
        self.client.get(f"/users/{self.username}")
