"""Who may read recordings: active staff users by default, or ``PERFLAB['PERMISSION']``."""

from __future__ import annotations

from django.http import HttpRequest


def authenticated_user(request: HttpRequest):
    """The session user, or, for token-only APIs, the user DRF's authenticators find."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user
    try:
        from rest_framework.request import Request
        from rest_framework.settings import api_settings
    except ImportError:
        return user
    drf_request = Request(
        request, authenticators=[cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES]
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
