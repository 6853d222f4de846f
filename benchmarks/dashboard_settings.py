"""Django settings for ``dashboard_scale.py``: the /perf/ pages over a built store.

DEBUG off and the probe's middleware on, as in production; the app's own database is an
in-memory SQLite holding the auth and session tables (the staff user the pages are loaded
as). The store is ``PERFLAB_BENCH_STORE``; retention is set far beyond the store's size and
age so the probe's writer never trims it (the dashboard's own paths are not recorded).
"""

import os

SECRET_KEY = "dashboard-scale-benchmark-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "perflab",
]
MIDDLEWARE = [
    "perflab.middleware.ProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "dashboard_urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_TZ = True
TIME_ZONE = "UTC"
PERFLAB = {
    "STORE": {"PATH": os.environ["PERFLAB_BENCH_STORE"]},
    "MAX_REQUESTS": 1_000_000_000,
    "MAX_AGE_S": 10 * 365 * 86400,
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
