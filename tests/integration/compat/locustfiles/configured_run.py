"""A locustfile whose run is configured from outside: a config file, pyproject.toml or
LOCUST_* variables. It records the options it was given (and the users the runner aims
for) in `--options-file`, names a request after its own `--journey`, and tags two tasks so
a `tags`/`exclude-tags` setting shows in the request names.
"""

import json

from locust import HttpUser, constant, events, tag, task


@events.init_command_line_parser.add_listener
def add_arguments(parser):
    parser.add_argument("--journey", default="unnamed", env_var="LOCUST_JOURNEY")
    parser.add_argument("--options-file", default="options.json", include_in_web_ui=False)


@events.test_start.add_listener
def record_options(environment, **_kwargs):
    options = environment.parsed_options
    record = {
        "host": environment.host,
        "num_users": options.num_users,
        "spawn_rate": options.spawn_rate,
        "run_time": options.run_time,
        "tags": options.tags,
        "exclude_tags": options.exclude_tags,
        "journey": options.journey,
        "target_user_count": environment.runner.target_user_count,
    }
    with open(options.options_file, "w") as f:
        json.dump(record, f)


class ConfiguredUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def named_journey(self):
        self.client.get(f"/configured/{self.environment.parsed_options.journey}")

    @tag("included")
    @task
    def included(self):
        self.client.get("/tagged/included")

    @tag("excluded")
    @task
    def excluded(self):
        self.client.get("/tagged/excluded")
