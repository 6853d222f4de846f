"""Durations as people type them, for --run-time, shapes and arrival ramps."""

import pytest

from perflab.errors import PerflabError
from perflab.load.durations import format_duration, parse_duration


def one_line_error(call, *args) -> str:
    with pytest.raises(PerflabError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1.5s", 1.5),
        ("0.25", 0.25),
        ("1m30.5s", 90.5),
        ("2.5m", 150.0),
        (".5s", 0.5),
        ("1h2m3s", 3723.0),
        (" 2m ", 120.0),
    ],
)
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5x", "-3s", "5 minutes", "1h1h"])
def test_parse_duration_rejects_nonsense_in_one_line(text):
    message = one_line_error(parse_duration, text)
    assert message.startswith(f'bad duration "{text}"')
    assert "1h30m" in message


def test_format_duration_round_trips():
    for seconds in (0.5, 12.0, 90.0, 3600.0, 5400.0, 3725.0):
        assert parse_duration(format_duration(seconds)) == seconds
