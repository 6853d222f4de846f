"""The dashboard's links, built in one place so each page carries the period on."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from perflab.dashboard.period import Period


def route_url(period: Period, method: str, route: str) -> str:
    return f"{reverse('perflab:dashboard-route')}?{period.query(method=method, route=route)}"


def request_url(row_id: int) -> str:
    return reverse("perflab:dashboard-request", args=[row_id])


def statement_url(period: Period, fingerprint_hash: str) -> str:
    url = reverse("perflab:dashboard-statement", args=[fingerprint_hash])
    return f"{url}?{period.query()}"


def sql_url(period: Period, route: str | None = None) -> str:
    return f"{reverse('perflab:dashboard-sql')}?{period.query(route=route)}"


def overview_url(**params: str) -> str:
    return (
        f"{reverse('perflab:dashboard')}?{urlencode(params)}"
        if params
        else reverse("perflab:dashboard")
    )
