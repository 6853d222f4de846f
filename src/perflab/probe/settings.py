"""The probe's settings: ``PERFLAB = {...}`` in Django settings, validated once at startup.

Each setting is declared once, as a field of ``ProbeSettings``: its name, type, the
function that reads it (``parse``), its default (as a user would write it, read by the
same function) and its documentation. ``parse_settings`` and the README's table
(``settings_table``) are derived from those fields. Every key is optional; unknown keys
and wrong values fail Django's startup with one clear ``ImproperlyConfigured`` line rather
than misbehaving under load.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from perflab.datadir import STORE_FILE, data_dir
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
DEFAULT_RECORDERS = [
    "perflab.probe.recorders.sql.SqlRecorder",
    "perflab.probe.recorders.cache.CacheRecorder",
    "perflab.probe.recorders.templates.TemplateRecorder",
]

Parse = Callable[[str, Any], Any]  # (key, value as written) -> value as the probe uses it


@dataclass(frozen=True)
class Setting:
    """How one ``PERFLAB`` key is read, what it is when absent, and what it means."""

    default: Any  # as a user would write it; read by ``parse`` like a given value
    parse: Parse
    doc: str  # the README table's "meaning"
    shown: str | None = None  # the README table's "default", when the value does not say it


def setting(default: Any, parse: Parse, doc: str, shown: str | None = None) -> dict[str, Any]:
    """A ``ProbeSettings`` field's metadata: ``KEY: type = field(metadata=setting(...))``."""
    return {"setting": Setting(default, parse, doc, shown)}


