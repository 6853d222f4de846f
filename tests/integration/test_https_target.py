"""An HTTPS target for real: gunicorn serving a site with the probe over TLS on 127.0.0.1
(a self-signed certificate made here, naming localhost, 127.0.0.1 and this machine's name),
load-tested by a `perflab run` subprocess. The certificate is trusted through
REQUESTS_CA_BUNDLE by perflab's own request and by the locustfile's HttpUser, which takes it
as a Locust user takes a private CA (``self.client.verify``: Locust's HttpUser reads no
environment variable). Without it Locust's requests fail as Locust fails them, and perflab
says in one line why it cannot group by route. Nothing leaves the machine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from perflab.load.grouping import fetch_app_description
from perflab.load.target import check_target, is_this_machine, resolve_target
from tests.integration.conftest import catch_all_site, run_perflab
from tests.load.test_grouping import self_signed_certificate
from tests.load.test_target import hostname_in_hosts_file

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
REPO = HERE.parents[1]
PAGES = ["/docs/intro/", "/articles/1/"]
LOCUSTFILE = f"""
import os, random

from locust import HttpUser, constant, task


class PageUser(HttpUser):
    wait_time = constant(0.01)

    def on_start(self):
        self.client.verify = os.environ.get("REQUESTS_CA_BUNDLE", True)

    @task
    def read(self):
        self.client.get(random.choice({PAGES!r}))
"""
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture(scope="module")
def tls_site(tmp_path_factory):
    """tests/integration/catch_all_urls.py under gunicorn with TLS; its certificate."""
    directory = tmp_path_factory.mktemp("tls")
    own_name = hostname_in_hosts_file()
    names = ["localhost", "127.0.0.1", *([own_name] if own_name else [])]
    certificate, key = self_signed_certificate(directory, *names)
    server = catch_all_site(
        directory, tls=(certificate, key), PERFLAB_ALLOWED_HOSTS=",".join(names)
    )
    with server:
        yield server, certificate


def perflab_run(host: str, out: Path, ca_bundle: Path | None):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", *CA_VARIABLES)}
    if ca_bundle is not None:
        env["REQUESTS_CA_BUNDLE"] = str(ca_bundle)
    locustfile = out.parent / "tls_locustfile.py"
    locustfile.write_text(LOCUSTFILE)
    return run_perflab(
        "run", "--headless", "-f", str(locustfile), "-H", host, "-u", "2", "-r", "2",
        "-t", "3s", "--quiet", "--out", str(out), env=env, timeout=120,
    )  # fmt: skip


def test_an_https_target_with_its_ca_trusted_is_measured_and_grouped_by_route(tls_site, tmp_path):
    server, certificate = tls_site
    host = f"https://localhost:{server.port}"
    result = perflab_run(host, tmp_path / "run", certificate)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["environment"]["target"] == host
    assert results["totals"]["requests"] > 10
    assert results["totals"]["failures"] == 0, results["endpoints"]
    assert (results["grouping"], results["grouping_reason"]) == ("routes", None)
    # Split by the probe's X-Perflab-Route header, read over TLS.
    assert {e["name"] for e in results["endpoints"]} == {"page[doc]", "page[article]"}
    # A local target over HTTPS is still this machine's: its server is watched.
    assert results["monitor"]["server_pid"] == server.pid, results["monitor"]


def test_an_untrusted_certificate_fails_locusts_requests_and_says_why_in_one_line(
    tls_site, tmp_path
):
    server, _ = tls_site
    host = f"https://localhost:{server.port}"
    result = perflab_run(host, tmp_path / "run", ca_bundle=None)  # certifi's store only
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert result.returncode == 1, output  # Locust's --exit-code-on-error for failed requests
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["environment"]["target"] == host
    reason = results["grouping_reason"]
    assert reason.startswith("TLS certificate of localhost not trusted: self-signed certificate")
    assert "\n" not in reason
    said = [line for line in result.stdout.splitlines() if "not trusted" in line]
    assert len(said) == 1 and said[0].startswith("no route grouping: TLS certificate of"), output
    # Locust's own requests failed as Locust fails them (never sent unverified).
    totals = results["totals"]
    assert totals["requests"] > 0 and totals["failures"] == totals["requests"]
    assert {e["name"] for e in results["endpoints"]} <= set(PAGES)
    messages = [error["message"] for e in results["endpoints"] for error in e["errors"]]
    assert messages and all("CERTIFICATE_VERIFY_FAILED" in m for m in messages), messages


def test_this_machines_own_name_is_an_accepted_target(tls_site, monkeypatch):
    server, certificate = tls_site
    name = hostname_in_hosts_file()
    if name is None:
        pytest.skip("this machine's hostname is not in /etc/hosts: resolving it could ask DNS")
    addresses = [address[0] for _, address in resolve_target(f"https://{name}").addresses]
    if set(addresses) != {"127.0.0.1"}:
        pytest.skip(f"{name} resolves to {addresses}, not the server's 127.0.0.1")
    assert is_this_machine(addresses)
    host = f"https://{name}:{server.port}"
    assert check_target(host) == host
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    description, why = fetch_app_description(host)
    assert why == "" and description["urlpatterns"]
