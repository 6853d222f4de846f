"""A locustfile that reads environment.stats at the end of the run, as reporting plugins
do, and writes what it read to `--stats-file`: the totals, one entry by name and method,
and a percentile Locust does not print."""

import json

from locust import HttpUser, constant, events, task


@events.init_command_line_parser.add_listener
def add_arguments(parser):
    parser.add_argument("--stats-file", default="stats.json", include_in_web_ui=False)


@events.quitting.add_listener
def write_stats(environment, **_kwargs):
    stats = environment.stats
    search = stats.get("/search", "GET")
    record = {
        "total_requests": stats.total.num_requests,
        "total_failures": stats.total.num_failures,
        "search_requests": search.num_requests,
        "search_p90": search.get_response_time_percentile(0.9),
        "total_p999": stats.total.get_response_time_percentile(0.999),
        "entries": sorted([name, method] for name, method in stats.entries),
    }
    with open(environment.parsed_options.stats_file, "w") as f:
        json.dump(record, f)


class SearchingUser(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def search(self):
        self.client.get("/search?q=shoes", name="/search")

    @task
    def suggest(self):
        self.client.post("/suggest", json={"q": "sh"})
