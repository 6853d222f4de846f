"""Every SQL statement on every database alias, raw cursors included.

A permanent ``execute_wrapper`` on each connection (added when Django creates it)
times the statement and notes its call site as one ``RawStatement``; everything else
(fingerprint, parameter masking, ``QueryEvent``s, N+1 findings) is derived by
``complete`` in the writer thread, a batch at a time.
"""

from __future__ import annotations

import functools
import time

from django.db import connections
from django.db.utils import ConnectionHandler

from perflab.probe.callsite import CallsiteFinder, Where, watch_frameworks
from perflab.probe.context import ActiveRequest, current_request
from perflab.probe.findings import detect_findings
from perflab.probe.fingerprint import fingerprint_hash, fingerprint_sql, is_select
from perflab.probe.masking import mask_params
from perflab.probe.recorders.base import Recorder, ServerTiming
from perflab.probe.records import QueryEvent, RawStatement, RequestRecord
from perflab.probe.settings import ProbeSettings

_ATTACHING: list[SqlRecorder] = []  # the installed recorder, for connections made later
# Frames a call-site walk skips without looking: this wrapper's, and Django's two that
# always sit between it and whoever ran the statement (``CursorWrapper.execute`` or
# ``executemany``, then ``_execute_with_wrappers``). None is ever the call site, and
# ``sys._getframe`` passes them without creating their frame objects (each frame a walk
# looks at costs ~0.6 µs in place). Another app's execute wrapper sitting outside this one
# is skipped instead of ``execute``, which the walk then passes as library code.
_CURSOR_FRAMES = 3
# ``RawStatement`` made as ``tuple.__new__`` makes it (~0.14 µs against ~0.35 through the
# named tuple's own ``__new__``, a Python function; a plain tuple ~0.06): once per statement.
_statement = tuple.__new__


class SqlRecorder(Recorder):
    name = "sql"

    def __init__(self) -> None:
        self.callsites: CallsiteFinder | None = None
        self.ignored_aliases: set[str] = set()

    def install(self, settings: ProbeSettings) -> None:
        watch_frameworks()
        self.callsites = CallsiteFinder(settings.CALLSITE_EXCLUDE)
        if "ALIAS" in settings.STORE:
            self.ignored_aliases.add(settings.STORE["ALIAS"])  # the probe's own writes
        # Attach when Django creates a connection object (once per alias and thread), not
        # on connection_created, which fires on every reconnect (every request on SQLite).
        original = ConnectionHandler.create_connection
        if not getattr(original, "_perflab", False):

            @functools.wraps(original)
            def create_connection(handler, alias):
                connection = original(handler, alias)
                for recorder in _ATTACHING:
                    recorder.attach(connection)
                return connection

            create_connection._perflab = True
            ConnectionHandler.create_connection = create_connection
        _ATTACHING[:] = [self]
        for connection in connections.all(initialized_only=True):
            self.attach(connection)

    def attach(self, connection) -> None:
        if connection.alias in self.ignored_aliases:
            return
        if self.execute not in connection.execute_wrappers:
            connection.execute_wrappers.append(self.execute)

    def execute(self, execute, sql, params, many, context):
        active = current_request.get()
        if active is None:
            return execute(sql, params, many, context)
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            end = time.perf_counter()
            # Inline, not a method: this runs for every statement of every request.
            raw = active.raw_queries
            if len(raw) < active.settings.MAX_QUERIES_PER_REQUEST:
                if not isinstance(sql, str):
                    sql = str(sql)
                kept = None  # a SELECT's parameters, for EXPLAIN; copied: callers reuse them
                if not many and params is not None and is_select(sql):
                    kept = params if type(params) is tuple else _copy_params(params)
                stack = None
                wanted = active.settings.STACK_FOR_FINGERPRINTS
                if wanted and fingerprint_hash(fingerprint_sql(sql)) in wanted:
                    stack = self.callsites.stack(skip=0)
                found = self.callsites.find(
                    _CURSOR_FRAMES, active.callsite_memo, active.rendering > 0
                )
                raw.append(_statement(RawStatement, (
                    sql, kept, many, context["connection"].alias, (start - active.t0) * 1000.0,
                    (end - start) * 1000.0, found, stack,
                )))  # fmt: skip
            else:
                active.skipped_queries += 1

    def server_timing(self, active: ActiveRequest) -> list[ServerTiming]:
        """``db``: the time in SQL and the statements' count."""
        statements = active.raw_queries
        db_ms = 0.0
        for statement in statements:
            db_ms += statement.duration_ms
        return [("db", db_ms, f"{len(statements)} queries")]

    def complete(self, record: RequestRecord, settings: ProbeSettings) -> None:
        raw = record.raw_queries
        if not raw:
            return
        names = settings.SENSITIVE_NAMES
        queries = record.queries
        for statement in raw:
            fingerprint = fingerprint_sql(statement.sql)
            callsite, template, origin, location = Where.of(statement.found)
            if location is None and origin is not None:  # library code only: name the view
                location = f"{origin} ← {record.view}" if record.view else origin
            params = statement.params
            queries.append(QueryEvent(
                sql=statement.sql, fingerprint=fingerprint,
                fingerprint_hash=fingerprint_hash(fingerprint),
                duration_ms=statement.duration_ms, alias=statement.alias,
                start_ms=statement.start_ms, callsite=callsite, template=template, origin=origin,
                location=location,
                params=None if params is None else mask_params(fingerprint, params, names),
                many=bool(statement.many), stack=statement.stack,
            ))  # fmt: skip
        record.raw_queries = []
        record.findings = detect_findings(queries, settings.NPLUSONE_THRESHOLD)


def _copy_params(params):
    if isinstance(params, dict):
        return dict(params)
    try:
        return tuple(params)
    except TypeError:
        return params
