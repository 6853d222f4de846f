"""The reference project's settings for tests: the same app, a fast password hasher."""

import tempfile
from pathlib import Path

from perflab.demo.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The probe writes to a throwaway store, never into the checkout (tests/probe point it
# at each test's own directory).
DATA_DIR = Path(tempfile.mkdtemp(prefix="perflab-tests-"))
PERFLAB = {**PERFLAB, "STORE": {"PATH": str(DATA_DIR / "probe.sqlite3")}}  # noqa: F405

# The probe's corpus of N+1 shapes (tests/probe/corpus): django-taggit, a Jinja2 engine.
INSTALLED_APPS = [*INSTALLED_APPS, "taggit", "tests.probe.corpus"]  # noqa: F405
TEMPLATES = [
    *TEMPLATES,  # noqa: F405
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [Path(__file__).parent / "probe" / "corpus" / "jinja2"],
        "APP_DIRS": False,
    },
]
