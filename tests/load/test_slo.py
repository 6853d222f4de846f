import msgspec
import pytest

from perflab.errors import ExitCode, PerflabError
from perflab.load.results import EndpointFigures
from perflab.load.slo import SLO, evaluate, format_threshold, format_value, parse_slo


@pytest.mark.parametrize(
    ("text", "scope", "metric", "op", "threshold"),
    [
        ("p95<200ms", None, "p95", "<", 200.0),
        ("p99.9 <= 1.5s", None, "p99.9", "<=", 1500.0),
        ("p50<250us", None, "p50", "<", 0.25),
        ("p50<250µs", None, "p50", "<", 0.25),
        ("p75 < 120", None, "p75", "<", 120.0),  # a bare number is ms
        ("error_rate<1%", None, "error_rate", "<", 0.01),
        ("error_rate<0.01", None, "error_rate", "<", 0.01),
        ("rps>50", None, "rps", ">", 50.0),
        ("rps >= 50/s", None, "rps", ">=", 50.0),
        ("requests>=1000", None, "requests", ">=", 1000.0),
        ("failures<1", None, "failures", "<", 1.0),
        ("mean<50ms", None, "mean", "<", 50.0),
        ("max<2s", None, "max", "<", 2000.0),
        ("min>0.5ms", None, "min", ">", 0.5),
        ("avg<3ms", None, "mean", "<", 3.0),
        ("errors<2%", None, "error_rate", "<", 0.02),
        ("p999<1s", None, "p99.9", "<", 1000.0),
        ("P95<200MS", None, "p95", "<", 200.0),
        ("/api/posts/:p99<500ms", "/api/posts/", "p99", "<", 500.0),
        ("GET /api/posts/<int:pk>/:p95<100ms", "GET /api/posts/<int:pk>/", "p95", "<", 100.0),
        ("  GET /api/posts/ : p95 < 100 ms ", "GET /api/posts/", "p95", "<", 100.0),
    ],
)
def test_parse_slo_reads_scope_metric_op_and_threshold_in_base_units(
    text, scope, metric, op, threshold
):
    slo = parse_slo(text)
    assert (slo.scope, slo.metric, slo.op) == (scope, metric, op)
    assert slo.threshold == pytest.approx(threshold)
    assert slo.expression == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("p95<<200", "expected [ENDPOINT:]METRIC OP VALUE"),
        ("p95 200ms", "expected [ENDPOINT:]METRIC OP VALUE"),
        ("p95<", "expected [ENDPOINT:]METRIC OP VALUE"),
        ("p95<-5ms", "expected [ENDPOINT:]METRIC OP VALUE"),
        ("", "expected [ENDPOINT:]METRIC OP VALUE"),
        ("p96<200ms", 'unknown metric "p96"; known: p50, p75'),
        ("/api/<int:pk>/:latency<200ms", 'unknown metric "latency"'),
        ("p95<200%", "p95 takes a latency in ms, s or us"),
        ("p95<2min", 'not "min"'),
        ("rps>50ms", 'rps takes requests per second (a bare number or "/s"), not "ms"'),
        ("error_rate<1ms", 'error_rate takes a percentage ("1%") or a fraction'),
        ("error_rate<5", "error_rate 5 is not a fraction; write 5% or 0.05"),
        ("error_rate<150%", "over 100%"),
        ("requests>10%", "requests takes a plain count"),
        (":p95<200ms", 'nothing before ":"'),
    ],
)
def test_bad_slo_is_one_usage_error_naming_the_expression(text, reason):
    with pytest.raises(PerflabError) as caught:
        parse_slo(text)
    message = str(caught.value)
    assert message.startswith(f'bad SLO "{text}": ')
    assert reason in message
    assert "\n" not in message
    assert caught.value.exit_code == ExitCode.USAGE


@pytest.mark.parametrize(
    ("text", "ceiling"),
    [
        ("p95<200ms", True),
        ("max<=2s", True),
        ("error_rate<1%", True),
        ("failures<10", True),
        ("rps<100", False),  # grows as the run goes on: only the end can tell
        ("requests<100", False),
        ("rps>50", False),
        ("min>1ms", False),
    ],
)
def test_is_ceiling_only_for_upper_bounds_on_metrics_that_do_not_grow(text, ceiling):
    assert parse_slo(text).is_ceiling is ceiling


def test_describe_uses_canonical_metric_and_units():
    assert parse_slo("avg<1.5s").describe() == "mean < 1500 ms"
    assert parse_slo("errors<0.5%").describe() == "error_rate < 0.5%"
    assert parse_slo("GET /x/:rps>=20/s").describe() == "GET /x/: rps >= 20 req/s"


def _row(method, name, requests=100, failures=0, rps=10.0, **latency):
    values = {
        "count": requests,
        "min": 1.0,
        "mean": 20.0,
        "p50": 10.0,
        "p75": 20.0,
        "p90": 40.0,
        "p95": 50.0,
        "p99": 80.0,
        "p99_9": 90.0,
        "p99_99": 92.0,
        "max": 95.0,
    }
    values.update(latency)
    return msgspec.convert({
        "method": method, "name": name, "requests": requests, "failures": failures,
        "error_rate": failures / requests if requests else 0.0, "rps": rps,
        "latency": values, "service": values,
    }, EndpointFigures)  # fmt: skip


