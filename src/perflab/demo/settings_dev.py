"""The ``dev`` profile: DEBUG=True, with django-debug-toolbar on request.

``PERFLAB_DEV_TOOLBAR=1`` adds the debug toolbar (django-silk is switched by
``PERFLAB_SILK`` in every profile). Both need the ``compare`` extra. Used for
side-by-side comparisons, never for a real load test: DEBUG keeps every query in
memory and slows every request.
"""

import os

from perflab.demo.settings import *  # noqa: F403
from perflab.demo.settings import INSTALLED_APPS, MIDDLEWARE, REST_FRAMEWORK

DEBUG = True
INTERNAL_IPS = ["127.0.0.1", "::1"]
INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.sessions", "django.contrib.staticfiles"]
MIDDLEWARE = [*MIDDLEWARE]
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

DEV_TOOLBAR = os.environ.get("PERFLAB_DEV_TOOLBAR", "") not in ("", "0")

if DEV_TOOLBAR:
    INSTALLED_APPS.append("debug_toolbar")
    MIDDLEWARE.insert(0, "debug_toolbar.middleware.DebugToolbarMiddleware")
