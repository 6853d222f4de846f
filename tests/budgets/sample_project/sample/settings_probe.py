"""The same project running perflab's probe: app, middleware first."""

from sample.settings import *  # noqa: F403

INSTALLED_APPS = [*INSTALLED_APPS, "perflab"]  # noqa: F405
MIDDLEWARE = ["perflab.middleware.ProbeMiddleware", *MIDDLEWARE]  # noqa: F405
