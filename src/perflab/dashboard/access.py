"""Who may see the dashboard, and what every page does around its view: the API's rule
(``PERFLAB["PERMISSION"]``, else an active staff user), Django's login redirect for anonymous
visitors, declared parameters read strictly, and one-line pages for what goes wrong.

Every URL of the dashboard, assets included, goes through ``dashboard_view``: nothing of a
recording reaches a visitor the API would refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent
from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError

from perflab.api.access import authenticated_user, may_read
from perflab.api.params import BadInput, Parameters
from perflab.dashboard.rendering import CACHE_CONTROL, CONTENT_SECURITY_POLICY, message_page
from perflab.probe.database import StoreUnavailable
from perflab.probe.probe import get_probe

NO_PARAMETERS = Parameters()
# What a request Django cannot read at all raises: a 400 page too, not a 500.
_UNREADABLE = (TooManyFieldsSent, RequestDataTooBig, MultiPartParserError, BadRequest)


def dashboard_view(query: Parameters = NO_PARAMETERS, path: Parameters = NO_PARAMETERS) -> Callable:
    """The access check, then the declared path and query parameters passed to the view by
    name (``view(request, probe, **values)``). Anonymous → login redirect; refused → 403;
    bad input → 400; ``Http404`` → 404; an unavailable store → 503; each a page of one line.
    Every response is ``Cache-Control: private, no-store``, with the dashboard's
    Content-Security-Policy unless the view set its own."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(request: HttpRequest, **captured) -> HttpResponse:
            response = _answer(view, request, captured)
            response["Cache-Control"] = CACHE_CONTROL
            response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            return response

        def _answer(view: Callable, request: HttpRequest, captured: dict) -> HttpResponse:
            probe = get_probe()
            if not may_read(request, probe.settings.PERMISSION):
                user = authenticated_user(request)
                if user is None or not user.is_authenticated:
                    return redirect_to_login(request.get_full_path(), probe.settings.LOGIN_URL)
                line = "The dashboard is for staff only."
                return message_page(request, 403, "Forbidden", line, bare=True)
            try:
                values = {**path.from_path(captured), **query.from_query(request.GET)}
                return view(request, probe, **values)
            except BadInput as exc:
                return message_page(request, 400, "Bad request", str(exc))
            except _UNREADABLE as exc:
                return message_page(request, 400, "Bad request", f"unreadable request: {exc}")
            except Http404 as exc:
                return message_page(request, 404, "Not found", str(exc) or "not found")
            except StoreUnavailable as exc:
                return message_page(request, 503, "Store unavailable", f"store unavailable: {exc}")

        return wrapper

    return decorate
