"""Deterministic, varied blog text for seeding: titles, bodies, names."""

from __future__ import annotations

import random

TOPICS = [
    "Django",
    "PostgreSQL",
    "caching",
    "Celery",
    "REST APIs",
    "query optimization",
    "async views",
    "middleware",
    "the ORM",
    "migrations",
    "testing",
    "deployment",
    "gunicorn",
    "Redis",
    "indexes",
    "pagination",
    "authentication",
    "JWT",
    "signals",
    "templates",
    "static files",
    "logging",
    "monitoring",
    "load testing",
    "profiling",
    "Python typing",
    "packaging",
    "Docker",
    "Kubernetes",
    "observability",
]
VERBS = [
    "Understanding",
    "Scaling",
    "Debugging",
    "Speeding up",
    "Testing",
    "Securing",
    "Refactoring",
    "Measuring",
    "Rethinking",
    "Shipping",
    "Tuning",
    "Simplifying",
]
ANGLES = [
    "in production",
    "for beginners",
    "the hard way",
    "at scale",
    "without downtime",
    "in ten minutes",
    "with real data",
    "step by step",
    "for small teams",
    "under load",
]
WORDS = (
    "request response server client database query index cache latency throughput "
    "worker process thread connection pool transaction model view serializer "
    "field queryset filter join select insert update delete schema table column "
    "row page token user session cookie header payload json endpoint route url "
    "pattern test benchmark profile trace span metric error retry timeout deploy "
    "release build container memory cpu disk network socket queue batch stream "
    "event signal task python code module package function class method object "
    "value list dict set fast slow simple careful clear small large real steady "
    "hidden common rare the a of to and in for on with that this is are was be "
    "it as by from at"
).split()
FIRST_NAMES = [
    "Ada",
    "Grace",
    "Linus",
    "Guido",
    "Barbara",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Alan",
    "Frances",
    "Donald",
    "Katherine",
    "Edsger",
    "Sophie",
    "Tim",
    "Anita",
    "John",
]
LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Torvalds",
    "van Rossum",
    "Liskov",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Turing",
    "Allen",
    "Knuth",
    "Johnson",
    "Dijkstra",
    "Wilson",
]
CATEGORIES = ["Tutorials", "News", "Performance", "Security", "Databases", "DevOps", "Opinion"]
TAGS = [
    "django",
    "python",
    "drf",
    "postgres",
    "sqlite",
    "redis",
    "celery",
    "async",
    "orm",
    "testing",
    "performance",
    "security",
    "api",
    "caching",
    "deployment",
    "docker",
    "profiling",
    "locust",
    "sql",
    "indexes",
    "jwt",
    "gunicorn",
    "nginx",
    "monitoring",
]
DJANGO_SHARE = 0.25  # share of posts that mention "django", so ?search=django finds a quarter


SENTENCE_POOL = 5000  # bodies are drawn from a pool of sentences: varied, and cheap at 1M posts


class BlogText:
    """Generates text from a seeded RNG, so two seeds with the same seed are identical."""

    def __init__(self, seed: int = 42) -> None:
        self.rng = random.Random(seed)
        self._sentences: list[str] = []

    def title(self, mentions_django: bool) -> str:
        rng = self.rng
        topic = "Django" if mentions_django else rng.choice(TOPICS[1:])
        return f"{rng.choice(VERBS)} {topic} {rng.choice(ANGLES)}"

    def sentence(self) -> str:
        words = self.rng.choices(WORDS, k=self.rng.randint(6, 16))
        return " ".join(words).capitalize() + "."

    def body(self, mentions_django: bool) -> str:
        if not self._sentences:
            self._sentences = [self.sentence() for _ in range(SENTENCE_POOL)]
        rng = self.rng
        sentences = rng.choices(self._sentences, k=rng.randint(3, 10))
        if mentions_django:
            sentences.insert(rng.randrange(len(sentences)), "This applies to Django too.")
        return " ".join(sentences)

    def mentions_django(self) -> bool:
        return self.rng.random() < DJANGO_SHARE

    def person(self, index: int) -> str:
        return f"{FIRST_NAMES[index % len(FIRST_NAMES)]} {LAST_NAMES[index % len(LAST_NAMES)]}"

    def bio(self) -> str:
        return " ".join(self.rng.choices(WORDS, k=self.rng.randint(8, 20))).capitalize() + "."
