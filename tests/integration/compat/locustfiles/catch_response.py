"""Responses judged by the locustfile (`catch_response=True`): a 200 whose body says it is
not ok is a failure, a 500 the test expects is a success, and a request renamed on the fly."""

from locust import HttpUser, constant, task


class JudgingUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def judge(self):
        with self.client.get("/search?q=", catch_response=True) as response:
            if response.json()["path"] == "/search?q=":
                response.failure("empty query answered")
        with self.client.get("/fail/expected", catch_response=True) as response:
            if response.status_code == 500:
                response.success()
        with self.client.get("/items/3", catch_response=True) as response:
            response.request_meta["name"] = "/items/[id]"
