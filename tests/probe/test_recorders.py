"""Recorders are listed in ``PERFLAB["RECORDERS"]``: an app adds its own by dotted path."""

import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from perflab.datadir import STORE_FILE
from perflab.probe.probe import recorder_classes
from perflab.probe.recorders.cache import CacheRecorder
from perflab.probe.recorders.sql import SqlRecorder
from perflab.probe.recorders.templates import TemplateRecorder
from perflab.probe.settings import DEFAULT_RECORDERS, parse_settings
from tests.probe.conftest import flushed
from tests.probe.outbound import OutboundRecorder

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]


def test_the_built_in_recorders_by_default(probe):
    kinds = [type(recorder) for recorder in probe.recorders]
    assert kinds == [SqlRecorder, CacheRecorder, TemplateRecorder]
    assert [type(r) for r in probe.timing] == [SqlRecorder]


def test_an_apps_recorder_adds_its_server_timing_entry_and_its_data(make_probe):
    probe = make_probe(RECORDERS=[*DEFAULT_RECORDERS, "tests.probe.outbound.OutboundRecorder"])
    response = Client().get("/t/outbound/", HTTP_X_REQUEST_ID="outbound")
    assert response.content == b"answer of /aanswer of /b"
    timing = response["Server-Timing"]
    assert re.fullmatch(
        r'db;dur=0\.0;desc="0 queries", outbound;dur=(\d+\.\d);desc="2 calls", '
        r"app;dur=[\d.]+, total;dur=[\d.]+",
        timing,
    ), timing
    assert float(re.search(r"outbound;dur=([\d.]+)", timing)[1]) >= 4.0  # two 2 ms calls
    spans = flushed(probe).request(request_id="outbound")["spans"]
    assert [span["name"] for span in spans] == ["outbound /a", "outbound /b"]


def test_cache_calls_and_template_renders_name_the_app_line_that_made_them(probe):
    """The waterfall shows every event with its place: a cache call at the app's line, a
    template the view rendered at the view's line; one Django's response rendered after the
    view returned at Django's line that did (no app line asked for it then)."""
    import inspect

    from tests.probe import urls

    def line_of(view, text: str) -> int:
        source, first = inspect.getsourcelines(view)
        return first + next(i for i, line in enumerate(source) if text in line)

    Client().get("/t/templated/", HTTP_X_REQUEST_ID="templated")
    Client().get("/t/cached/", HTTP_X_REQUEST_ID="cached")
    store = flushed(probe)
    (render,) = store.request(request_id="templated")["templates"]
    assert render["location"] == (
        f"tests/probe/urls.py:{line_of(urls.templated, 'template.render(')}:templated"
    )
    cached = store.request(request_id="cached")
    (get,) = cached["cache"]
    assert get["location"] == f"tests/probe/urls.py:{line_of(urls.cached, 'cache.get(')}:cached"
    (response_render,) = cached["templates"]
    assert re.search(
        r"django/template/response\.py:\d+:rendered_content$", response_render["location"]
    )


def test_a_recorder_is_one_instance_per_process(make_probe):
    # install hooks Django globally: a second instance would record everything twice
    first = make_probe().recorders[0]
    assert make_probe(NPLUSONE_THRESHOLD=3).recorders[0] is first


def test_only_the_recorders_listed_run(make_probe):
    probe = make_probe(RECORDERS=["tests.probe.outbound.OutboundRecorder"])
    assert [type(r) for r in probe.recorders] == [OutboundRecorder]
    assert probe.completing == [] and probe.finishing == []


@pytest.mark.parametrize(
    ("recorders", "message"),
    [
        (
            ["no.such.module.Recorder"],
            "PERFLAB['RECORDERS'] cannot import 'no.such.module.Recorder'",
        ),
        (
            ["tests.probe.outbound.NotARecorder"],
            "PERFLAB['RECORDERS'] lists 'tests.probe.outbound.NotARecorder', which is not a "
            "perflab Recorder subclass",
        ),
        (
            ["perflab.probe.recorders.base.ServerTiming"],
            "PERFLAB['RECORDERS'] lists 'perflab.probe.recorders.base.ServerTiming', which is not",
        ),
        (
            [DEFAULT_RECORDERS[0], DEFAULT_RECORDERS[0]],
            f"PERFLAB['RECORDERS'] lists {DEFAULT_RECORDERS[0]!r} twice",
        ),
        (
            "perflab.probe.recorders.sql.SqlRecorder",
            "PERFLAB['RECORDERS'] must be a list of strings",
        ),
    ],
)
def test_bad_recorders_fail_with_one_line(recorders, message, tmp_path):
    with pytest.raises(ImproperlyConfigured) as error:
        recorder_classes(parse_settings({"RECORDERS": recorders}, tmp_path / STORE_FILE).RECORDERS)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_a_recorder_that_cannot_install_stops_startup_with_one_line(make_probe):
    with pytest.raises(ImproperlyConfigured) as error:
        make_probe(RECORDERS=["tests.probe.outbound.BrokenRecorder"])
    assert str(error.value) == (
        "PERFLAB['RECORDERS']: tests.probe.outbound.BrokenRecorder could not install: "
        "RuntimeError: no outbound client configured"
    )
