"""Load test of the reference blog API, with the seed document's behaviour.

    locust -f locustfile.py --host http://127.0.0.1:8000 BlogUser

- ``BlogUser`` (the default): logs in once in ``on_start`` through ``/api/token/``
  and sends the bearer token on every later request; browses (3), reads a random
  existing post (2), creates a post (1), searches (1).
- ``AuthorsUser``: anonymous reads of ``/api/authors/`` and its N+1 twin
  ``/api/authors/naive/`` (what the probe should flag).
- ``FlowUser``: the seed's SequentialTaskSet flow (login, browse, read, create, stop).
- ``StagedShape``: the seed's staged ramp up / hold / ramp down. It is marked
  abstract so a plain run uses ``--users``; select it with the companion file:
  ``locust -f locustfile.py,staged_shape.py`` (``PERFLAB_STAGE_SCALE=0.1`` runs the
  same stages ten times faster).
"""

from __future__ import annotations

import os
import random

from locust import HttpUser, LoadTestShape, SequentialTaskSet, between, task

USERNAME = os.environ.get("PERFLAB_DEMO_USERNAME", "testuser")
PASSWORD = os.environ.get("PERFLAB_DEMO_PASSWORD", "testpass123")
PAGE_SIZE = 20
FIRST_PAGE_SHARE = 0.6  # most readers stay on the front page
SEARCH_TERMS = ["django", "cache", "query", "postgresql", "testing"]


class BlogClient:
    """What every simulated user does, over a Locust HTTP client and its known post ids."""

    def __init__(self, user: HttpUser) -> None:
        self.user = user
        self.headers: dict[str, str] = {}
        self.post_ids: list[int] = []  # ids seen in listings, so detail reads never 404
        self.pages = 1

    def login(self) -> None:
        with self.user.client.post(
            "/api/token/",
            json={"username": USERNAME, "password": PASSWORD},
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"login as {USERNAME!r} failed with {response.status_code}")
                return
            self.headers = {"Authorization": f"Bearer {response.json()['access']}"}

    def browse(self) -> None:
        page = 1 if random.random() < FIRST_PAGE_SHARE else random.randint(1, self.pages)
        response = self.user.client.get(
            f"/api/posts/?page={page}", headers=self.headers, name="/api/posts/?page=[n]"
        )
        if response.status_code == 200:
            body = response.json()
            self.pages = max(1, -(-body["count"] // PAGE_SIZE))
            self.post_ids.extend(post["id"] for post in body["results"])
            del self.post_ids[:-500]  # keep a bounded, recent sample

    def read(self) -> None:
        if not self.post_ids:
            self.browse()
        if self.post_ids:
            post_id = random.choice(self.post_ids)
            self.user.client.get(
                f"/api/posts/{post_id}/", headers=self.headers, name="/api/posts/[id]/"
            )

    def create(self) -> None:
        response = self.user.client.post(
            "/api/posts/",
            json={
                "title": f"Load test post {random.randint(1, 10_000)}",
                "content": "Written by perflab's demo locustfile under load.",
            },
            headers=self.headers,
        )
        if response.status_code == 201:
            self.post_ids.append(response.json()["id"])

    def search(self) -> None:
        self.user.client.get(
            f"/api/posts/?search={random.choice(SEARCH_TERMS)}",
            headers=self.headers,
            name="/api/posts/?search=[term]",
        )


class BlogUser(HttpUser):
    wait_time = between(1, 3)
    weight = 5

    def on_start(self) -> None:
        self.blog = BlogClient(self)
        self.blog.login()

    @task(3)
    def browse_posts(self) -> None:
        self.blog.browse()

    @task(2)
    def view_post_detail(self) -> None:
        self.blog.read()

    @task(1)
    def create_post(self) -> None:
        self.blog.create()

    @task(1)
    def search_posts(self) -> None:
        self.blog.search()


class AuthorsUser(HttpUser):
    """Reads the authors listings: the optimized one and its deliberate N+1 twin.

    Not in the seed document; ``perflab demo`` adds it (one in six users) so the probe
    has an N+1 to find. Anonymous: listings need no login.
    """

    wait_time = between(1, 3)
    weight = 1

    @task
    def authors(self) -> None:
        self.client.get("/api/authors/")

    @task
    def authors_naive(self) -> None:
        self.client.get("/api/authors/naive/")


class UserFlow(SequentialTaskSet):
    """The seed's sequential journey: log in, browse, read, write, leave."""

    def on_start(self) -> None:
        self.blog = BlogClient(self.user)

    @task
    def login(self) -> None:
        self.blog.login()

    @task
    def browse_posts(self) -> None:
        self.blog.browse()

    @task
    def view_random_post(self) -> None:
        self.blog.read()

    @task
    def create_post(self) -> None:
        self.blog.create()

    @task
    def logout(self) -> None:
        self.interrupt()


class FlowUser(HttpUser):
    tasks = [UserFlow]
    wait_time = between(1, 5)


class StagedShape(LoadTestShape):
    """Ramp to 10, 50, 100 users, hold, ramp down: the seed's seven-minute profile.

    ``time_scale`` (or ``PERFLAB_STAGE_SCALE``) compresses it: 0.15 runs it in about a minute;
    ``PERFLAB_STAGE_USERS`` scales the peak of 100 users.
    """

    abstract = True  # chosen explicitly (staged_shape.py), never picked up by accident
    stages = [
        {"duration": 60, "users": 10, "spawn_rate": 2},
        {"duration": 120, "users": 50, "spawn_rate": 5},
        {"duration": 180, "users": 100, "spawn_rate": 10},
        {"duration": 300, "users": 100, "spawn_rate": 0},
        {"duration": 360, "users": 50, "spawn_rate": 10},
        {"duration": 420, "users": 0, "spawn_rate": 10},
    ]
    time_scale = float(os.environ.get("PERFLAB_STAGE_SCALE", "1"))
    peak_users = int(os.environ.get("PERFLAB_STAGE_USERS", "100"))

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time() / self.time_scale
        user_scale = self.peak_users / 100
        for stage in self.stages:
            if run_time < stage["duration"]:
                users = round(stage["users"] * user_scale)
                # Locust needs a positive spawn rate even when holding the count.
                rate = max(stage["spawn_rate"] * user_scale, 1) / self.time_scale
                return users, rate
        return None
