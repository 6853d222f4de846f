"""The dashboard's tests: the reference app (plus tests/probe/urls.py's views) recorded by the
real probe into each test's own store, read back through the pages with Django's test client
as a browser would: a session cookie, CSRF checks on."""

import pytest
from bs4 import BeautifulSoup
from django.test import Client

from tests.demo.conftest import make_posts, make_user
from tests.probe.conftest import flushed, make_probe, probe  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]

SESSION_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]


@pytest.fixture(autouse=True)
def sessions(settings):
    """The app as a browser-facing project has it: sessions (in signed cookies: no table) and
    Django's request.user."""
    missing = [m for m in SESSION_MIDDLEWARE if m not in settings.MIDDLEWARE]
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, *missing]
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"


def browser_for(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture
def staff(db):
    user = make_user("admin")
    user.is_staff = True
    user.save()
    return browser_for(user)


@pytest.fixture
def member(db):
    """Logged in, active, not staff."""
    return browser_for(make_user("mallory"))


@pytest.fixture
def traffic(make_probe, db):  # noqa: F811
    """A store holding: three N+1 requests (the naive authors listing, six authors), a post
    listing, a cache miss then hit, a templated view with spans (profiled), a 500."""
    recording = make_probe(PROFILE_PATHS=[r"^/t/templated/"])
    for name in ("alice", "bob", "carol", "dave", "erin", "frank"):
        make_posts(make_user(name), 2)
    client = Client(raise_request_exception=False)
    for n in range(3):
        client.get("/api/authors/naive/", HTTP_X_REQUEST_ID=f"naive-{n}")
    client.get("/api/posts/", HTTP_X_REQUEST_ID="list")
    client.get("/api/categories/", HTTP_X_REQUEST_ID="cold")
    client.get("/api/categories/", HTTP_X_REQUEST_ID="warm")
    client.get("/t/templated/", HTTP_X_REQUEST_ID="templated")
    client.get("/t/broken/", HTTP_X_REQUEST_ID="broken")
    flushed(recording)
    return recording


def page(response) -> BeautifulSoup:
    assert response.status_code == 200, response.content[:500]
    return BeautifulSoup(response.content, "html.parser")


def message(response) -> str:
    """The one line of an error page."""
    return BeautifulSoup(response.content, "html.parser").select_one("[data-testid=message]").text
