"""perflab's system checks (``manage.py check``) on real settings, URLconfs and store files."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from io import StringIO
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.http import HttpResponse
from django.test.utils import override_settings
from django.urls import include, path, re_path

from perflab.checks import (
    check_login,
    check_middleware,
    check_settings,
    check_store,
    check_urls,
    store_file_problem,
)
from perflab.demo.urls import urlpatterns as demo_urlpatterns
from perflab.middleware import ProbeMiddleware
from perflab.probe.store import RecordingStore
from tests.unprivileged import as_nobody

PROBE = "perflab.middleware.ProbeMiddleware"
WAGTAIL_SERVE_PATTERN = r"^((?:[\w\-]+/)*)$"  # wagtail/urls.py, WAGTAIL_APPEND_SLASH on


class ProbeSubclass(ProbeMiddleware):
    """An app's own probe middleware (the check must still see the probe in it)."""


def serve(request, path=""):
    """A stand-in for a catch-all page server (Wagtail's ``wagtail.views.serve``)."""
    return HttpResponse("page")


def urlconf(*patterns) -> ModuleType:
    """A URLconf module made of ``patterns`` (ROOT_URLCONF may be a module)."""
    module = ModuleType("checked_urls")
    module.urlpatterns = list(patterns)
    return module


PERF = path("perf/", include("perflab.urls"))
DEMO = [p for p in demo_urlpatterns if str(p.pattern) != "perf/"]  # the app, without perflab
# The README's mistake on a Wagtail site: `urlpatterns += [perf]` after Wagtail's include.
WAGTAIL_FIRST = urlconf(
    *DEMO,
    path("", include([re_path(WAGTAIL_SERVE_PATTERN, serve, name="wagtail_serve")])),
    PERF,
)
CATCH_ALL_FIRST = urlconf(re_path(r"^.*$", serve, name="anything"), PERF)
PERF_FIRST = urlconf(
    PERF, path("", include([re_path(WAGTAIL_SERVE_PATTERN, serve, name="wagtail_serve")]))
)
NO_PERF = urlconf(*DEMO)


def ids(messages) -> list[str]:
    return [m.id for m in messages]


# -- middleware ---------------------------------------------------------------------------


def test_the_reference_settings_pass_every_perflab_check():
    checks = check_middleware() + check_urls() + check_login() + check_settings() + check_store()
    assert checks == []


def test_a_middleware_before_the_probe_is_named():
    middleware = ["django.middleware.security.SecurityMiddleware", PROBE]
    with override_settings(MIDDLEWARE=middleware):
        (warning,) = check_middleware()
    assert warning.id == "perflab.W001"
    assert "before it: django.middleware.security.SecurityMiddleware." in warning.msg
    assert "MIDDLEWARE.insert(0" in warning.hint


def test_several_middleware_before_the_probe_are_all_named():
    before = ["django.middleware.security.SecurityMiddleware",
              "django.middleware.common.CommonMiddleware"]  # fmt: skip
    with override_settings(MIDDLEWARE=[*before, PROBE]):
        (warning,) = check_middleware()
    assert f"before it: {', '.join(before)}." in warning.msg


def test_a_subclass_of_the_probe_counts_as_the_probe():
    subclass = "tests.probe.test_checks.ProbeSubclass"
    with override_settings(MIDDLEWARE=["django.middleware.common.CommonMiddleware", subclass]):
        (warning,) = check_middleware()
    assert warning.msg.startswith(f"{subclass} is not first")
    with override_settings(MIDDLEWARE=[subclass]):
        assert check_middleware() == []


def test_a_missing_probe_middleware_is_an_error_unless_the_probe_is_disabled():
    with override_settings(MIDDLEWARE=["django.middleware.common.CommonMiddleware"]):
        (error,) = check_middleware()
        assert error.id == "perflab.E001"
        assert "records no request" in error.msg
        with override_settings(PERFLAB={**settings.PERFLAB, "ENABLED": False}):
            assert check_middleware() == []


