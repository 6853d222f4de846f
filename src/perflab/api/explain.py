"""EXPLAIN on demand, for a recorded SELECT only, addressed by a signed id that expires.

The client never sends SQL: it sends back an id the API signed when it listed the
statement (store row + statement index). The statement and its parameters come from
the store, must be a single read-only SELECT with unmasked parameters, and run as
plain EXPLAIN (never ANALYZE, which would execute it) in a read-only transaction
that is rolled back.

``refusal`` is the one place that decides which recorded statements can be explained: the
API hands out ids only for those, and ``explain`` refuses the rest with the same reason, so
a listed id is never one that explain would refuse for the statement's own sake. Ids carry
the time they were signed (Django's ``TimestampSigner``) and are refused after
``PERFLAB["EXPLAIN_ID_MAX_AGE_S"]``: an id copied out of a page or a log stops working.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from django.core import signing
from django.db import DatabaseError, connections, transaction

from perflab.api.params import MAX_SQL_INT, Text
from perflab.probe.fingerprint import is_select
from perflab.probe.masking import MASK
from perflab.probe.store import RecordingStore

# The id a POST brings back (the API's JSON body, the dashboard's form): a few dozen
# characters of Django's signing alphabet.
EXPLAIN_ID = Text(
    max_length=1000,
    pattern=re.compile(r"[A-Za-z0-9_\-.:]+"),
    expected="an id this server issued (a recorded request's statements list them)",
    required=True,
)

SALT = "perflab.explain"


class ExplainRefused(Exception):
    pass


def refusal(query: dict[str, Any]) -> str | None:
    """Why this recorded statement cannot be explained here, or None when it can."""
    if not is_select(query.get("sql")):
        return "only a recorded SELECT can be explained"
    params = query.get("params")
    if not isinstance(params, list) or MASK in params:
        return "the statement's parameters were not recorded (masked secrets)"
    alias = query.get("alias")
    if not isinstance(alias, str) or alias not in connections:
        return f"database alias {alias!r} is not configured here"
    return None


def explain_id(row_id: int, index: int) -> str:
    """The signed, timestamped id of statement ``index`` of the request stored as ``row_id``."""
    return signing.dumps([row_id, index], salt=SALT, compress=True)


def statement_address(signed: str, max_age_s: float) -> tuple[int, int]:
    """(row id, statement index) from an id this server signed no more than ``max_age_s``
    seconds ago; anything else is refused with one line."""
    try:
        payload = signing.loads(signed, salt=SALT, max_age=max_age_s)
    except signing.SignatureExpired:
        raise ExplainRefused(
            f"this explain_id has expired (ids are valid for {max_age_s:g} s): "
            "read the request again for a new one"
        ) from None
    except signing.BadSignature:
        raise ExplainRefused("not an id this server issued") from None
    except (ValueError, zlib.error):  # signed here, but not by this version's explain_id
        raise ExplainRefused("not an explain id") from None
    if not (
        isinstance(payload, list)
        and len(payload) == 2
        and all(type(n) is int for n in payload)
        and 1 <= payload[0] <= MAX_SQL_INT
        and 0 <= payload[1] <= MAX_SQL_INT
    ):
        raise ExplainRefused("not an explain id")
    return payload[0], payload[1]


def explain(store: RecordingStore, signed: str, max_age_s: float) -> dict:
    row_id, index = statement_address(signed, max_age_s)
    record = store.request(row_id=row_id)
    if record is None or index >= len(record["queries"]):
        raise ExplainRefused("no such recorded statement (retention may have removed it)")
    query = record["queries"][index]
    reason = refusal(query)
    if reason is not None:
        raise ExplainRefused(reason)
    sql, params, alias = query["sql"], query["params"], query["alias"]
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
