"""The probe's settings: ``PERFLAB = {...}`` in Django settings, validated once at startup.

Every key is optional; unknown keys and wrong types fail Django's startup with one
clear ``ImproperlyConfigured`` line rather than misbehaving under load.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from perflab.mount import URL_PREFIX

DEFAULT_IGNORE_PATHS = [r"^/static/", r"^/media/", f"^/{re.escape(URL_PREFIX)}", r"^/favicon\.ico$"]
# Matched after separators and case are normalised (api_key = api-key = apiKey); words of
# five letters or more anywhere in a name, shorter ones as whole tokens (perflab.probe.masking).
# credential and signature cover AWS's X-Amz-Credential and X-Amz-Signature.
DEFAULT_SENSITIVE_NAMES = [
    "password", "passwd", "secret", "token", "access", "refresh", "api_key", "private_key",
    "authorization", "cookie", "session", "credential", "signature",
    "csrf", "key", "pwd", "pass", "auth", "jwt", "code",
]  # fmt: skip


@dataclass(frozen=True)
class ProbeSettings:
    ENABLED: bool = True
    SAMPLE_PERCENT: float = 100.0  # share of requests recorded
    INTERCEPT: Callable | None = None  # request -> bool; False skips recording
    # (request, response) -> str | None: what a route served, named "route[str]"
    ROUTE_NAME: Callable | None = None
    IGNORE_PATHS: tuple[re.Pattern, ...] = ()
    CAPTURE_BODY: bool = False
    MAX_BODY_BYTES: int = 4096
    SENSITIVE_NAMES: tuple[str, ...] = tuple(DEFAULT_SENSITIVE_NAMES)
    # SQL and N+1
    NPLUSONE_THRESHOLD: int = 5  # same shape from the same call site, this many times
    CALLSITE_EXCLUDE: tuple[str, ...] = ()  # extra path fragments that are not "the app"
    STACK_FOR_FINGERPRINTS: tuple[str, ...] = ()  # fingerprint hashes to keep full stacks for
    MAX_QUERIES_PER_REQUEST: int = 1000  # the rest are counted, not kept
    # Profiling (pyinstrument)
    PROFILE_PERCENT: float = 0.0
    PROFILE_PATHS: tuple[re.Pattern, ...] = ()
    PROFILE_HEADER: bool = True  # X-Perflab-Profile: 1 from a staff user
    PROFILE_SLOW_MS: float | None = None  # a route slower than this…
    PROFILE_SLOW_NEXT: int = 5  # …profiles its next N requests
    PROFILE_INTERVAL_S: float = 0.001
    PROFILER: str = "sampler"  # "sampler" (signal-driven, cheap) or "pyinstrument"
    # Headers and logging
    SERVER_TIMING: bool = True
    SLOW_REQUEST_MS: float = 1000.0
    # Store and writer
    STORE: dict[str, Any] = field(default_factory=dict)  # {"PATH": file} or {"ALIAS": alias}
    QUEUE_SIZE: int = 2000  # records; bounds the probe's memory when the store falls behind
    BATCH_SIZE: int = 500
    FLUSH_INTERVAL_S: float = 0.5
    MAX_REQUESTS: int = 100_000  # retention: rows kept
    MAX_AGE_S: float = 7 * 86400.0
    RETENTION_INTERVAL_S: float = 30.0  # how often the writer applies retention
    # API
    PERMISSION: Callable | None = None  # request -> bool; default: active staff user
    EXPOSE_ROUTES: bool = True  # /perf/api/urlpatterns/ open to all (patterns only, no data)
    EXPLAIN_ID_MAX_AGE_S: float = 3600.0  # how long an explain_id the API signed is accepted

    @cached_property
    def ignored_path(self) -> Callable[[str], object]:
        """IGNORE_PATHS as one ``search``, built once (it runs on every request)."""
        return any_pattern(self.IGNORE_PATHS)

    @cached_property
    def profiled_path(self) -> Callable[[str], object]:
        """PROFILE_PATHS as one ``search``, built once."""
        return any_pattern(self.PROFILE_PATHS)

    @property
    def store_path(self) -> Path | None:
        return Path(self.STORE["PATH"]) if "PATH" in self.STORE else None


_TYPES: dict[str, tuple[type, ...]] = {
    "ENABLED": (bool,), "SAMPLE_PERCENT": (int, float), "CAPTURE_BODY": (bool,),
    "MAX_BODY_BYTES": (int,), "NPLUSONE_THRESHOLD": (int,), "MAX_QUERIES_PER_REQUEST": (int,),
    "PROFILE_PERCENT": (int, float), "PROFILE_HEADER": (bool,), "PROFILE_SLOW_MS": (int, float),
    "PROFILE_SLOW_NEXT": (int,), "PROFILE_INTERVAL_S": (int, float), "SERVER_TIMING": (bool,),
    "SLOW_REQUEST_MS": (int, float), "STORE": (dict,), "QUEUE_SIZE": (int,),
    "BATCH_SIZE": (int,), "FLUSH_INTERVAL_S": (int, float), "MAX_REQUESTS": (int,),
    "MAX_AGE_S": (int, float), "RETENTION_INTERVAL_S": (int, float), "EXPOSE_ROUTES": (bool,),
    "EXPLAIN_ID_MAX_AGE_S": (int, float),
}  # fmt: skip
_LISTS = {"IGNORE_PATHS", "PROFILE_PATHS", "SENSITIVE_NAMES", "CALLSITE_EXCLUDE",
          "STACK_FOR_FINGERPRINTS"}  # fmt: skip
_CALLABLES = {"INTERCEPT", "PERMISSION", "ROUTE_NAME"}


def _fail(key: str, message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"PERFLAB[{key!r}] {message}")


def parse_settings(raw: dict[str, Any] | None, default_store: Path) -> ProbeSettings:
    raw = dict(raw or {})
    known = {f.name for f in fields(ProbeSettings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ImproperlyConfigured(
            f"PERFLAB has unknown keys {unknown}; known keys: {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _TYPES:
            if value is None and key == "PROFILE_SLOW_MS":
                values[key] = None
                continue
            allowed = _TYPES[key]
            if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
                names = " or ".join(t.__name__ for t in allowed)
                raise _fail(key, f"must be {names}, got {value!r}")
            values[key] = value
        elif key in _LISTS:
            if isinstance(value, str) or not isinstance(value, list | tuple):
                raise _fail(key, f"must be a list of strings, got {value!r}")
            values[key] = tuple(value)
        elif key in _CALLABLES:
            values[key] = _callable(key, value)
    if raw.get("PROFILER", "sampler") not in ("sampler", "pyinstrument"):
        raise _fail("PROFILER", f"must be 'sampler' or 'pyinstrument', got {raw['PROFILER']!r}")
    if "PROFILER" in raw:
        values["PROFILER"] = raw["PROFILER"]
    for key in ("SAMPLE_PERCENT", "PROFILE_PERCENT"):
        if not 0 <= values.get(key, 0) <= 100:
            raise _fail(key, f"must be between 0 and 100, got {values[key]!r}")
    for key in ("NPLUSONE_THRESHOLD", "QUEUE_SIZE", "BATCH_SIZE", "MAX_REQUESTS"):
        if values.get(key, 1) < 1:
            raise _fail(key, f"must be at least 1, got {values[key]!r}")
    max_age = values.get("EXPLAIN_ID_MAX_AGE_S", 1)
    if not 0 < max_age < float("inf"):
        raise _fail("EXPLAIN_ID_MAX_AGE_S", f"must be a number of seconds above 0, got {max_age!r}")
    ignore = raw.get("IGNORE_PATHS", DEFAULT_IGNORE_PATHS)
    values["IGNORE_PATHS"] = _patterns("IGNORE_PATHS", ignore)
    values["PROFILE_PATHS"] = _patterns("PROFILE_PATHS", values.get("PROFILE_PATHS", ()))
    values["SENSITIVE_NAMES"] = tuple(
        n.lower() for n in values.get("SENSITIVE_NAMES", DEFAULT_SENSITIVE_NAMES)
    )
    store = dict(values.get("STORE") or {"PATH": str(default_store)})
    if set(store) - {"PATH", "ALIAS"} or len(store) != 1:
        raise _fail(
            "STORE", f"must be {{'PATH': file}} or {{'ALIAS': database alias}}, got {store!r}"
        )
    values["STORE"] = store
    return ProbeSettings(**values)


def any_pattern(patterns: tuple[re.Pattern, ...]) -> Callable[[str], object]:
    """``search`` of one regex joining ``patterns`` (``ProbeSettings.ignored_path``,
    ``profiled_path``): a request pays one search, not a generator and one per pattern."""
    if not patterns:
        return _no_match
    if any(p.flags != re.UNICODE or p.groups for p in patterns):  # cannot be joined as is
        return lambda text: any(p.search(text) for p in patterns)
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns)).search


def _no_match(text: str) -> None:
    return None


def _patterns(key: str, patterns) -> tuple[re.Pattern, ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except (re.error, TypeError) as exc:
            raise _fail(key, f"has an invalid pattern {pattern!r}: {exc}") from None
    return tuple(compiled)


def _callable(key: str, value: Any) -> Callable | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise _fail(key, f"cannot import {value!r}: {exc}") from None
    if not callable(value):
        raise _fail(key, f"must be a callable or its dotted path, got {value!r}")
    return value


def load_settings() -> ProbeSettings:
    from django.conf import settings

    from perflab.datadir import STORE_FILE, data_dir

    base = Path(getattr(settings, "DATA_DIR", None) or data_dir())
    return parse_settings(getattr(settings, "PERFLAB", None), base / STORE_FILE)
