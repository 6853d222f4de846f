"""Boot the reference project in-process (for seed and migrate) from a database URL."""

from __future__ import annotations

import os
from pathlib import Path

from perflab.errors import PerflabError

SETTINGS = "perflab.demo.settings"
DEV_SETTINGS = "perflab.demo.settings_dev"
WSGI_APP = "perflab.demo.wsgi:application"  # what gunicorn serves


def project_environment(db_url: str | None, dev: bool = False) -> dict[str, str]:
    """Environment variables that select the project's settings (for this and child processes)."""
    env = {"DJANGO_SETTINGS_MODULE": DEV_SETTINGS if dev else SETTINGS}
    if db_url:
        env["DATABASE_URL"] = db_url
    return env


def setup_django(db_url: str | None = None, dev: bool = False) -> None:
    """Configure Django for the reference project in this process; one-line errors on bad config."""
    import django
    from django.core.exceptions import ImproperlyConfigured

    os.environ.update(project_environment(db_url, dev))
    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise PerflabError(str(exc).splitlines()[0]) from None


def data_dir() -> Path:
    """Where the reference project keeps its SQLite file and logs (after ``setup_django``)."""
    from django.conf import settings

    return settings.DATA_DIR


def database_label() -> str:
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite {settings['NAME']}"
    return f"{connection.display_name} {settings.get('NAME')} on {settings.get('HOST') or 'socket'}"


def migrate() -> None:
    """Bring the schema up to date, turning an unreachable database into one clear line."""
    from django.core.management import call_command
    from django.db import DatabaseError

    try:
        call_command("migrate", interactive=False, verbosity=0)
    except DatabaseError as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise PerflabError(f"cannot use the database ({database_label()}): {first_line}") from None