# -- URLs ---------------------------------------------------------------------------------


def test_perf_behind_a_wagtail_catch_all_names_the_pattern_that_answered():
    with override_settings(ROOT_URLCONF=WAGTAIL_FIRST):
        (error,) = check_urls()
    assert error.id == "perflab.E002"
    assert error.msg.startswith(
        "/perf/api/status/ is answered by the URL pattern "
        f"'{WAGTAIL_SERVE_PATTERN}' (view 'wagtail_serve', tests.probe.test_checks.serve)"
    )
    assert "cannot group requests by route" in error.msg
    assert "before catch-all patterns" in error.hint


def test_perf_behind_a_bare_catch_all_is_an_error_too():
    with override_settings(ROOT_URLCONF=CATCH_ALL_FIRST):
        (error,) = check_urls()
    assert error.id == "perflab.E002"
    assert "the URL pattern '^.*$' (view 'anything'" in error.msg


def test_perf_placed_before_the_catch_all_passes():
    with override_settings(ROOT_URLCONF=PERF_FIRST):
        assert check_urls() == []


def test_urls_without_perflab_are_a_warning_not_an_error():
    with override_settings(ROOT_URLCONF=NO_PERF):
        (warning,) = check_urls()
    assert warning.id == "perflab.W002"
    assert "not included" in warning.msg


def test_settings_without_urls_have_nothing_to_check():
    with override_settings(ROOT_URLCONF=None):
        assert check_urls() == []


# -- the dashboard's login ------------------------------------------------------------------

WAGTAIL_SITE = urlconf(
    PERF,
    path("admin/login/", serve, name="admin_login"),
    path("", include([re_path(WAGTAIL_SERVE_PATTERN, serve, name="wagtail_serve")])),
)


def test_a_login_url_the_catch_all_answers_is_named():
    # A Wagtail site keeps Django's default LOGIN_URL, /accounts/login/: Wagtail serves it.
    with override_settings(ROOT_URLCONF=WAGTAIL_SITE, LOGIN_URL="/accounts/login/"):
        (warning,) = check_login()
    assert warning.id == "perflab.W004"
    assert (
        f"/accounts/login/ is answered by the catch-all pattern '{WAGTAIL_SERVE_PATTERN}' "
        "(view 'wagtail_serve')"
    ) in warning.msg
    assert 'PERFLAB["LOGIN_URL"]' in warning.hint


def test_the_dashboards_own_login_url_fixes_it():
    perflab = {**settings.PERFLAB, "LOGIN_URL": "/admin/login/"}
    with override_settings(ROOT_URLCONF=WAGTAIL_SITE, PERFLAB=perflab):
        assert check_login() == []


@pytest.mark.parametrize(
    ("login_url", "problem"),
    [("/nowhere/", "no URL pattern answers /nowhere/"), ("no-such-name", "is no URL name")],
)
def test_a_login_url_nothing_answers_is_named(login_url, problem):
    with override_settings(ROOT_URLCONF=urlconf(PERF), LOGIN_URL=login_url):
        (warning,) = check_login()
    assert problem in warning.msg


def test_a_login_on_another_site_or_by_url_name_passes():
    with override_settings(ROOT_URLCONF=WAGTAIL_SITE, LOGIN_URL="https://sso.example.test/"):
        assert check_login() == []
    with override_settings(ROOT_URLCONF=WAGTAIL_SITE, LOGIN_URL="admin_login"):
        assert check_login() == []


def test_a_permission_that_lets_anyone_in_needs_no_login():
    anyone = {**settings.PERFLAB, "PERMISSION": lambda request: True}
    with override_settings(ROOT_URLCONF=urlconf(PERF), LOGIN_URL="/nowhere/", PERFLAB=anyone):
        assert check_login() == []
    staff_only = {**settings.PERFLAB, "PERMISSION": lambda request: request.user.is_staff}
    with override_settings(ROOT_URLCONF=urlconf(PERF), LOGIN_URL="/nowhere/", PERFLAB=staff_only):
        assert ids(check_login()) == ["perflab.W004"]


