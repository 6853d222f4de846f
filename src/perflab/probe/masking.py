"""Secrets never reach the store: headers, query strings, bodies and SQL parameters are
masked here, before a record is queued.

A name is secret when it holds one of the sensitive words, compared after the name is cut
into lowercase tokens (at ``-``, ``_``, spaces, dots and any other punctuation, at camelCase
boundaries and between letters and digits): ``api-key``, ``api key``, ``api_key``, ``apiKey``
and ``API_KEY`` are one name. Long words (five letters or more: ``password``, ``token``,
``signature``) match anywhere in the joined tokens, so ``access_token`` and ``oldpassword``
are secret. Short words (``key``, ``pwd``, ``auth``, ``jwt``, ``code``, ``pass``, ``csrf``)
match only whole tokens: as substrings they would mask ``monkey``, ``author``, ``barcode``
and ``passenger``. SQL statements are judged by their identifiers, a short word only as a
whole identifier (a column ``key``), else every statement on ``auth_user`` would be masked.
URLs (``Referer``, ``Origin``, a query value holding one) lose their userinfo and the values
of their secret query and fragment parameters.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

MASK = "********"
SHORT_WORD = 4  # letters: a word this short matches whole tokens only
NESTED_LEVELS = 3  # URLs in query values in query values…: masked this deep
# Headers worth keeping to explain a request; everything else is left out.
KEPT_HEADERS = (
    "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING", "HTTP_CONTENT_TYPE", "CONTENT_TYPE",
    "CONTENT_LENGTH", "HTTP_HOST", "HTTP_REFERER", "HTTP_ORIGIN", "HTTP_X_FORWARDED_FOR",
    "HTTP_AUTHORIZATION", "HTTP_COOKIE", "HTTP_X_REQUEST_ID", "HTTP_X_PERFLAB_PROFILE",
    "HTTP_X_API_KEY",
)  # fmt: skip
ALWAYS_SECRET_HEADERS = {"authorization", "cookie", "proxy-authorization", "x-api-key"}
# Request headers whose value is a URL: its userinfo and secret query values are masked.
# (Location is a response header; the probe records none.)
URL_HEADERS = {"referer", "origin"}
_PLAIN, _SECRET, _URL = 0, 1, 2

# ASCII capitals run ("API" of "APIKey"), a word with one leading capital, digits; other
# letters (ä, é) count as lowercase. Whatever matches none of these separates tokens.
_TOKEN = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[^\W\dA-Z_]+|\d+")
_IDENTIFIER = re.compile(r"\w+")
_PAIR_SEPARATOR = re.compile(r"([&;])")


def name_tokens(name: str) -> tuple[str, ...]:
    """``"X-Amz-Credential"`` → ``("x", "amz", "credential")``; ``"apiKey"`` → ``("api", "key")``:
    the units a short sensitive word must equal."""
    return tuple(token.lower() for token in _TOKEN.findall(name))


@lru_cache(maxsize=8)
def _words(sensitive_names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """(long words joined, short words as token tuples), once per setting."""
    long: list[str] = []
    short: list[tuple[str, ...]] = []
    for word in sensitive_names:
        tokens = name_tokens(word)
        joined = "".join(tokens)
        if len(joined) > SHORT_WORD:
            long.append(joined)
        elif joined:  # "" or "-" would match every name
            short.append(tokens)
    return tuple(long), tuple(short)


def is_sensitive(name: str, sensitive_names: tuple[str, ...]) -> bool:
    """Whether a header, field or parameter name is secret by the rule above (cached)."""
    return sensitivity(sensitive_names)(name)


@lru_cache(maxsize=8)
def sensitivity(sensitive_names: tuple[str, ...]) -> Callable[[str], bool]:
    """The decision for one setting, cached per name: names repeat (headers, fields,
    parameters), and the setting's tuple is hashed once per call site, not once per name."""
    long, short = _words(sensitive_names)

    @lru_cache(maxsize=4096)
    def decide(name: str) -> bool:
        tokens = name_tokens(name)
        joined = "".join(tokens)
        if any(word in joined for word in long):
            return True
        return any(_has_run(tokens, word) for word in short)

    return decide


def _has_run(tokens: tuple[str, ...], word: tuple[str, ...]) -> bool:
    """Whether ``word``'s tokens appear in ``tokens``, consecutive (``("x", "pw")`` in x-pw-id)."""
    if len(word) == 1:
        return word[0] in tokens
    size = len(word)
    return any(tokens[i : i + size] == word for i in range(len(tokens) - size + 1))


@lru_cache(maxsize=4096)
def statement_is_sensitive(sql: str, sensitive_names: tuple[str, ...]) -> bool:
    """Whether a statement touches a secret column, judged by its identifiers: long words
    anywhere in one (``password``, ``api_key`` in ``user_api_key``), short words only as a
    whole identifier (``"key"``), never as part of a table name like ``auth_user``."""
    long, short = _words(sensitive_names)
    shorts = {"".join(word) for word in short}
    for identifier in _IDENTIFIER.findall(sql.lower()):
        joined = identifier.replace("_", "")
        if joined in shorts or any(word in joined for word in long):
            return True
    return False


