"""``python -m tests.wagtail_site.query_counts``: each page of a seeded test site served
through Django's test client, its statements counted by Django itself
(``CaptureQueriesContext``), independently of the probe. Prints JSON per page: url, type,
status, queries, and the statement shapes run more than once with how many times.

Counted on a second pass over the pages: the first request of a page type in a process
also looks up its content type (``ContentType``'s per-process cache), one statement each,
which a warm worker no longer runs."""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter

_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def statement_shape(sql: str) -> str:
    """The SQL with its literal values replaced, so one loop's statements compare equal."""
    return _LITERALS.sub("?", sql)


def count_queries() -> list[dict]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from wagtail.models import Page

    client = Client(HTTP_HOST="localhost")
    tree = list(Page.objects.filter(depth__gt=1).order_by("path"))
    for page in tree:
        client.get(page.url)
    pages = []
    for page in tree:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(page.url)
        shapes = Counter(statement_shape(q["sql"]) for q in captured.captured_queries)
        pages.append({
            "url": page.url,
            "type": page.specific_class.__name__,
            "status": response.status_code,
            "queries": len(captured.captured_queries),
            "repeated": {sql: n for sql, n in shapes.most_common() if n > 1},
        })  # fmt: skip
    return pages


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.wagtail_site.settings")
    import django

    django.setup()
    json.dump(count_queries(), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
