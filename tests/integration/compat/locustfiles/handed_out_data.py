"""Test data handed out in test_start: one account per user the runner aims for, each
user taking one in on_start. Under a runner whose target_user_count is not yet set when
test_start fires, the list is short and users fail with `IndexError: pop from empty list`."""

from locust import HttpUser, constant, events, task

accounts: list[str] = []


@events.test_start.add_listener
def create_accounts(environment, **_kwargs):
    accounts[:] = [f"account-{i}" for i in range(environment.runner.target_user_count)]


class AccountUser(HttpUser):
    wait_time = constant(0.1)

    def on_start(self):
        self.account = accounts.pop()

    @task
    def balance(self):
        self.client.get(f"/accounts/{self.account}/balance")
