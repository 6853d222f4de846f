"""Dataclasses to JSON and back, checked against their own declarations.

A record's fields are declared once, as a dataclass: the JSON keys are its field names, a
field without a default must be in the JSON, one with a default may be absent (a field is
added without a schema change), and unknown keys are ignored. ``from_json`` checks each
value against the field's type (``str``, ``int``, ``float``, ``bool``, ``None``, unions,
``Literal``, ``list``, ``tuple``, ``dict[str, …]``, nested records, ``Any``) plus any check
attached with ``Annotated[T, check]`` (a function returning the problem, or None), and
raises ``InvalidRecord`` naming the first problem and where it is
(``endpoints[0].latency.p95 is "fast", not a number``).

Each type's reader is built once and kept: a day-long run's results.json has ~90,000
per-second rows, so reading one value is a closure call and a type test, and the path to a
value is only spelled out when the value is wrong.
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
Check = Callable[[Any], str | None]  # the problem with a value ("is …, not …"), or None
Reader = Callable[[Any], Any]


class InvalidRecord(Exception):
    """A value that does not fit its declaration: one line, naming where it is."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where or 'the top level'} {problem}")


class _Problem(Exception):
    """Raised inside the readers; the path is added on the way out, innermost first."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.path: list[str] = []


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
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {key: to_json(item) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [to_json(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


_PLAIN = frozenset((str, int, float, bool, type(None)))


def from_json(kind: type[R], data: Any) -> R:
    """``data`` read as ``kind`` (a record class or any supported type), checked throughout."""
    try:
        return _reader(kind)(data)
    except _Problem as problem:
        where = "".join(reversed(problem.path)).removeprefix(".")
        raise InvalidRecord(where, problem.problem) from None


@cache
def _reader(kind: Any) -> Reader:
    origin = typing.get_origin(kind)
    if origin is Annotated:
        return _annotated(*typing.get_args(kind))
    if kind is Any:
        return _as_is
    if dataclasses.is_dataclass(kind):
        return _record(kind)
    if origin in (Union, types.UnionType):
        return _union(typing.get_args(kind))
    if origin is Literal:
        return _literal(typing.get_args(kind))
    if origin is list:
        return _list(_reader(typing.get_args(kind)[0]))
    if origin is tuple:
        return _tuple(tuple(_reader(item) for item in typing.get_args(kind)))
    if origin is dict:
        return _dict(_reader(typing.get_args(kind)[1]))
    if kind in _SCALARS:
        return _scalar(*_SCALARS[kind])
    raise TypeError(f"{kind!r} cannot be read from JSON")


def _as_is(value: Any) -> Any:
    return value


def _annotated(inner: Any, *checks: Check) -> Reader:
    read = _reader(inner)

    def annotated(value: Any) -> Any:
        value = read(value)
        for check in checks:
            problem = check(value)
            if problem:
                raise _Problem(problem)
        return value

    return annotated


def _record(cls: type) -> Reader:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = [
        (f.name, _reader(hints[f.name]),
         f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(cls)
        if f.init
    ]  # fmt: skip

    def record(value: Any) -> Any:
        if type(value) is not dict:
            raise _Problem(f"is {shown(value)}, not an object")
        given = {}
        for name, read, required in fields:
            if name in value:
                try:
                    given[name] = read(value[name])
                except _Problem as problem:
                    problem.path.append(f".{name}")
                    raise
            elif required:
                problem = _Problem("is missing")
                problem.path.append(f".{name}")
                raise problem
        return cls(**given)

    return record


def _union(arms: tuple[Any, ...]) -> Reader:
    nullable = type(None) in arms
    readers = [_reader(arm) for arm in arms if arm is not type(None)]
    if len(readers) == 1:  # "X | None": the one type's own message
        (read,) = readers

        def optional(value: Any) -> Any:
            return None if value is None and nullable else read(value)

        return optional
    expected = " or ".join(_described(arm) for arm in arms if arm is not type(None))

    def union(value: Any) -> Any:
        if value is None and nullable:
            return None
        for read in readers:
            try:
                return read(value)
            except _Problem:
                continue
        raise _Problem(f"is {shown(value)}, not {expected}")

    return union


def _described(kind: Any) -> str:
    if kind in _SCALARS:
        return _SCALARS[kind][1]
    origin = typing.get_origin(kind)
    if origin is dict or dataclasses.is_dataclass(kind):
        return "an object"
    if origin in (list, tuple):
        return "a list"
    return str(kind)


def _literal(choices: tuple[Any, ...]) -> Reader:
    listed = ", ".join(map(str, choices))

    def literal(value: Any) -> Any:
        if isinstance(value, bool) or value not in choices:
            raise _Problem(f"is {shown(value)}, not one of {listed}")
        return value

    return literal


def _list(read: Reader) -> Reader:
    def items(value: Any) -> list:
        if type(value) is not list:
            raise _Problem(f"is {shown(value)}, not a list")
        out: list = []
        try:
            for element in value:
                out.append(read(element))
        except _Problem as problem:
            problem.path.append(f"[{len(out)}]")
            raise
        return out

    return items


def _tuple(readers: tuple[Reader, ...]) -> Reader:
    def fixed(value: Any) -> tuple:
        if type(value) is not list or len(value) != len(readers):
            raise _Problem(f"is {shown(value)}, not a list of {len(readers)}")
        out: list = []
        try:
            for read, element in zip(readers, value, strict=True):
                out.append(read(element))
        except _Problem as problem:
            problem.path.append(f"[{len(out)}]")
            raise
        return tuple(out)

    return fixed


def _dict(read: Reader) -> Reader:
    def mapping(value: Any) -> dict:
        if type(value) is not dict:
            raise _Problem(f"is {shown(value)}, not an object")
        out = {}
        key = None
        try:
            for key, element in value.items():
                out[key] = read(element)
        except _Problem as problem:
            problem.path.append(f".{key}")
            raise
        return out

    return mapping


def _scalar(types_: tuple[type, ...], expected: str) -> Reader:
    def scalar(value: Any) -> Any:
        if type(value) not in types_:  # exact: a bool is not a number here
            raise _Problem(f"is {shown(value)}, not {expected}")
        return value

    return scalar


_SCALARS: dict[Any, tuple[tuple[type, ...], str]] = {
    str: ((str,), "a string"),
    bool: ((bool,), "true or false"),
    int: ((int,), "a whole number"),
    float: ((float, int), "a number"),
    type(None): ((type(None),), "null"),
}
