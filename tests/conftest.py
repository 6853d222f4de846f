import os

import pytest


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
