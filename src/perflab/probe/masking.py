"""Secrets never reach the store: headers, query strings, bodies and SQL parameters are
masked here, before a record is queued."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

MASK = "********"
# Headers worth keeping to explain a request; everything else is left out.
KEPT_HEADERS = (
    "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING", "HTTP_CONTENT_TYPE", "CONTENT_TYPE",
    "CONTENT_LENGTH", "HTTP_HOST", "HTTP_REFERER", "HTTP_X_FORWARDED_FOR", "HTTP_AUTHORIZATION",
    "HTTP_COOKIE", "HTTP_X_REQUEST_ID", "HTTP_X_PERFLAB_PROFILE", "HTTP_X_API_KEY",
)  # fmt: skip
ALWAYS_SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-api-key"}


@lru_cache(maxsize=4096)
def is_sensitive(name: str, sensitive_names: tuple[str, ...]) -> bool:
    """Names repeat (headers, fields, statement shapes): decided once per name."""
    lowered = name.lower()
    return any(word in lowered for word in sensitive_names)


def mask_headers(meta: dict[str, Any], sensitive_names: tuple[str, ...]) -> dict[str, str]:
    headers = {}
    plan = _header_plan(sensitive_names)
    for key in sorted(plan.keys() & meta.keys()):  # a request sends a few of them
        name, secret = plan[key]
        value = str(meta[key])
        if secret and name == "authorization" and " " in value:
            value = value.split(" ", 1)[0] + " " + MASK  # keep the scheme: "Bearer ****"
        elif secret:
            value = MASK
        headers[name] = value
    return headers


@lru_cache(maxsize=8)
def _header_plan(sensitive_names: tuple[str, ...]) -> dict[str, tuple[str, bool]]:
    """META key -> (header name, secret), decided once per setting."""
    plan = {}
    for key in KEPT_HEADERS:
        name = key.removeprefix("HTTP_").replace("_", "-").lower()
        plan[key] = name, name in ALWAYS_SECRET_HEADERS or is_sensitive(name, sensitive_names)
    return plan


def mask_query_string(query_string: str, sensitive_names: tuple[str, ...]) -> str:
    if not query_string:
        return ""
    pairs = parse_qsl(query_string, keep_blank_values=True)
    masked = [(k, MASK if is_sensitive(k, sensitive_names) else v) for k, v in pairs]
    return urlencode(masked, safe="*")


def mask_data(data: Any, sensitive_names: tuple[str, ...]) -> Any:
    """JSON-like data with the values of sensitive keys replaced, at any depth."""
    if isinstance(data, dict):
        return {
            k: MASK if is_sensitive(str(k), sensitive_names) else mask_data(v, sensitive_names)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [mask_data(item, sensitive_names) for item in data]
    return data


def mask_body(body: bytes, content_type: str, sensitive_names: tuple[str, ...], limit: int) -> str:
    """The body as text for the record: JSON and form fields masked, anything else elided."""
    if "json" in content_type:
        try:
            return json.dumps(mask_data(json.loads(body), sensitive_names))[:limit]
        except ValueError:
            return f"<{len(body)} bytes of invalid JSON>"
    if "x-www-form-urlencoded" in content_type:
        return mask_query_string(body.decode("latin-1"), sensitive_names)[:limit]
    return f"<{len(body)} bytes of {content_type or 'unknown type'}>"


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | memoryview):
        return f"<{len(value)} bytes>"
    return str(value)


def mask_params(fingerprint: str, params: Any, sensitive_names: tuple[str, ...]) -> list[Any]:
    """A SELECT's parameters, JSON-safe; all masked when the statement touches a secret
    column (a password hash, a token) since which parameter is which is not known."""
    values = list(params.values()) if isinstance(params, dict) else list(params)
    if is_sensitive(fingerprint, sensitive_names):
        return [MASK] * len(values)
    return [_json_safe(v) for v in values]
