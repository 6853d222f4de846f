"""Settings of a site whose pages are all served by one catch-all, split by
``PERFLAB["ROUTE_NAME"]`` (tests/integration/test_routes.py): the reference app's settings,
its own URLconf. ``CATCH_ALL_FIRST=1`` puts the catch-all before perflab's URLs, the setup
mistake that hides /perf/ from the runner."""

from perflab.demo.settings import *  # noqa: F403

ROOT_URLCONF = "tests.integration.catch_all_urls"
PERFLAB = {
    **PERFLAB,  # noqa: F405
    "ROUTE_NAME": "tests.integration.catch_all_urls.page_kind",
    "FLUSH_INTERVAL_S": 0.2,
}
