"""Records to JSON and back, checked against their declarations (results.json's machinery)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import pytest

from perflab.load.json_records import InvalidRecord, from_json, to_json


def _positive(value: float) -> str | None:
    return "is not positive" if value <= 0 else None


@dataclass(kw_only=True)
class Point:
    x: float
    y: float = 0.0


@dataclass(kw_only=True)
class Shape:
    name: str
    kind: Literal["line", "area"] = "line"
    points: list[Point] = field(default_factory=list)
    span: tuple[float, float] | None = None
    tags: dict[str, int] = field(default_factory=dict)
    scale: Annotated[float, _positive] = 1.0
    note: str | int | None = None
    extra: Any = None


def test_a_record_round_trips_with_its_field_names_as_keys_in_order():
    shape = Shape(name="s", kind="area", points=[Point(x=1, y=2.5)], span=(0.0, 9.0),
                  tags={"a": 1}, scale=2.0, note=3, extra={"free": [1]})  # fmt: skip
    data = to_json(shape)
    assert list(data) == ["name", "kind", "points", "span", "tags", "scale", "note", "extra"]
    assert data["points"] == [{"x": 1, "y": 2.5}] and data["span"] == [0.0, 9.0]
    assert from_json(Shape, data) == shape


def test_fields_with_defaults_may_be_absent_and_unknown_keys_are_ignored():
    assert from_json(Shape, {"name": "s", "later": True}) == Shape(name="s")


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "the top level is a list, not an object"),
        ({}, "name is missing"),
        ({"name": None}, "name is null, not a string"),
        ({"name": "s", "kind": "dot"}, 'kind is "dot", not one of line, area'),
        ({"name": "s", "points": [{"y": 1}]}, "points[0].x is missing"),
        ({"name": "s", "points": [{"x": True}]}, "points[0].x is true, not a number"),
        ({"name": "s", "span": [1.0]}, "span is a list, not a list of 2"),
        ({"name": "s", "tags": {"a": 1.5}}, "tags.a is 1.5, not a whole number"),
        ({"name": "s", "scale": -1}, "scale is not positive"),
        ({"name": "s", "note": [1]}, "note is a list, not a string or a whole number"),
    ],
)
def test_the_first_problem_is_named_with_where_it_is(data, problem):
    with pytest.raises(InvalidRecord) as caught:
        from_json(Shape, data)
    assert str(caught.value) == problem
