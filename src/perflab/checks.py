"""Django system checks for perflab's setup: ``manage.py check`` names what would make the
probe record less than it seems to, or nothing, or lose what it records.

Unchecked, each of these mistakes fails quietly, far from its cause: a middleware ahead of the
probe keeps its time (and its SQL) out of every record; a catch-all route ahead of
``include("perflab.urls")`` answers ``/perf/`` itself, so the API 404s and ``perflab run``
cannot group by route; a store that cannot be written loses every record in the writer
thread, after the requests have answered; a login URL nothing answers sends the dashboard's
visitors to a 404. The checks read settings, the URLconf and the
store file's first bytes and tables — cheap, and they never write anywhere.

``PerflabConfig.ready`` registers them (tag ``perflab``; the URL check also ``urls``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.core.checks import Error, Warning

from perflab.mount import URL_PREFIX

PROBE_MIDDLEWARE = "perflab.middleware.ProbeMiddleware"
URL_INCLUDE = f'path("{URL_PREFIX}", include("perflab.urls"))'
# perflab's URL names the checks resolve: the writer's status and the runner's route list.
API_URL_NAMES = ("status", "urlpatterns")
SQLITE_HEADER = b"SQLite format 3\x00"
STORE_MARKER_TABLE = "perflab_route_rollup"  # what makes a SQLite file a perflab store
SQLITE_OPEN_TIMEOUT_S = 1.0


def check_middleware(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list:
    """``ProbeMiddleware`` in ``MIDDLEWARE``, and first: it times everything below it."""
    from django.conf import settings

    if not _probe_enabled():
        return []
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    position = _probe_position(middleware)
    if position is None:
        return [
            Error(
                f"perflab is in INSTALLED_APPS but {PROBE_MIDDLEWARE} is not in MIDDLEWARE, "
                "so the probe records no request.",
                hint=f'Add it first: MIDDLEWARE.insert(0, "{PROBE_MIDDLEWARE}"); or remove '
                '"perflab" from INSTALLED_APPS, or set PERFLAB = {"ENABLED": False}.',
                id="perflab.E001",
            )
        ]
    if position == 0:
        return []
    before = ", ".join(middleware[:position])
    return [
        Warning(
            f"{middleware[position]} is not first in MIDDLEWARE; before it: {before}. What "
            "runs there (its time, SQL and cache calls) is missing from every request the "
            "probe records.",
            hint=f'Put it first: MIDDLEWARE.insert(0, "{PROBE_MIDDLEWARE}").',
            id="perflab.W001",
        )
    ]


def check_urls(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list:
    """perflab's API URLs resolve to perflab's views (not to a catch-all placed before them)."""
    from django.conf import settings
    from django.urls import NoReverseMatch, Resolver404, resolve, reverse

    if not getattr(settings, "ROOT_URLCONF", None):
        return []  # no URLs at all (a settings module for scripts): nothing is served
    for name in API_URL_NAMES:
        try:
            url = reverse(f"perflab:{name}")
        except NoReverseMatch:
            return [
                Warning(
                    "perflab's URLs are not included: no JSON API (/perf/api/...), and "
                    "`perflab run` cannot group requests by route (it keeps Locust's names).",
                    hint=f"Add {URL_INCLUDE} to urlpatterns, before any catch-all pattern "
                    "(such as Wagtail's include(wagtail_urls)); ignore this if you do not "
                    "want the API (SILENCED_SYSTEM_CHECKS).",
                    id="perflab.W002",
                )
            ]
        try:
            match = resolve(url)
        except Resolver404:
            match = None
        if match is not None and "perflab" in match.app_names and match.url_name == name:
            continue
        answer = (
            "no URL pattern"
            if match is None
            else f"the URL pattern '{match.route}' (view '{match.view_name}', {match._func_path})"
        )
        return [
            Error(
                f"{url} is answered by {answer}, not by perflab: its JSON API is unreachable "
                "and `perflab run` cannot group requests by route.",
                hint=f"Place {URL_INCLUDE} before catch-all patterns (such as Wagtail's "
                'path("", include(wagtail_urls)) or re_path(r"^.*$", ...)) in urlpatterns: '
                "Django uses the first pattern that matches.",
                id="perflab.E002",
            )
        ]
    return []


def check_login(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list:
    """The dashboard's login redirect leads to a page that can log a person in: its login
    URL (``PERFLAB["LOGIN_URL"]``, else Django's ``LOGIN_URL``) is answered by a view, not by
    nothing (a 404) or by a catch-all placed for other pages (Wagtail's, say)."""
    from urllib.parse import urlsplit

    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.shortcuts import resolve_url
    from django.urls import NoReverseMatch, Resolver404, resolve, reverse

    from perflab.probe.routes import is_catch_all
    from perflab.probe.settings import load_settings

    if not getattr(settings, "ROOT_URLCONF", None):
        return []
    try:
        dashboard = reverse("perflab:dashboard")
        loaded = load_settings()
    except (NoReverseMatch, ImproperlyConfigured):
        return []  # no dashboard here, or check_settings says what is wrong
    if _lets_anonymous_in(loaded.PERMISSION, dashboard):
        return []  # nobody is sent to log in
    configured = loaded.LOGIN_URL
    hint = (
        'Point PERFLAB["LOGIN_URL"] (or Django\'s LOGIN_URL) at the login page staff use, '
        'e.g. "/admin/login/" with django.contrib.admin or Wagtail\'s admin.'
    )
    try:
        url = resolve_url(configured or settings.LOGIN_URL)
    except NoReverseMatch:
        return [_login_warning(f"{configured or settings.LOGIN_URL!r} is no URL name", hint)]
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return []  # a login on another site (single sign-on): not this URLconf's to answer
    try:
        match = resolve(parts.path)
    except Resolver404:
        return [_login_warning(f"no URL pattern answers {parts.path}", hint)]
    if is_catch_all(match.route):
        answer = f"the catch-all pattern '{match.route}' (view '{match.view_name}')"
        return [_login_warning(f"{parts.path} is answered by {answer}", hint)]
    return []


def _lets_anonymous_in(permission, path: str) -> bool:
    """Whether ``PERFLAB["PERMISSION"]`` lets a visitor who is not logged in read the
    dashboard (asked with a request of Django's test factory; a callable that fails on it
    is taken as a no)."""
    if permission is None:
        return False
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    request = RequestFactory().get(path)
    request.user = AnonymousUser()
    try:
        return bool(permission(request))
    except Exception:
        return False


def _login_warning(problem: str, hint: str) -> Warning:
    return Warning(
        f"the dashboard sends visitors who are not logged in to its login URL, but {problem}: "
        "they would get a page that cannot log them in.",
        hint=hint,
        id="perflab.W004",
    )


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list:
    """``PERFLAB`` reads as the probe reads it at startup: every key known, every value of
    its declared type, every recorder importable and a ``Recorder``."""
    from django.core.exceptions import ImproperlyConfigured

    from perflab.probe.probe import recorder_classes
    from perflab.probe.settings import load_settings

    try:
        recorder_classes(load_settings().RECORDERS)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="perflab.E005")]
    return []