@pytest.fixture
def results():
    return {
        "totals": _row("", "Aggregated", requests=300, failures=3, rps=5.0, p95=183.2),
        "endpoints": [
            _row("GET", "/api/posts/", p95=120.0, rps=3.0),
            _row("POST", "/api/posts/", failures=2, p95=240.0, rps=1.0),
            _row("GET", "/api/posts/<int:pk>/", failures=1, p95=40.0, rps=1.0),
        ],
    }


def judge(text, results):
    [result] = evaluate([parse_slo(text)], results["totals"], results["endpoints"])
    return result


def test_unscoped_slo_is_judged_on_the_totals(results):
    ok = judge("p95<200ms", results)
    assert (ok.passed, ok.actual, ok.where) == (True, 183.2, "all requests")
    assert ok.detail == "p95 183.2 ms < 200 ms"

    breached = judge("p95<150ms", results)
    assert breached.passed is False
    assert breached.detail == "p95 183.2 ms >= 150 ms"


def test_error_rate_is_compared_as_a_fraction_and_shown_as_percent(results):
    assert judge("error_rate<2%", results).passed is True
    result = judge("error_rate<0.5%", results)
    assert (result.passed, result.actual) == (False, 0.01)
    assert result.detail == "error_rate 1.00% >= 0.5%"


def test_name_scope_covers_every_method_and_reports_the_worst(results):
    result = judge("/api/posts/:p95<200ms", results)
    assert result.passed is False
    assert result.actual == 240.0
    assert result.where == "GET /api/posts/, POST /api/posts/"
    assert result.detail == "p95 240.0 ms >= 200 ms (worst: POST /api/posts/)"

    assert judge("/api/posts/:p95<250ms", results).passed is True


def test_method_scope_covers_only_that_method(results):
    result = judge("GET /api/posts/:p95<200ms", results)
    assert (result.passed, result.actual, result.where) == (True, 120.0, "GET /api/posts/")
    assert judge("get /api/posts/:p95<200ms", results).passed is True


def test_scope_with_a_colon_in_the_route_matches_its_endpoint(results):
    result = judge("/api/posts/<int:pk>/:failures<1", results)
    assert (result.passed, result.actual) == (False, 1.0)


def test_scope_matching_no_endpoint_fails_rather_than_passing_silently(results):
    result = judge("/api/typo/:p95<200ms", results)
    assert (result.passed, result.actual) == (False, None)
    assert result.detail == "no requests named /api/typo/"


def test_floor_slos_use_the_lowest_value_and_endpoint_rps(results):
    result = judge("/api/posts/:rps>=2", results)
    assert (result.passed, result.actual) == (False, 1.0)
    assert "(worst: POST /api/posts/)" in result.detail
    assert judge("rps>4", results).actual == 5.0
    assert judge("requests>=300", results).passed is True


def test_boundaries_follow_the_operator(results):
    assert judge("GET /api/posts/:p95<=120ms", results).passed is True
    assert judge("GET /api/posts/:p95<120ms", results).passed is False
    assert judge("GET /api/posts/:p95>=120ms", results).passed is True
    assert judge("GET /api/posts/:p95>120ms", results).passed is False


def test_latency_cannot_pass_on_an_endpoint_without_requests(results):
    results["endpoints"].append(_row("GET", "/api/empty/", requests=0, rps=0.0))
    result = judge("/api/empty/:p95<200ms", results)
    assert (result.passed, result.actual) == (False, None)
    assert result.detail == "no requests to judge p95 on GET /api/empty/"
    # A floor on rps still has a real value (zero) to fail on.
    assert judge("/api/empty/:rps>1", results).actual == 0.0


def test_every_slo_gets_a_result_in_order(results):
    slos = [parse_slo("p95<200ms"), parse_slo("/api/typo/:p95<1s"), parse_slo("p99.9<100")]
    verdicts = evaluate(slos, results["totals"], results["endpoints"])
    assert [v.slo for v in verdicts] == slos
    assert [v.passed for v in verdicts] == [True, False, True]
    assert verdicts[2].actual == 90.0
    assert verdicts[1].as_record().passed is False
    assert verdicts[1].as_record().expression == "/api/typo/:p95<1s"


def test_slo_is_hashable_and_immutable():
    slo = parse_slo("p95<200ms")
    assert slo == SLO("p95<200ms", None, "p95", "<", 200.0)
    with pytest.raises(AttributeError):
        slo.threshold = 1.0  # type: ignore[misc]


def test_formatting():
    assert format_value("p95", 183.25) == "183.2 ms"
    assert format_value("error_rate", 0.004) == "0.40%"
    assert format_value("rps", 20.54) == "20.5 req/s"
    assert format_value("requests", 1234.0) == "1234"
    assert format_threshold("p99", 1500.0) == "1500 ms"
    assert format_threshold("error_rate", 0.001) == "0.1%"
