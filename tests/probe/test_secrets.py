"""No secrets in recordings: nothing sensitive reaches the store file, in any form."""

import re
import sqlite3
import zlib

import pytest
from django.test import Client

from perflab.probe.masking import MASK, mask_body, mask_headers, mask_query_string
from tests.demo.conftest import make_user
from tests.probe.conftest import flushed

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls")]

NAMES = ("password", "token", "secret", "authorization", "cookie", "access", "refresh")


def store_text(path) -> str:
    """Everything in the store file: columns as text, compressed documents inflated."""
    chunks = []
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f"SELECT * FROM {table}"):
                for value in row:
                    if isinstance(value, bytes):  # small documents are stored uncompressed
                        value = (value if value[:1] == b"{" else zlib.decompress(value)).decode()
                    chunks.append(str(value))
    return "\n".join(chunks)


def test_credentials_tokens_and_cookies_never_reach_the_store(make_probe, tmp_path):
    probe = make_probe(CAPTURE_BODY=True)
    make_user("alice", password="correct-horse-battery")
    client = Client()
    tokens = client.post(
        "/api/token/",
        {"username": "alice", "password": "correct-horse-battery"},
        content_type="application/json",
        HTTP_X_REQUEST_ID="login",
    ).json()
    client.cookies["sessionid"] = "cookie-secret-value"
    client.get(
        "/api/posts/?api_token=query-secret-value&page=1",
        HTTP_AUTHORIZATION=f"Bearer {tokens['access']}",
        HTTP_X_API_KEY="key-secret-value",
    )
    client.post(
        "/api/token/refresh/", {"refresh": tokens["refresh"]}, content_type="application/json"
    )
    store = flushed(probe)
    text = store_text(tmp_path / "probe.sqlite3")
    for secret in ("correct-horse-battery", tokens["access"], tokens["refresh"],
                   "cookie-secret-value", "query-secret-value", "key-secret-value"):  # fmt: skip
        assert secret not in text
    # The password hash is read by the login query: its parameters are masked too.
    assert not re.search(r"md5\$|pbkdf2_sha256\$", text)
    assert "Bearer " + MASK in text  # the scheme is kept, the credential is not
    login_body = store.request(request_id="login")["body"]
    assert login_body == f'{{"username": "alice", "password": "{MASK}"}}'  # the rest is kept


def test_masking_helpers():
    names = NAMES
    assert mask_query_string("page=2&access_token=abc", names) == f"page=2&access_token={MASK}"
    headers = mask_headers(
        {"HTTP_AUTHORIZATION": "Token abc", "HTTP_COOKIE": "a=b", "HTTP_USER_AGENT": "locust"},
        names,
    )
    assert headers == {"authorization": f"Token {MASK}", "cookie": MASK, "user-agent": "locust"}
    body = mask_body(
        b'{"user": {"password": "p", "name": "n"}, "items": [{"token": "t"}]}',
        "application/json", names, 4096,
    )  # fmt: skip
    assert (
        body
        == f'{{"user": {{"password": "{MASK}", "name": "n"}}, "items": [{{"token": "{MASK}"}}]}}'
    )
    form = mask_body(b"password=p&x=1", "application/x-www-form-urlencoded", names, 100)
    assert form == f"password={MASK}&x=1"
