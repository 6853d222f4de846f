"""Settings of the reference blog API, production-like by default (the seed's advice).

Environment variables select what a deployment would: ``DATABASE_URL`` (SQLite file
under ``PERFLAB_DATA_DIR`` when unset; PostgreSQL with persistent connections),
``REDIS_URL`` (Django's Redis cache; local memory when unset), ``PERFLAB_ALLOWED_HOSTS``
and ``PERFLAB_SECRET_KEY``; ``PERFLAB_STORE_URL`` puts the probe's store in a database
of its own (PostgreSQL, shared by several hosts) instead of a SQLite file.
``PERFLAB_PROBE`` switches perflab's probe (``on``, the default; ``off``;
``profile-all`` profiles every request) and ``PERFLAB_SILK``
django-silk (``on``, or ``profile`` with its Python profiler), for side-by-side
measurements. ``perflab.demo.settings_dev`` is the DEBUG profile.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from perflab.datadir import STORE_FILE, data_dir
from perflab.demo.keyfile import kept_secret
from perflab.demo.staff import LOGIN_PATH as STAFF_LOGIN_PATH
from perflab.mount import URL_PREFIX

DATA_DIR = data_dir()
DEFAULT_SQLITE_PATH = DATA_DIR / "demo.sqlite3"

SECRET_KEY_FILE = "secret_key"


# Signs the JWTs: PERFLAB_SECRET_KEY, else the data directory's own key (never a fixed one).
SECRET_KEY = os.environ.get("PERFLAB_SECRET_KEY") or kept_secret(
    DATA_DIR, SECRET_KEY_FILE, "set PERFLAB_SECRET_KEY or make the data directory writable"
)
DEBUG = False
ALLOWED_HOSTS = os.environ.get("PERFLAB_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "perflab.demo.apps.BlogConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
# The dashboard's login (perflab.demo.staff): sessions in a signed cookie, so logging in
# writes no session table; the API itself authenticates with JWTs.
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
LOGIN_URL = STAFF_LOGIN_PATH
LOGIN_REDIRECT_URL = "/" + URL_PREFIX
LOGOUT_REDIRECT_URL = STAFF_LOGIN_PATH  # the app has no registration/logged_out.html


def _conn_max_age(value: str) -> int:
    """Seconds a PostgreSQL connection is kept (Django's ``CONN_MAX_AGE``; 0 closes each)."""
    if not value.isascii() or not value.isdigit() or int(value) > 86_400:
        raise ImproperlyConfigured(
            f"PERFLAB_CONN_MAX_AGE must be whole seconds from 0 to 86400, got {value!r}"
        )
    return int(value)


def _switch(name: str, default: str, choices: tuple[str, ...]) -> str:
    """An environment switch of the reference app, refused with one line when unknown."""
    value = os.environ.get(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be {', '.join(choices)}, not {value!r}")
    return value


PROBE_MODE = _switch("PERFLAB_PROBE", "on", ("on", "off", "profile-all"))
if PROBE_MODE != "off":
    INSTALLED_APPS.append("perflab")
    MIDDLEWARE.insert(0, "perflab.middleware.ProbeMiddleware")
PERFLAB = {
    "STORE": {"PATH": str(DATA_DIR / STORE_FILE)},
    "IGNORE_PATHS": [
        r"^/static/",
        f"^/{re.escape(URL_PREFIX)}",
        r"^/healthz/",
        r"^/silk/",
        r"^/favicon\.ico$",
    ],
    "PROFILE_PERCENT": 100 if PROBE_MODE == "profile-all" else 0,
}

SILK_MODE = _switch("PERFLAB_SILK", "off", ("on", "off", "profile"))
if SILK_MODE != "off":
    # silk keeps its recordings in the app's own database (one of the costs perflab avoids).
    INSTALLED_APPS.append("silk")
    MIDDLEWARE.insert(0, "silk.middleware.SilkyMiddleware")
    SILKY_AUTHENTICATION = False
    SILKY_AUTHORISATION = False
    SILKY_PYTHON_PROFILER = SILK_MODE == "profile"

ROOT_URLCONF = "perflab.demo.urls"
WSGI_APPLICATION = "perflab.demo.wsgi.application"

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


def database_from_url(url: str | None) -> dict:
    """Django DATABASES entry for a URL; SQLite tuned for several writing worker processes."""
    if not url:
        url = f"sqlite:///{DEFAULT_SQLITE_PATH}"
    try:
        config = dj_database_url.parse(url)
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"DATABASE_URL {url!r} is not a database URL ({exc})") from None
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        if config["NAME"] != ":memory:":
            try:
                Path(config["NAME"]).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ImproperlyConfigured(f"cannot create the SQLite directory: {exc}") from None
        config["OPTIONS"] = {
            # IMMEDIATE + a busy timeout: concurrent writers wait instead of failing "locked".
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    elif engine == "django.db.backends.postgresql":
        config["CONN_MAX_AGE"] = _conn_max_age(os.environ.get("PERFLAB_CONN_MAX_AGE", "600"))
        config["CONN_HEALTH_CHECKS"] = True
        config.setdefault("OPTIONS", {})["connect_timeout"] = 5
    return config


DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL"))}

if os.environ.get("PERFLAB_STORE_URL"):
    # Several hosts writing to one store: a database of its own, selected by a router.
    DATABASES["perflab"] = database_from_url(os.environ["PERFLAB_STORE_URL"])
    DATABASE_ROUTERS = ["perflab.router.ProbeStoreRouter"]
    PERFLAB["STORE"] = {"ALIAS": "perflab"}


if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS: list[dict] = []
# Cheaper logins for load tests (see perflab/demo/hashers.py); Django's hashers still verify.
PASSWORD_HASHERS = [
    "perflab.demo.hashers.DemoPBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
STATIC_URL = "static/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    # A load test of several minutes must not see its tokens expire mid-run.
    "ACCESS_TOKEN_LIFETIME": timedelta(hours=1),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "UPDATE_LAST_LOGIN": False,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
