"""How the dashboard's templates show figures: milliseconds, shares, counts, times."""

from __future__ import annotations

import time

from django import template

register = template.Library()


@register.filter
def ms(value: float | None) -> str:
    """A duration: three significant figures at most, "—" when unknown."""
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f} ms"
    if value >= 10:
        return f"{value:.1f} ms"
    return f"{value:.2f} ms"


@register.filter
def share(value: float | None) -> str:
    """A fraction (0..1) as a percentage, "—" when unknown."""
    if value is None:
        return "—"
    return f"{value * 100:.1f} %"


@register.filter
def count(value: int | float | None) -> str:
    """A count with thousands separated; a mean to one decimal."""
    if value is None:
        return "—"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


@register.filter
def rate(value: float | None) -> str:
    """Requests per second: three significant figures below 100 (a slow route's 0.000833
    is not 0.00)."""
    if value is None:
        return "—"
    if value == 0 or value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


@register.filter
def utc(value: float | None) -> str:
    """Unix seconds as a UTC date and time."""
    if value is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(value)) + " UTC"


@register.filter
def duration(seconds: float | None) -> str:
    """A length of time in s, min or h."""
    if seconds is None:
        return "—"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
