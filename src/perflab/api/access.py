"""Who may read recordings: active staff users by default, or ``PERFLAB['PERMISSION']``; and
which callers must prove, with a CSRF token, that they meant to POST.

A caller is either Django's ``request.user`` — a session cookie (or whatever the app's
middleware authenticates), which a browser sends on its own, even with a form another site
made — or a user DRF's authenticators find in a header the client had to set itself (a
bearer token). As DRF does (``SessionAuthentication`` enforces CSRF, token authentication
does not), only the first needs Django's CSRF check on an unsafe method; the check is
Django's own ``CsrfViewMiddleware`` (origin, referer and token), run on demand.
"""

from __future__ import annotations

import copy

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token


def session_user(request: HttpRequest):
    """Django's authenticated ``request.user`` (the session's), or None."""
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def authenticated_user(request: HttpRequest):
    """The session user, or, for token-only APIs, the user DRF's authenticators find."""
    user = session_user(request)
    if user is not None:
        return user
    try:
        from rest_framework.request import Request
        from rest_framework.settings import api_settings
    except ImportError:
        return getattr(request, "user", None)
    # DRF sets the user it finds on the request it wraps: a copy, so that request.user stays
    # the session's and csrf_refusal cannot take a token caller for a session.
    drf_request = Request(
        copy.copy(request),
        authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES],
    )
    try:
        return drf_request.user
    except Exception:  # an invalid or expired token reads as anonymous here
        return None


def is_staff(request: HttpRequest) -> bool:
    user = authenticated_user(request)
    return bool(user is not None and user.is_active and user.is_staff)


def may_read(request: HttpRequest, permission) -> bool:
    return bool((permission or is_staff)(request))


class _CsrfCheck(CsrfViewMiddleware):
    """Django's CSRF checks, answering the reason rather than a 403 page (DRF's CSRFCheck)."""

    def _reject(self, request: HttpRequest, reason: str) -> str:
        return reason


def _no_response(request: HttpRequest) -> None:
    return None


def csrf_refusal(request: HttpRequest) -> str | None:
    """Why Django's CSRF protection refuses this request from a session, or None (a safe
    method, a valid token from an allowed origin, or a caller who is not a session user).

    May read the body as form data for ``csrfmiddlewaretoken``, as Django's middleware does.
    """
    if session_user(request) is None:
        return None
    check = _CsrfCheck(_no_response)
    check.process_request(request)  # reads the CSRF cookie into request.META
    return check.process_view(request, None, (), {})


def with_csrf_cookie(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """``response`` carrying the CSRF cookie a session user needs to POST back to the API
    (what ``ensure_csrf_cookie`` does, for session callers only: a token client gets no
    cookie)."""
    if session_user(request) is None:
        return response
    check = _CsrfCheck(_no_response)
    check.process_request(request)
    get_token(request)
    return check.process_response(request, response)