def _fail(key: str, message: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(f"PERFLAB[{key!r}] {message}")


# -- how values are read: each takes (key, value) and returns the value or raises _fail ----


def _of_type(key: str, value: Any, *allowed: type) -> Any:
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        raise _fail(key, f"must be {' or '.join(t.__name__ for t in allowed)}, got {value!r}")
    return value


def boolean(key: str, value: Any) -> bool:
    return _of_type(key, value, bool)


def integer(minimum: int | None = None) -> Parse:
    def parse(key: str, value: Any) -> int:
        _of_type(key, value, int)
        if minimum is not None and value < minimum:
            raise _fail(key, f"must be at least {minimum}, got {value!r}")
        return value

    return parse


def number(key: str, value: Any) -> float:
    return _of_type(key, value, int, float)


def percent(key: str, value: Any) -> float:
    if not 0 <= number(key, value) <= 100:
        raise _fail(key, f"must be between 0 and 100, got {value!r}")
    return value


def positive_seconds(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise _fail(key, f"must be a number of seconds above 0, got {value!r}")
    return value


def optional(parse: Parse) -> Parse:
    def parse_optional(key: str, value: Any) -> Any:
        return None if value is None else parse(key, value)

    return parse_optional


def choice(*options: str) -> Parse:
    def parse(key: str, value: Any) -> str:
        if value not in options:
            listed = " or ".join(repr(option) for option in options)
            raise _fail(key, f"must be {listed}, got {value!r}")
        return value

    return parse


def text(key: str, value: Any) -> str:
    value = _of_type(key, value, str)
    if not value.strip():
        raise _fail(key, "must not be empty")
    return value


def strings(key: str, value: Any) -> tuple[str, ...]:
    if (
        isinstance(value, str)
        or not isinstance(value, list | tuple)
        or not all(isinstance(item, str) for item in value)
    ):
        raise _fail(key, f"must be a list of strings, got {value!r}")
    return tuple(value)


def lowercase_strings(key: str, value: Any) -> tuple[str, ...]:
    return tuple(name.lower() for name in strings(key, value))


def patterns(key: str, value: Any) -> tuple[re.Pattern, ...]:
    compiled = []
    for pattern in strings(key, value):
        try:
            compiled.append(re.compile(pattern))
        except (re.error, TypeError) as exc:
            raise _fail(key, f"has an invalid pattern {pattern!r}: {exc}") from None
    return tuple(compiled)


def dotted_callable(key: str, value: Any) -> Callable | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = _imported(key, value)
    if not callable(value):
        raise _fail(key, f"must be a callable or its dotted path, got {value!r}")
    return value


def recorder_paths(key: str, value: Any) -> tuple[str, ...]:
    """Dotted paths of ``Recorder`` subclasses, as Django lists middleware (and the debug
    toolbar its panels); the list given replaces the built-in one. ``Probe`` imports them
    (``perflab.probe.probe.recorder_classes``), as Django imports MIDDLEWARE's."""
    paths = strings(key, value)
    for index, path in enumerate(paths):
        if "." not in path:
            raise _fail(key, f"must list dotted paths of Recorder classes, got {path!r}")
        if path in paths[:index]:
            raise _fail(key, f"lists {path!r} twice")
    return paths


def store(key: str, value: Any) -> dict[str, Any] | None:
    """``{"PATH": file}`` or ``{"ALIAS": alias}``; None: ``parse_settings``'s default file."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"PATH", "ALIAS"} or len(value) != 1:
        raise _fail(key, f"must be {{'PATH': file}} or {{'ALIAS': database alias}}, got {value!r}")
    return dict(value)


def _imported(key: str, path: str) -> Any:
    try:
        return import_string(path)
    except ImportError as exc:
        raise _fail(key, f"cannot import {path!r}: {exc}") from None


# -- the settings ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeSettings:
    ENABLED: bool = field(metadata=setting(True, boolean, "record at all"))
    SAMPLE_PERCENT: float = field(metadata=setting(100, percent, "share of requests recorded"))
    INTERCEPT: Callable | None = field(metadata=setting(
        None, dotted_callable,
        "callable or dotted path `request -> bool`; False skips the request",
    ))  # fmt: skip
    ROUTE_NAME: Callable | None = field(metadata=setting(
        None, dotted_callable,
        "callable or dotted path `(request, response) -> str | None`: what the route served, "
        "the request named `route[str]` (`pages[article]`); None keeps the route's name (or "
        "Wagtail's page type); the string is up to 100 ASCII letters, digits, spaces or "
        "`. : / < > @ + - _`. An exception or another value is a probe internal error "
        "(counted in `/perf/api/status/`): the request is unaffected and keeps its route's "
        "name",
    ))  # fmt: skip
    IGNORE_PATHS: tuple[re.Pattern, ...] = field(
        metadata=setting(DEFAULT_IGNORE_PATHS, patterns, "regexes of paths never recorded")
    )
    CAPTURE_BODY: bool = field(metadata=setting(False, boolean, "keep request bodies (masked)"))
    MAX_BODY_BYTES: int = field(metadata=setting(4096, integer(0), "bytes of a body kept"))
    SENSITIVE_NAMES: tuple[str, ...] = field(metadata=setting(
        DEFAULT_SENSITIVE_NAMES, lowercase_strings,
        "words that mark a name as secret, matched as above; a list given replaces this one",
    ))  # fmt: skip
    RECORDERS: tuple[str, ...] = field(metadata=setting(
        DEFAULT_RECORDERS, recorder_paths,
        "dotted paths of the `perflab.probe.recorders.base.Recorder` subclasses that record "
        "(SQL, cache, templates); a list given replaces this one",
    ))  # fmt: skip
    # SQL and N+1
    NPLUSONE_THRESHOLD: int = field(
        metadata=setting(
            5, integer(1), "repeats from one place (location) that make an N+1 finding"
        )
    )
    CALLSITE_EXCLUDE: tuple[str, ...] = field(
        metadata=setting([], strings, 'extra path fragments that are not "your code"')
    )
    STACK_FOR_FINGERPRINTS: tuple[str, ...] = field(
        metadata=setting([], strings, "fingerprint hashes to keep full stacks for")
    )
    MAX_QUERIES_PER_REQUEST: int = field(
        metadata=setting(1000, integer(0), "statements kept per request (the rest counted)")
    )
    # Profiling
    PROFILE_PERCENT: float = field(metadata=setting(0, percent, "share of requests profiled"))
    PROFILE_PATHS: tuple[re.Pattern, ...] = field(
        metadata=setting([], patterns, "regexes of paths always profiled")
    )
    PROFILE_HEADER: bool = field(
        metadata=setting(
            True, boolean, "profile a request with `X-Perflab-Profile: 1` from a staff user"
        )
    )
    PROFILE_SLOW_MS: float | None = field(
        metadata=setting(
            None, optional(number), "a route slower than this (ms) profiles its next requests"
        )
    )
    PROFILE_SLOW_NEXT: int = field(
        metadata=setting(5, integer(0), "how many requests `PROFILE_SLOW_MS` profiles")
    )
    PROFILE_INTERVAL_S: float = field(
        metadata=setting(0.001, number, "seconds between the profiler's samples")
    )
    PROFILER: str = field(metadata=setting(
        "sampler", choice("sampler", "pyinstrument"),
        '`"sampler"` (SIGALRM timer; falls back to pyinstrument when the app uses SIGALRM or '
        'perflab starts outside the main thread) or `"pyinstrument"`',
    ))  # fmt: skip
    # Headers and logging
    SERVER_TIMING: bool = field(metadata=setting(True, boolean, "add the `Server-Timing` header"))
    SLOW_REQUEST_MS: float = field(
        metadata=setting(1000, number, "log a `perflab.slow` warning above this")
    )
    # Store and writer
    STORE: dict[str, Any] = field(metadata=setting(
        None, store,
        'or `{"ALIAS": "perflab"}`: a database in `DATABASES` (PostgreSQL, for several '
        'hosts), with `DATABASE_ROUTERS = ["perflab.router.ProbeStoreRouter"]`',
        shown=f'`{{"PATH": "<DATA_DIR or ./.perflab>/{STORE_FILE}"}}`',
    ))  # fmt: skip
    QUEUE_SIZE: int = field(metadata=setting(
        2000, integer(1),
        "records the writer's queue holds; bounds the probe's memory when the store falls "
        "behind",
    ))  # fmt: skip
    BATCH_SIZE: int = field(
        metadata=setting(500, integer(1), "records the writer stores at a time")
    )
    FLUSH_INTERVAL_S: float = field(
        metadata=setting(0.5, number, "seconds between the writer's batches")
    )
    MAX_REQUESTS: int = field(metadata=setting(100_000, integer(1), "retention: requests kept"))
    MAX_AGE_S: float = field(
        metadata=setting(7 * 86400, number, "retention: seconds a request is kept", shown="7 days")
    )
    RETENTION_INTERVAL_S: float = field(
        metadata=setting(30, number, "seconds between the writer's retention passes")
    )
    # API
    PERMISSION: Callable | None = field(metadata=setting(
        None, dotted_callable, "callable or dotted path `request -> bool` guarding the API",
        shown="active staff user",
    ))  # fmt: skip
    LOGIN_URL: str | None = field(metadata=setting(
        None, optional(text),
        "where the dashboard sends anonymous visitors to log in (e.g. `/admin/login/`)",
        shown="Django's `LOGIN_URL`",
    ))  # fmt: skip
    EXPOSE_ROUTES: bool = field(metadata=setting(
        True, boolean,
        "`/perf/api/urlpatterns/` (patterns only, no data) open to all, and the "
        "`X-Perflab-Route` header",
    ))  # fmt: skip
    EXPLAIN_ID_MAX_AGE_S: float = field(
        metadata=setting(
            3600, positive_seconds, "seconds an `explain_id` is accepted after the API signed it"
        )
    )

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


SETTINGS: dict[str, Setting] = {f.name: f.metadata["setting"] for f in fields(ProbeSettings)}


def parse_settings(raw: dict[str, Any] | None, default_store: Path) -> ProbeSettings:
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(SETTINGS))
    if unknown:
        raise ImproperlyConfigured(
            f"PERFLAB has unknown keys {unknown}; known keys: {', '.join(sorted(SETTINGS))}"
        )
    values = {
        key: declared.parse(key, raw.get(key, declared.default))
        for key, declared in SETTINGS.items()
    }
    if values["STORE"] is None:
        values["STORE"] = {"PATH": str(default_store)}
    return ProbeSettings(**values)


def settings_table() -> str:
    """The README's table of settings (a test keeps the README's copy the same)."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for key, declared in SETTINGS.items():
        shown = declared.shown or _shown(declared.default)
        meaning = declared.doc.replace("|", r"\|")  # a | in a cell would end it
        rows.append(f"| `{key}` | {shown} | {meaning} |")
    return "\n".join(rows) + "\n"


def _shown(default: Any) -> str:
    if isinstance(default, list):
        return ", ".join(f"`{item}`" for item in default) if default else "`[]`"
    if isinstance(default, str):
        return f'`"{default}"`'
    return f"`{default}`"


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


def load_settings() -> ProbeSettings:
    from django.conf import settings

    base = Path(getattr(settings, "DATA_DIR", None) or data_dir())
    return parse_settings(getattr(settings, "PERFLAB", None), base / STORE_FILE)
