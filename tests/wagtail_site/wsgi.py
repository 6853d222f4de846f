"""``gunicorn tests.wagtail_site.wsgi:application``: the Wagtail test site."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.wagtail_site.settings")

application = get_wsgi_application()
