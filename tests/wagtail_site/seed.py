"""``python -m tests.wagtail_site.seed``: migrate the Wagtail test site's database
(``WAGTAIL_SITE_DB``) and build its pages; prints the pages as JSON (url, type, title)."""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.wagtail_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from tests.wagtail_site.site.seeding import seed_site

    call_command("migrate", verbosity=0)
    json.dump(seed_site(), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
