"""PERFLAB settings are validated at startup with one clear line."""

import re

import pytest
from django.core.exceptions import ImproperlyConfigured

from perflab.probe.settings import any_pattern, parse_settings


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"SAMPLE_PERCENT": 150}, "PERFLAB['SAMPLE_PERCENT'] must be between 0 and 100"),
        ({"ENABLED": "yes"}, "PERFLAB['ENABLED'] must be bool"),
        ({"NPLUSONE_THRESHOLD": 0}, "PERFLAB['NPLUSONE_THRESHOLD'] must be at least 1"),
        ({"IGNORE_PATHS": "^/static/"}, "PERFLAB['IGNORE_PATHS'] must be a list of strings"),
        ({"IGNORE_PATHS": ["("]}, "PERFLAB['IGNORE_PATHS'] has an invalid pattern"),
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
