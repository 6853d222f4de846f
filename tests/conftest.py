import os

import pytest

# Unit tests import Locust's classes (shapes, users) without gevent patching the test process;
# real load runs happen in `perflab run` subprocesses, which patch for themselves.
os.environ.setdefault("LOCUST_SKIP_MONKEY_PATCH", "1")


def pytest_report_header(config):
    return f"database: {os.environ.get('DATABASE_URL', 'SQLite (default)')}"


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture(autouse=True)
def _empty_cache():
    """Django's local-memory cache outlives a test; start each one cold."""
    from django.core.cache import cache

    cache.clear()
