"""Documents encode with orjson, and with the standard library what orjson refuses."""

import json

import pytest

from perflab.probe.jsonbytes import to_json_bytes


def test_documents_read_back_as_standard_json():
    document = {"queries": [{"duration_ms": 0.157704998855, "params": [1, "a", None, True]}],
                "headers": {"host": "127.0.0.1"}, "body": "é ✓"}  # fmt: skip
    encoded = to_json_bytes(document)
    assert isinstance(encoded, bytes)
    assert b'": ' not in encoded and b", " not in encoded  # compact
    assert json.loads(encoded) == document


@pytest.mark.parametrize(
    "value",
    [{"id": 2**70}, {"text": "lone \ud800 surrogate"}, {1: "integer key"}],
    ids=["huge-int", "surrogate", "int-key"],
)
def test_what_orjson_refuses_is_encoded_by_the_standard_library(value):
    assert to_json_bytes(value) == json.dumps(value, separators=(",", ":")).encode()
