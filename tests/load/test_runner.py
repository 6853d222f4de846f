"""The load runner's own small rules (the runs themselves: tests/integration/test_run.py)."""

from requests.exceptions import HTTPError

from perflab.load.runner import _error_text
from perflab.probe.masking import MASK


def test_an_error_naming_a_url_keeps_none_of_its_secrets():
    error = HTTPError(
        "500 Server Error: Internal Server Error for url: "
        "http://ops:hunter2@127.0.0.1:8000/api/posts/?page=2&token=abc123"
    )
    assert _error_text(error) == (
        "HTTPError: 500 Server Error: Internal Server Error for url: "
        f"http://ops:***@127.0.0.1:8000/api/posts/?page=2&token={MASK}"
    )


def test_an_error_is_one_line_of_at_most_300_characters():
    text = _error_text(RuntimeError("x" * 1000 + "\nsecond line"))
    assert text.startswith("RuntimeError: x") and len(text) == 300 and "\n" not in text
