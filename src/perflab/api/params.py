"""The API's inputs, declared once per endpoint: what each parameter may be, and the one-line
message a client gets (with a 400) when it is not.

Everything a client sends is text, and each kind reads it strictly — ASCII digits, finite
numbers in a range, no control characters, a bounded length — so that nothing the store's
database would choke on (an integer past 64 bits, a NUL byte PostgreSQL refuses, NaN, a lone
surrogate) reaches it, and a bad value is named rather than turned into a 500 or a silent
default. An empty value means "not given" (what an HTML form sends for an empty field); a
parameter given twice is an error, not a silent pick. Names an endpoint does not declare are
left alone: a ``PERMISSION`` callable may read its own (``?key=…``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

MAX_SQL_INT = 2**63 - 1  # SQLite's INTEGER and PostgreSQL's BIGINT
_INTEGER = re.compile(r"[+-]?[0-9]{1,30}")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?")
_MAX_NUMBER_CHARS = 40
# Control characters (NUL included) and lone surrogates, which no route, method or id holds
# and which the store's database may refuse to bind.
_UNFIT_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SHOWN_CHARS = 40


class BadInput(Exception):
    """A client's input that is not valid: the message is the 400's ``error``."""


@dataclass(frozen=True, kw_only=True)
class Kind:
    """How one parameter is read; ``read`` raises ValueError naming what it expected."""

    default: Any = None
    required: bool = False

    def read(self, raw: str) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class Integer(Kind):
    minimum: int = 0
    maximum: int = MAX_SQL_INT

    def read(self, raw: str) -> int:
        expected = f"an integer from {self.minimum} to {self.maximum}"
        if not _INTEGER.fullmatch(raw):
            raise ValueError(expected)
        value = int(raw)
        if not self.minimum <= value <= self.maximum:
            raise ValueError(expected)
        return value


@dataclass(frozen=True)
class Number(Kind):
    minimum: float = 0.0
    maximum: float = 1e12

    def read(self, raw: str) -> float:
        expected = f"a number from {self.minimum:g} to {self.maximum:g}"
        if len(raw) > _MAX_NUMBER_CHARS or not _NUMBER.fullmatch(raw):
            raise ValueError(expected)
        value = float(raw)
        if not (math.isfinite(value) and self.minimum <= value <= self.maximum):
            raise ValueError(expected)
        return value


@dataclass(frozen=True)
class Text(Kind):
    max_length: int = 1000
    pattern: re.Pattern | None = None
    expected: str = ""  # what ``pattern`` accepts, in words

    def read(self, raw: str) -> str:
        expected = self.expected or (
            f"text of at most {self.max_length} characters, without control characters"
        )
        if len(raw) > self.max_length or _UNFIT_TEXT.search(raw):
            raise ValueError(expected)
        if self.pattern is not None and not self.pattern.fullmatch(raw):
            raise ValueError(expected)
        return raw


@dataclass(frozen=True)
class Choice(Kind):
    choices: tuple[str, ...] = ()

    def read(self, raw: str) -> str:
        if raw not in self.choices:
            raise ValueError("one of " + ", ".join(self.choices))
        return raw


class Parameters:
    """One endpoint's parameters by name: ``Parameters(limit=Integer(1, 1000, default=50))``."""

    def __init__(self, **kinds: Kind) -> None:
        self.kinds = kinds

    def from_query(self, query: QueryDict) -> dict[str, Any]:
        """The query string's values, each read by its kind."""
        values = {}
        for name, kind in self.kinds.items():
            given = query.getlist(name)
            if len(given) > 1:
                raise BadInput(f"{name} is given {len(given)} times; give it once")
            values[name] = _read(name, kind, given[0] if given else "")
        return values

    def from_path(self, captured: Mapping[str, Any]) -> dict[str, Any]:
        """What the URL pattern captured (``<int:row_id>`` is already an int, of any size)."""
        return {name: _read(name, kind, str(captured[name])) for name, kind in self.kinds.items()}

    def from_json(self, document: Any) -> dict[str, Any]:
        """A JSON body's fields: the body must be an object, each declared field a string."""
        if not isinstance(document, dict):
            names = ", ".join(f'"{name}": …' for name in self.kinds)
            raise BadInput(f"send a JSON object: {{{names}}}, not {_json_type(document)}")
        values = {}
        for name, kind in self.kinds.items():
            value = document.get(name)
            if value is not None and not isinstance(value, str):
                raise BadInput(f"{name} must be a string, not {_json_type(value)}")
            values[name] = _read(name, kind, value or "")
        return values


def _read(name: str, kind: Kind, raw: str) -> Any:
    if raw == "":
        if kind.required:
            raise BadInput(f"{name} is required")
        return kind.default
    try:
        return kind.read(raw)
    except ValueError as exc:
        raise BadInput(f"{name} must be {exc}, got {_shown(raw)}") from None


def _shown(raw: str) -> str:
    """The value as the message shows it: repr, cut short (a client may send megabytes)."""
    if len(raw) > _SHOWN_CHARS:
        return repr(raw[:_SHOWN_CHARS]) + f" (… {len(raw)} characters)"
    return repr(raw)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {dict: "an object", list: "an array", str: "a string"}.get(type(value), "a number")
