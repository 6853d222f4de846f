"""The reference app's staff login for perflab's dashboard (``/perf/``).

The dashboard is staff only, as it would be in a real app; the reference app makes one staff
user, ``perflab``, whose password is made once per data directory (never a fixed one) and
printed by ``perflab demo`` and ``perflab serve``.
"""

from __future__ import annotations

from pathlib import Path

STAFF_USERNAME = "perflab"
PASSWORD_FILE = "dashboard_password"
LOGIN_PATH = "/accounts/login/"


def staff_login(directory: Path) -> tuple[str, str]:
    """Make sure the staff user exists with this data directory's password; returns the
    login (Django must be set up, the database migrated)."""
    from django.contrib.auth import get_user_model

    from perflab.demo.keyfile import kept_secret

    password = kept_secret(directory, PASSWORD_FILE, "make the data directory writable")
    user, _ = get_user_model().objects.get_or_create(username=STAFF_USERNAME)
    if not (user.is_staff and user.is_active and user.check_password(password)):
        user.is_staff = user.is_active = True
        user.set_password(password)
        user.save()
    return STAFF_USERNAME, password
