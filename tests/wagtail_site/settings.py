"""Settings of the Wagtail test site: production-like (DEBUG off), the probe first.

``WAGTAIL_SITE_DB`` is the SQLite file (default ``$PERFLAB_DATA_DIR/wagtail_site.sqlite3``;
its images go in ``wagtail_site_media/`` beside it) and ``WAGTAIL_SITE_STORE`` the probe's
store (default ``$PERFLAB_DATA_DIR/wagtail_site_probe.sqlite3``). Every cache is a dummy,
so each request of a page runs the same statements (Wagtail caches renditions and site
root paths: with a real cache the first request per worker would differ from the rest).
"""

from __future__ import annotations

import os
from pathlib import Path

from perflab.datadir import data_dir

SITE_DB = Path(os.environ.get("WAGTAIL_SITE_DB") or data_dir() / "wagtail_site.sqlite3")
PROBE_STORE = Path(
    os.environ.get("WAGTAIL_SITE_STORE") or data_dir() / "wagtail_site_probe.sqlite3"
)

SECRET_KEY = "perflab-wagtail-test-site-loopback-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "perflab",
    "tests.wagtail_site.site.apps.SiteConfig",
    "wagtail.images",
    "wagtail.admin",  # wagtail.images' migrations depend on it
    "wagtail.users",  # and wagtail.admin's models on it
    "wagtail",
    "modelcluster",
    "taggit",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
]

MIDDLEWARE = [
    "perflab.middleware.ProbeMiddleware",  # first: it times everything
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

PERFLAB = {
    "STORE": {"PATH": str(PROBE_STORE)},
    "IGNORE_PATHS": [r"^/media/", r"^/perf/", r"^/healthz/", r"^/favicon\.ico$"],
    "FLUSH_INTERVAL_S": 0.2,
}

ROOT_URLCONF = "tests.wagtail_site.urls"
WSGI_APPLICATION = "tests.wagtail_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": SITE_DB,
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    "renditions": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "/static/"
MEDIA_ROOT = SITE_DB.parent / "wagtail_site_media"
MEDIA_URL = "/media/"

WAGTAIL_SITE_NAME = "perflab Wagtail test site"
WAGTAILADMIN_BASE_URL = "http://127.0.0.1"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