def mask_headers(meta: dict[str, Any], sensitive_names: tuple[str, ...]) -> dict[str, str]:
    headers = {}
    plan = _header_plan(sensitive_names)
    for key in sorted(plan.keys() & meta.keys()):  # a request sends a few of them
        name, kind = plan[key]
        value = str(meta[key])
        if kind == _SECRET:
            if name == "authorization" and " " in value:
                value = value.split(" ", 1)[0] + " " + MASK  # keep the scheme: "Bearer ****"
            else:
                value = MASK
        elif kind == _URL:
            value = mask_url(value, sensitive_names)
        headers[name] = value
    return headers


@lru_cache(maxsize=8)
def _header_plan(sensitive_names: tuple[str, ...]) -> dict[str, tuple[str, int]]:
    """META key -> (header name, kind), decided once per setting."""
    plan = {}
    for key in KEPT_HEADERS:
        name = key.removeprefix("HTTP_").replace("_", "-").lower()
        if name in ALWAYS_SECRET_HEADERS or is_sensitive(name, sensitive_names):
            plan[key] = name, _SECRET
        else:
            plan[key] = name, _URL if name in URL_HEADERS else _PLAIN
    return plan


def mask_query_string(query_string: str, sensitive_names: tuple[str, ...], _depth: int = 0) -> str:
    """The query string as sent, with the value of every secret name masked; pairs are
    separated by ``&`` or ``;`` (some servers split at both, so both are masked). A value
    that is itself a URL or query string (``next=/account/?token=…``, encoded or not) is
    masked the same way, a few levels deep."""
    if not query_string:
        return ""
    if ";" in query_string:
        parts = _PAIR_SEPARATOR.split(query_string)  # pair, separator, pair, …
        step = 2
    else:
        parts = query_string.split("&")
        step = 1
    decide = sensitivity(sensitive_names)
    masked = False
    for i in range(0, len(parts), step):
        name, equals, value = parts[i].partition("=")
        if not equals:
            continue
        if decide(unquote_plus(name) if "%" in name or "+" in name else name):
            parts[i] = f"{name}={MASK}"
            masked = True
        elif _depth < NESTED_LEVELS and ("=" in value or "%3D" in value or "%3d" in value):
            inner = _masked_nested(value, sensitive_names, _depth + 1)
            if inner is not None:
                parts[i] = f"{name}={inner}"
                masked = True
    if not masked:
        return query_string
    return "".join(parts) if step == 2 else "&".join(parts)


def _masked_nested(value: str, sensitive_names: tuple[str, ...], depth: int) -> str | None:
    """A value holding a URL or a query string, masked (re-encoded if it was encoded); None
    when it holds no secret."""
    encoded = "%" in value or "+" in value
    text = unquote_plus(value) if encoded else value
    if "?" in text or "#" in text:
        masked = mask_url(text, sensitive_names, depth)
    else:
        masked = mask_query_string(text, sensitive_names, depth)
    if masked == text:
        return None
    return quote(masked, safe="*") if encoded else masked


def mask_url(url: str, sensitive_names: tuple[str, ...], _depth: int = 0) -> str:
    """A URL (a Referer, a database URL) with its userinfo and secret query and fragment
    values masked; the rest as it was."""
    if "?" not in url and "#" not in url and "@" not in url:
        return url
    rest, hash_mark, fragment = url.partition("#")
    rest, question_mark, query = rest.partition("?")
    start = rest.find("//")
    if start != -1:
        start += 2
        end = rest.find("/", start)
        at = rest.rfind("@", start, len(rest) if end == -1 else end)
        if at != -1:  # https://user:password@host/ or https://token@host/
            rest = rest[:start] + MASK + rest[at:]
    query = mask_query_string(query, sensitive_names, _depth)
    fragment = mask_query_string(fragment, sensitive_names, _depth)  # #access_token=… (OAuth)
    return f"{rest}{question_mark}{query}{hash_mark}{fragment}"


def mask_path(path: str, url_kwargs: dict[str, Any], sensitive_names: tuple[str, ...]) -> str:
    """The path with the segments that a secret URL argument captured masked: Django's
    ``reset/<uidb64>/<token>/`` puts the reset token in the path itself."""
    decide = sensitivity(sensitive_names)
    secrets = {
        value for name, value in url_kwargs.items() if isinstance(value, str) and value
        and decide(name)
    }  # fmt: skip
    if not secrets:
        return path
    return "/".join(MASK if segment in secrets else segment for segment in path.split("/"))


def mask_data(data: Any, sensitive_names: tuple[str, ...]) -> Any:
    """JSON-like data with the values of sensitive keys replaced, at any depth."""
    if isinstance(data, dict):
        decide = sensitivity(sensitive_names)
        return {
            k: MASK if decide(str(k)) else mask_data(v, sensitive_names) for k, v in data.items()
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
    if statement_is_sensitive(fingerprint, sensitive_names):
        return [MASK] * len(values)
    return [_json_safe(v) for v in values]


def redact_url(url: str) -> str:
    """The URL with its password and the values of secret query parameters replaced (the
    probe's rule and words: libpq also takes ``?password=``), fit for messages and logs."""
    from perflab.probe.settings import DEFAULT_SENSITIVE_NAMES

    parts = urlsplit(url)
    if parts.password is not None:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        url = urlunsplit(parts._replace(netloc=netloc))
    head, question_mark, query = url.partition("?")
    return head + question_mark + mask_query_string(query, tuple(DEFAULT_SENSITIVE_NAMES))
