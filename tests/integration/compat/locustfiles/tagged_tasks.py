"""Tagged tasks, selected with `--tags` and `--exclude-tags`: a shop's browse and checkout
journeys, a slow report tagged twice, and an untagged health check."""

from locust import HttpUser, constant, tag, task


class ShopUser(HttpUser):
    wait_time = constant(0.05)

    @tag("browse")
    @task(3)
    def browse(self):
        self.client.get("/products/")

    @tag("checkout")
    @task
    def checkout(self):
        self.client.post("/checkout/", json={"cart": [1, 2]})

    @tag("checkout", "slow")
    @task
    def invoice_report(self):
        self.client.get("/reports/invoices")

    @task
    def health(self):
        self.client.get("/health")