def test_without_the_dashboard_the_login_is_not_checked():
    with override_settings(ROOT_URLCONF=NO_PERF, LOGIN_URL="/nowhere/"):
        assert check_login() == []


def test_an_endpoint_shadowed_by_a_more_specific_pattern_is_found():
    # status resolves, but a pattern of the app placed first answers the runner's route list.
    shadowing = re_path(r"^perf/api/urlpatterns/$", serve, name="mine")
    with override_settings(ROOT_URLCONF=urlconf(shadowing, PERF)):
        (error,) = check_urls()
    assert error.msg.startswith("/perf/api/urlpatterns/ is answered by the URL pattern")


# -- store --------------------------------------------------------------------------------


def store_at(target) -> dict:
    return {**settings.PERFLAB, "STORE": {"PATH": str(target)}}


def store_error(target) -> str | None:
    with override_settings(PERFLAB=store_at(target)):
        messages = check_store()
    assert ids(messages) in ([], ["perflab.W003"])
    return messages[0].msg if messages else None


def test_a_store_in_a_directory_the_probe_can_create_passes(tmp_path):
    assert store_error(tmp_path / "not" / "yet" / "probe.sqlite3") is None


def test_an_existing_store_an_empty_file_and_an_empty_database_pass(tmp_path):
    store = RecordingStore.at_path(tmp_path / "probe.sqlite3")
    store.ensure_schema()
    store.database.close()
    files = sorted(os.listdir(tmp_path))
    assert store_error(tmp_path / "probe.sqlite3") is None
    assert sorted(os.listdir(tmp_path)) == files  # looked at, nothing added
    (tmp_path / "empty.sqlite3").touch()
    assert store_error(tmp_path / "empty.sqlite3") is None
    sqlite3.connect(tmp_path / "fresh.sqlite3").close()
    assert store_error(tmp_path / "fresh.sqlite3") is None


def test_a_directory_is_not_a_store(tmp_path):
    assert (
        store_error(tmp_path) == f"the probe's store cannot be written: {tmp_path} is a directory."
    )