def check_store(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list:
    """The probe's store can be written: a file the probe can create or open as its own, or a
    database alias that exists."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from perflab.probe.settings import load_settings

    try:
        store = load_settings().STORE
    except ImproperlyConfigured:
        return []  # check_settings says why
    if "ALIAS" in store:
        alias = store["ALIAS"]
        if alias in settings.DATABASES:
            return []
        known = ", ".join(repr(a) for a in settings.DATABASES) or "none"
        return [
            Error(
                f"PERFLAB['STORE'] names the database alias {alias!r}, which is not in "
                f"DATABASES (aliases: {known}), so the probe cannot store anything.",
                hint=f"Add DATABASES[{alias!r}] (a database of its own, with DATABASE_ROUTERS "
                '= ["perflab.router.ProbeStoreRouter"]), or use {"PATH": file}.',
                id="perflab.E004",
            )
        ]
    path = Path(store["PATH"]).expanduser()
    problem = _app_database_problem(path, settings.DATABASES) or store_file_problem(path)
    if problem is None:
        return []
    # A warning, not an error: the app serves without its store (the probe drops and
    # counts what it cannot write), and an error would stop every management command —
    # migrate in a deploy, collectstatic in an image build — where the server's user differs.
    return [
        Warning(
            f"the probe's store cannot be written: {problem}.",
            hint='Point PERFLAB["STORE"]["PATH"] at a file of perflab\'s own in a directory '
            "the server's user can write (it is created when the app starts serving).",
            id="perflab.W003",
        )
    ]


def store_file_problem(path: Path) -> str | None:
    """Why the probe could not keep its store at ``path``, or None.

    A file that does not exist yet is fine when its directory exists or can be created
    (the probe creates both on its first write); an existing file must be writable, in a
    writable directory (SQLite keeps its -wal and -shm files next to it), and empty or a
    SQLite database that is perflab's — never another database the probe would add its
    tables to. Read-only: nothing is created or changed.
    """
    try:
        return _file_problem(path)
    except OSError as exc:  # a directory on the way this user may not enter, say
        return f"{path} cannot be inspected: {exc.strerror or exc}"


def _file_problem(path: Path) -> str | None:
    if path.is_dir():
        return f"{path} is a directory"
    directory = path.parent
    if not path.exists():
        existing = next(p for p in (directory, *directory.parents) if p.exists())
        if not existing.is_dir():
            return f"{existing} is not a directory, so {directory} cannot be created"
        if not os.access(existing, os.W_OK | os.X_OK):
            missing = "" if existing == directory else f" ({directory} does not exist)"
            return f"{existing} is not writable by this user{missing}"
        return None
    if not os.access(path, os.R_OK | os.W_OK):
        return f"{path} is not readable and writable by this user"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"{directory} is not writable by this user (SQLite writes {path.name}-wal there)"
    with open(path, "rb") as file:
        header = file.read(len(SQLITE_HEADER))
    if not header:
        return None  # an empty file is an empty SQLite database
    if header != SQLITE_HEADER:
        return f"{path} is not a SQLite database"
    tables = _sqlite_tables(path)
    if tables is None or not tables or STORE_MARKER_TABLE in tables:
        return None
    shown = ", ".join(sorted(tables)[:3]) + (", …" if len(tables) > 3 else "")
    return f"{path} is a SQLite database but not a perflab store (its tables: {shown})"


def _sqlite_tables(path: Path) -> set[str] | None:
    """The tables of a SQLite file; None when SQLite cannot say now.

    Opened ``immutable``: a plain read-only connection to a WAL database creates its -wal
    and -shm files. A schema change still in the WAL is not seen, and a torn read is an
    error (so None): neither can make a perflab store look like another database.
    """
    try:
        connection = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro&immutable=1",
            uri=True,
            timeout=SQLITE_OPEN_TIMEOUT_S,
        )
        try:
            rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {name for (name,) in rows}
        finally:
            connection.close()
    except sqlite3.Error:
        return None  # locked by a long write, say: not evidence of a wrong file


def _app_database_problem(path: Path, databases: dict[str, dict]) -> str | None:
    """The store must not be one of the app's own SQLite databases (not yet created, too)."""
    target = path.resolve()
    for alias, config in databases.items():
        name = config.get("NAME")
        sqlite = config.get("ENGINE", "").endswith("sqlite3")
        if sqlite and name and str(name) != ":memory:" and Path(name).resolve() == target:
            return f"{path} is the app's database {alias!r}"
    return None


def _probe_enabled() -> bool:
    from django.conf import settings

    return (getattr(settings, "PERFLAB", None) or {}).get("ENABLED", True) is not False


def _probe_position(middleware: list[str]) -> int | None:
    """Where ``ProbeMiddleware`` (or a subclass of it) is in ``middleware``, or None."""
    if PROBE_MIDDLEWARE in middleware:
        return middleware.index(PROBE_MIDDLEWARE)
    from django.utils.module_loading import import_string

    from perflab.middleware import ProbeMiddleware

    for position, entry in enumerate(middleware):
        try:
            found = import_string(entry)
        except ImportError:
            continue  # Django names a middleware it cannot import when it loads them
        if isinstance(found, type) and issubclass(found, ProbeMiddleware):
            return position
    return None


# (check, tags) as ``PerflabConfig.ready`` registers them. The URL check loads the URLconf,
# as Django's own ``urls`` checks do.
CHECKS = (
    (check_middleware, ("perflab",)),
    (check_urls, ("perflab", "urls")),
    (check_login, ("perflab", "urls")),
    (check_settings, ("perflab",)),
    (check_store, ("perflab",)),
)
