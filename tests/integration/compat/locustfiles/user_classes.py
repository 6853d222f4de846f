"""Three user classes; the command line picks which run (`locust … ReaderUser WriterUser`)."""

from locust import HttpUser, constant, task


class ReaderUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def read(self):
        self.client.get("/articles/")


class WriterUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def write(self):
        self.client.post("/articles/", json={"title": "draft"})


class AdminUser(HttpUser):
    wait_time = constant(0.1)

    @task
    def purge(self):
        self.client.delete("/articles/")