def test_a_store_under_a_file_cannot_be_created(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    message = store_error(tmp_path / "notes.txt" / "probe.sqlite3")
    assert f"{tmp_path / 'notes.txt'} is not a directory" in message


def test_a_file_that_is_not_sqlite_is_refused(tmp_path):
    (tmp_path / "probe.sqlite3").write_text("perflab settings, not a database\n")
    assert "is not a SQLite database" in store_error(tmp_path / "probe.sqlite3")


def test_another_sqlite_database_is_refused_with_its_tables(tmp_path):
    target = tmp_path / "app.sqlite3"
    with sqlite3.connect(target) as connection:
        for table in ("auth_user", "blog_post", "django_session", "django_migrations"):
            connection.execute(f"CREATE TABLE {table} (id INTEGER)")
    connection.close()
    message = store_error(target)
    assert "is a SQLite database but not a perflab store" in message
    assert "(its tables: auth_user, blog_post, django_migrations, …)" in message
    assert not any(name.startswith(target.name + "-") for name in os.listdir(tmp_path))


def test_the_apps_own_sqlite_database_is_refused():
    default = settings.DATABASES["default"]
    if not default["ENGINE"].endswith("sqlite3"):
        pytest.skip("the app's database is not a SQLite file here")
    message = store_error(default["NAME"])
    assert message.endswith(f"{default['NAME']} is the app's database 'default'.")


def test_a_store_alias_missing_from_databases_is_an_error():
    with override_settings(PERFLAB={**settings.PERFLAB, "STORE": {"ALIAS": "perflab"}}):
        (error,) = check_store()
    assert error.id == "perflab.E004"
    assert "names the database alias 'perflab', which is not in DATABASES" in error.msg
    with override_settings(PERFLAB={**settings.PERFLAB, "STORE": {"ALIAS": "default"}}):
        assert check_store() == []


def test_an_invalid_perflab_setting_is_reported_not_raised():
    with override_settings(PERFLAB={"STORE": {"FILE": "x"}}):
        (error,) = check_settings()
        assert check_store() == []  # said once, by check_settings
    assert error.id == "perflab.E005"
    assert error.msg.startswith("PERFLAB['STORE'] must be")


def test_a_recorder_that_is_not_one_is_reported():
    recorders = ["perflab.probe.recorders.sql.SqlRecorder", "tests.probe.outbound.NotARecorder"]
    with override_settings(PERFLAB={**settings.PERFLAB, "RECORDERS": recorders}):
        (error,) = check_settings()
    assert (error.id, error.msg) == (
        "perflab.E005",
        "PERFLAB['RECORDERS'] lists 'tests.probe.outbound.NotARecorder', which is not a perflab "
        "Recorder subclass",
    )
    with override_settings(PERFLAB={**settings.PERFLAB, "RECORDERS": recorders[:1]}):
        assert check_settings() == []


@pytest.fixture
def shared_dir():
    """A directory every user may enter (pytest's own temporary base is private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="perflab-checks-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


def test_a_directory_the_server_user_cannot_write_is_refused(shared_dir):
    directory = shared_dir / "readonly"
    directory.mkdir()
    directory.chmod(0o555)
    target, deeper = directory / "probe.sqlite3", directory / "sub" / "probe.sqlite3"
    try:
        if os.geteuid() == 0:
            answers = as_nobody(store_file_problem, target), as_nobody(store_file_problem, deeper)
        else:
            answers = store_file_problem(target), store_file_problem(deeper)
    finally:
        directory.chmod(0o755)
    assert answers == (
        f"{directory} is not writable by this user",
        f"{directory} is not writable by this user ({directory / 'sub'} does not exist)",
    )


def test_a_directory_the_server_user_cannot_enter_is_reported(shared_dir):
    if os.geteuid() != 0:
        pytest.skip("needs root to look as another user")
    private = shared_dir / "private"
    private.mkdir(mode=0o700)
    answer = as_nobody(store_file_problem, private / "probe.sqlite3")
    assert answer == f"{private / 'probe.sqlite3'} cannot be inspected: Permission denied"


# -- through `manage.py check` ------------------------------------------------------------


def test_manage_py_check_stops_on_perf_behind_a_catch_all():
    with override_settings(ROOT_URLCONF=WAGTAIL_FIRST), pytest.raises(SystemCheckError) as failed:
        call_command("check")
    text = str(failed.value)
    assert "?: (perflab.E002) /perf/api/status/ is answered by the URL pattern" in text
    assert "'wagtail_serve'" in text


def test_manage_py_check_prints_the_middleware_warning():
    middleware = ["django.middleware.common.CommonMiddleware", PROBE]
    out, err = StringIO(), StringIO()
    with override_settings(MIDDLEWARE=middleware):
        call_command("check", stdout=out, stderr=err)
    assert "(perflab.W001)" in err.getvalue()
    assert "before it: django.middleware.common.CommonMiddleware." in err.getvalue()
    assert "System check identified 1 issue" in err.getvalue()


def test_a_missing_store_alias_stops_startup_with_one_line(tmp_path):
    # The probe is built at startup, before any check can run: the alias fails there.
    (tmp_path / "alias_settings.py").write_text(
        'from tests.settings import *  # noqa: F403\nPERFLAB = {"STORE": {"ALIAS": "nope"}}\n'
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "alias_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(Path.cwd())]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "django", "check"], capture_output=True, text=True, env=env,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: PERFLAB['STORE'] names a database alias "
        "that is not in DATABASES (The connection 'nope' doesn't exist.)"
    )
