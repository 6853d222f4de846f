"""PERFLAB settings are validated at startup with one clear line."""

import re
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from perflab.probe.settings import SETTINGS, any_pattern, parse_settings, settings_table


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"SAMPLE_PERCENT": 150}, "PERFLAB['SAMPLE_PERCENT'] must be between 0 and 100"),
        ({"ENABLED": "yes"}, "PERFLAB['ENABLED'] must be bool"),
        ({"NPLUSONE_THRESHOLD": 0}, "PERFLAB['NPLUSONE_THRESHOLD'] must be at least 1"),
        ({"IGNORE_PATHS": "^/static/"}, "PERFLAB['IGNORE_PATHS'] must be a list of strings"),
        ({"IGNORE_PATHS": ["("]}, "PERFLAB['IGNORE_PATHS'] has an invalid pattern"),
        ({"SENSITIVE_NAMES": ["token", 1]}, "PERFLAB['SENSITIVE_NAMES'] must be a list of strings"),
        ({"CALLSITE_EXCLUDE": [None]}, "PERFLAB['CALLSITE_EXCLUDE'] must be a list of strings"),
        ({"INTERCEPT": "no.such.module.func"}, "PERFLAB['INTERCEPT'] cannot import"),
        ({"PERMISSION": 42}, "PERFLAB['PERMISSION'] must be a callable"),
        ({"STORE": {"URL": "x"}}, "PERFLAB['STORE'] must be {'PATH': file} or {'ALIAS'"),
        ({"SAMPLE_PERCNT": 5}, "PERFLAB has unknown keys ['SAMPLE_PERCNT']"),
        ({"PROFILER": "cprofile"}, "PERFLAB['PROFILER'] must be 'sampler' or 'pyinstrument'"),
    ],
)
def test_bad_settings_fail_with_one_clear_line(raw, message, tmp_path):
    with pytest.raises(ImproperlyConfigured) as error:
        parse_settings(raw, tmp_path / "s.sqlite3")
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_defaults(tmp_path):
    s = parse_settings(None, tmp_path / "s.sqlite3")
    assert s.ENABLED and s.SAMPLE_PERCENT == 100 and s.CAPTURE_BODY is False
    assert s.store_path == tmp_path / "s.sqlite3"
    assert [p.pattern for p in s.IGNORE_PATHS][:3] == [r"^/static/", r"^/media/", r"^/perf/"]
    s = parse_settings({"INTERCEPT": "os.path.exists"}, tmp_path / "s.sqlite3")
    assert s.INTERCEPT.__name__ == "exists"


@pytest.mark.parametrize(
    "patterns",
    [
        (r"^/static/", r"^/perf/", r"\.ico$"),  # joined into one regex
        (r"(?i)^/STATIC/", r"^/perf/"),  # a flag: searched one by one
        (r"^/(static|media)/", r"^/perf/"),  # a group: searched one by one
    ],
)
def test_any_pattern_matches_what_any_of_the_patterns_matches(patterns):
    compiled = tuple(re.compile(p) for p in patterns)
    search = any_pattern(compiled)
    for path in ["/static/a.css", "/STATIC/a.css", "/media/x", "/perf/api/", "/favicon.ico",
                 "/api/posts/", "/api/static/", ""]:  # fmt: skip
        assert bool(search(path)) == any(p.search(path) for p in compiled), path
    assert any_pattern(())("/static/") is None


def test_the_readmes_settings_table_is_the_declared_one():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("| key | default | meaning |")
    in_readme = readme[start : readme.index("\n\n", start) + 1]
    assert in_readme == settings_table(), (
        "README.md's settings table differs from the declaration: paste "
        "perflab.probe.settings.settings_table() in its place"
    )


def test_every_default_reads_as_a_given_value_would(tmp_path):
    defaults = parse_settings(None, tmp_path / "s.sqlite3")
    given = {key: declared.default for key, declared in SETTINGS.items() if key != "STORE"}
    assert parse_settings(given, tmp_path / "s.sqlite3") == defaults


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"MAX_BODY_BYTES": -1}, "PERFLAB['MAX_BODY_BYTES'] must be at least 0, got -1"),
        ({"PROFILE_SLOW_MS": "fast"}, "PERFLAB['PROFILE_SLOW_MS'] must be int or float"),
        ({"QUEUE_SIZE": 2.5}, "PERFLAB['QUEUE_SIZE'] must be int, got 2.5"),
        ({"SERVER_TIMING": 1}, "PERFLAB['SERVER_TIMING'] must be bool, got 1"),
        ({"SLOW_REQUEST_MS": True}, "PERFLAB['SLOW_REQUEST_MS'] must be int or float, got True"),
        ({"STORE": "probe.sqlite3"}, "PERFLAB['STORE'] must be {'PATH': file}"),
    ],
)
def test_each_setting_is_read_by_its_declared_type(raw, message, tmp_path):
    with pytest.raises(ImproperlyConfigured) as error:
        parse_settings(raw, tmp_path / "s.sqlite3")
    assert str(error.value).startswith(message)


def test_none_keeps_an_optional_setting_off(tmp_path):
    assert parse_settings({"PROFILE_SLOW_MS": None}, tmp_path / "s").PROFILE_SLOW_MS is None
    assert parse_settings({"PROFILE_SLOW_MS": 250}, tmp_path / "s").PROFILE_SLOW_MS == 250
