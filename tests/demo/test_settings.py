"""Environment variables select the reference project's backends, as the README says."""

import json
import os
import subprocess
import sys

import pytest


def settings_under(env: dict[str, str], module: str = "perflab.demo.settings") -> dict:
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps({'debug': s.DEBUG, 'db': s.DATABASES['default'], "
        "'cache': s.CACHES['default']['BACKEND'], 'apps': s.INSTALLED_APPS, "
        "'middleware': s.MIDDLEWARE, 'hosts': s.ALLOWED_HOSTS}, default=str))"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**base, "DJANGO_SETTINGS_MODULE": module, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_defaults_are_production_like(tmp_path):
    s = settings_under({"PERFLAB_DATA_DIR": str(tmp_path)})
    assert s["debug"] is False
    assert s["hosts"] == ["127.0.0.1", "localhost", "[::1]"]
    assert s["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert s["db"]["NAME"] == str(tmp_path / "demo.sqlite3")
    assert s["db"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert s["cache"] == "django.core.cache.backends.locmem.LocMemCache"


def test_postgres_url_gets_persistent_connections():
    s = settings_under({"DATABASE_URL": "postgres://u:p@127.0.0.1:5432/blog"})
    assert s["db"]["ENGINE"] == "django.db.backends.postgresql"
    assert s["db"]["NAME"] == "blog"
    assert s["db"]["CONN_MAX_AGE"] == 600
    assert s["db"]["CONN_HEALTH_CHECKS"] is True


def test_a_bad_connection_age_is_one_line_not_a_traceback():
    code = "from django.conf import settings; settings.DATABASES"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "perflab.demo.settings",
             "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/blog", "PERFLAB_CONN_MAX_AGE": "abc"},
    )  # fmt: skip
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: "
        "PERFLAB_CONN_MAX_AGE must be whole seconds from 0 to 86400, got 'abc'"
    )
    s = settings_under({"DATABASE_URL": "postgres://u:p@127.0.0.1:5432/blog",
                        "PERFLAB_CONN_MAX_AGE": "0"})  # fmt: skip
    assert s["db"]["CONN_MAX_AGE"] == 0


def test_redis_url_selects_djangos_redis_cache():
    s = settings_under({"REDIS_URL": "redis://127.0.0.1:6379/1"})
    assert s["cache"] == "django.core.cache.backends.redis.RedisCache"


@pytest.mark.parametrize(
    ("env", "apps", "middleware"),
    [
        ({}, set(), set()),
        ({"PERFLAB_DEV_TOOLBAR": "1"}, {"debug_toolbar"}, {"debug_toolbar"}),
        ({"PERFLAB_SILK": "on"}, {"silk"}, {"silk"}),
    ],
)
def test_dev_profile_switches(env, apps, middleware):
    s = settings_under(env, module="perflab.demo.settings_dev")
    assert s["debug"] is True
    assert {"debug_toolbar", "silk"} & set(s["apps"]) == apps
    assert {m.split(".")[0] for m in s["middleware"]} & {"debug_toolbar", "silk"} == middleware


def secret_keys(data_dir, processes: int = 1) -> set[str]:
    """SECRET_KEY as ``processes`` fresh interpreters (gunicorn workers) starting at once see it."""
    env = {k: v for k, v in os.environ.items() if k != "PERFLAB_SECRET_KEY"}
    env |= {"DJANGO_SETTINGS_MODULE": "perflab.demo.settings", "PERFLAB_DATA_DIR": str(data_dir)}
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    started = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    return {process.communicate(timeout=60)[0].strip() for process in started}


def test_each_data_directory_makes_its_own_secret_key_and_keeps_it(tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    (key_one,) = secret_keys(first, processes=4)  # workers starting together agree on one
    (key_two,) = secret_keys(second)
    assert key_one != key_two
    assert len(key_one) >= 50 and key_one != "perflab-demo-not-secret-loopback-only-0f3c9a"
    assert secret_keys(first) == {key_one}  # a restart signs with the same key: tokens stay valid
    kept = first / "secret_key"
    assert kept.read_text().strip() == key_one
    assert kept.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in first.iterdir() if "secret" in p.name) == ["secret_key"]
