"""Which server route each client endpoint is: the one join the report and compare share.

A client endpoint is ``(method, name)`` from results.json; a server route is ``(method,
route)`` from the probe store's routes in the run's window. They meet in one of two ways:

- **by name**, when the runner grouped by route: the name is the route's (``/api/posts/<pk>/``,
  ``wagtail_serve[BlogPage]`` for a catch-all split by what it served, query keys after
  ``?``; ``route_named`` reads it back);
- **by request id** otherwise (a name the locustfile chose, or a URL when the probe did not
  publish its routes): the endpoint's sampled requests (``requests.csv``) are looked up in
  the store, and the endpoint is that route when every one found was served by it.

An endpoint whose requests went to several routes is not joined: figures of one route beside
client figures of a mix would describe requests the endpoint did not only make, and compare
would gate a pull request on them. It stays unjoined with the reason, as does anything else
that cannot be matched.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from perflab.load.grouping import route_named

Key = tuple[str, str]  # (method, name) on the client side, (method, route) on the server side

JOIN_SAMPLE = 20  # sampled request ids per endpoint looked up to find its route

NAME = "name"
REQUEST_ID = "request id"


@dataclass
class RouteJoin:
    """Each client endpoint's server route, how it was found, or why there is none."""

    routes: dict[Key, Key] = field(default_factory=dict)  # (method, name) → (method, route)
    matched_by: dict[Key, str] = field(default_factory=dict)  # → NAME | REQUEST_ID
    unmatched: dict[Key, str] = field(default_factory=dict)  # → why

    def route_for(self, method: str, name: str) -> Key | None:
        return self.routes.get((method, name))


def sampled_ids(
    rows: Iterable[Mapping[str, Any]], limit: int = JOIN_SAMPLE
) -> dict[Key, list[str]]:
    """The first ``limit`` request ids per (method, name) of the run's join sample (rows of
    ``requests.csv`` as read by ``csv.DictReader`` or the report)."""
    ids: dict[Key, list[str]] = {}
    for row in rows:
        request_id = row.get("request_id")
        if not request_id:
            continue
        found = ids.setdefault((row.get("method") or "", row.get("name") or ""), [])
        if len(found) < limit:
            found.append(request_id)
    return ids


def join_routes(
    endpoints: Iterable[Key],
    routes: Collection[Key],
    sample: Mapping[Key, list[str]],
    route_of_request: Callable[[str], Key | None],
) -> RouteJoin:
    """Join ``endpoints`` to ``routes`` (the store's, in the run's window): by name, else by
    the routes ``route_of_request`` gives for the endpoint's ``sample`` ids (None: unknown id).
    The totals row (no method) is no route and is left out."""
    join = RouteJoin()
    for key in endpoints:
        method, name = key
        if not method:
            continue
        if (method, route_named(name)) in routes:
            join.routes[key] = (method, route_named(name))
            join.matched_by[key] = NAME
            continue
        ids = sample.get(key, [])[:JOIN_SAMPLE]
        served = {route for route in map(route_of_request, ids) if route is not None and route[1]}
        if len(served) > 1:
            listed = ", ".join(" ".join(route) for route in sorted(served))
            join.unmatched[key] = f"its requests went to several routes ({listed})"
        elif served:
            (route,) = served
            if route in routes:
                join.routes[key] = route
                join.matched_by[key] = REQUEST_ID
            else:
                join.unmatched[key] = f"its route {' '.join(route)} has no figures in the run"
        elif ids:
            join.unmatched[key] = "its request ids are not in the store"
        else:
            join.unmatched[key] = (
                "no route of that name in the run's minutes, no sampled request ids"
            )
    return join
