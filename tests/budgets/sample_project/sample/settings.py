"""A project without perflab in INSTALLED_APPS or MIDDLEWARE: the plugin needs neither."""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "sample-project-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "sample.shop",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "sample.urls"
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "default.sqlite3"},
    "other": {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "other.sqlite3"},
}
STATIC_URL = "static/"  # live_server's handler serves static files under it
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {},
    }
]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
REST_FRAMEWORK = {"DEFAULT_PAGINATION_CLASS": None, "UNAUTHENTICATED_USER": None}
# The probe's store, should anything write one: never the project's own databases.
PERFLAB = {"STORE": {"PATH": str(BASE_DIR / "perflab-probe.sqlite3")}}
