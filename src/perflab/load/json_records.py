"""Dataclasses to JSON and back, checked against their own declarations.

A record's fields are declared once, as a dataclass: the JSON keys are its field names, a
field without a default must be in the JSON, one with a default may be absent (a field is
added without a schema change), and unknown keys are ignored. ``from_json`` checks each
value against the field's type (``str``, ``int``, ``float``, ``bool``, ``None``, unions,
``Literal``, ``list``, ``tuple``, ``dict[str, …]``, nested records, ``Any``) plus any check
attached with ``Annotated[T, check]``, and raises ``InvalidRecord`` naming the first
problem and where it is (``endpoints[0].latency.p95 is "fast", not a number``).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, Literal, TypeVar, Union

R = TypeVar("R")
Check = Callable[[Any, str], None]  # (value, where) -> None, or raises InvalidRecord


class InvalidRecord(Exception):
    """A value that does not fit its declaration: one line, naming where it is."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where or 'the top level'} {problem}")


def shown(value: Any) -> str:
    """A value as the file has it (null, true, "text"), short enough for one line."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def to_json(value: Any) -> Any:
    """A record (or a list, tuple or dict of them) as plain JSON data, fields in order."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    return value


def from_json(kind: type[R], data: Any, where: str = "") -> R:
    """``data`` read as ``kind`` (a record class or any supported type), checked throughout."""
    return _decode(kind, data, where)


@cache
def _fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, type, required) per field; types resolved once per class."""
    hints = typing.get_type_hints(cls, include_extras=True)
    return tuple(
        (f.name, hints[f.name],
         f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(cls)
        if f.init
    )  # fmt: skip


def _decode(kind: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if origin is Annotated:
        inner, *checks = typing.get_args(kind)
        decoded = _decode(inner, value, where)
        for check in checks:
            check(decoded, where)
        return decoded
    if kind is Any:
        return value
    if dataclasses.is_dataclass(kind):
        return _decode_record(kind, value, where)
    if origin in (Union, types.UnionType):
        return _decode_union(typing.get_args(kind), value, where)
    if origin is Literal:
        choices = typing.get_args(kind)
        if value not in choices or isinstance(value, bool):
            raise InvalidRecord(where, f"is {shown(value)}, not one of {', '.join(choices)}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise InvalidRecord(where, f"is {shown(value)}, not a list")
        (item,) = typing.get_args(kind)
        return [_decode(item, element, f"{where}[{i}]") for i, element in enumerate(value)]
    if origin is tuple:
        items = typing.get_args(kind)
        if not isinstance(value, list) or len(value) != len(items):
            raise InvalidRecord(where, f"is {shown(value)}, not a list of {len(items)}")
        pairs = enumerate(zip(items, value, strict=True))
        return tuple(_decode(item, element, f"{where}[{i}]") for i, (item, element) in pairs)
    if origin is dict:
        if not isinstance(value, dict):
            raise InvalidRecord(where, f"is {shown(value)}, not an object")
        _, item = typing.get_args(kind)
        prefix = f"{where}." if where else ""
        return {key: _decode(item, element, f"{prefix}{key}") for key, element in value.items()}
    expected = _SCALARS.get(kind)
    if expected is None:
        raise TypeError(f"{kind!r} cannot be read from JSON")
    description, accepts = expected
    if not accepts(value):
        raise InvalidRecord(where, f"is {shown(value)}, not {description}")
    return value


def _decode_record(cls: type, value: Any, where: str) -> Any:
    if not isinstance(value, dict):
        raise InvalidRecord(where, f"is {shown(value)}, not an object")
    prefix = f"{where}." if where else ""
    given = {}
    for name, kind, required in _fields(cls):
        if name in value:
            given[name] = _decode(kind, value[name], f"{prefix}{name}")
        elif required:
            raise InvalidRecord(f"{prefix}{name}", "is missing")
    return cls(**given)


def _decode_union(arms: tuple[Any, ...], value: Any, where: str) -> Any:
    if value is None and type(None) in arms:
        return None
    others = [arm for arm in arms if arm is not type(None)]
    first: InvalidRecord | None = None
    for arm in others:
        try:
            return _decode(arm, value, where)
        except InvalidRecord as exc:
            first = first or exc
    if len(others) == 1 and first is not None:
        raise first  # "X | None": the one type's own message
    raise InvalidRecord(where, f"is {shown(value)}, not {_described(others)}")


def _described(arms: list[Any]) -> str:
    names = []
    for arm in arms:
        if arm in _SCALARS:
            names.append(_SCALARS[arm][0])
        elif typing.get_origin(arm) is dict or dataclasses.is_dataclass(arm):
            names.append("an object")
        elif typing.get_origin(arm) in (list, tuple):
            names.append("a list")
        else:
            names.append(str(arm))
    return " or ".join(names)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_SCALARS: dict[Any, tuple[str, Callable[[Any], bool]]] = {
    str: ("a string", lambda v: isinstance(v, str)),
    bool: ("true or false", lambda v: isinstance(v, bool)),
    int: ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    float: ("a number", _is_number),
    type(None): ("null", lambda v: v is None),
}
