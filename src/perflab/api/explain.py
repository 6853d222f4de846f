"""EXPLAIN on demand, for a recorded SELECT only, addressed by a signed id.

The client never sends SQL: it sends back an id the API signed when it listed the
statement (store row + statement index). The statement and its parameters come from
the store, must be a single read-only SELECT with unmasked parameters, and run as
plain EXPLAIN (never ANALYZE, which would execute it) in a read-only transaction
that is rolled back.
"""

from __future__ import annotations

from django.core import signing
from django.db import DatabaseError, connections, transaction

from perflab.probe.fingerprint import is_select
from perflab.probe.masking import MASK
from perflab.probe.store import RecordingStore

SALT = "perflab.explain"


class ExplainRefused(Exception):
    pass


def explain_id(row_id: int, index: int) -> str:
    return signing.dumps([row_id, index], salt=SALT, compress=True)


def explain(store: RecordingStore, signed: str) -> dict:
    try:
        row_id, index = signing.loads(signed, salt=SALT)
    except signing.BadSignature:
        raise ExplainRefused("not an id this server issued") from None
    record = store.request(row_id=row_id)
    if record is None or not 0 <= index < len(record["queries"]):
        raise ExplainRefused("no such recorded statement (retention may have removed it)")
    query = record["queries"][index]
    sql, params = query["sql"], query["params"]
    if not is_select(sql):
        raise ExplainRefused("only a recorded SELECT can be explained")
    if params is None or MASK in params:
        raise ExplainRefused("the statement's parameters were not recorded (masked secrets)")
    alias = query["alias"]
    if alias not in connections:
        raise ExplainRefused(f"database alias {alias!r} is not configured here")
    connection = connections[alias]
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    try:
        with transaction.atomic(using=alias):
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    cursor.execute("SET TRANSACTION READ ONLY")
                cursor.execute(prefix + sql, params)
                plan = [" ".join(str(col) for col in row) for row in cursor.fetchall()]
            transaction.set_rollback(True, using=alias)
    except DatabaseError as exc:
        raise ExplainRefused(f"the database refused: {exc}") from None
    return {"sql": sql, "params": params, "alias": alias, "vendor": connection.vendor, "plan": plan}
