"""The slowest requests as the client saw them, with the server's breakdown and any profile."""

from __future__ import annotations

import json
from typing import Any

from perflab.report.section import Section

LIMIT = 10
KIND_LABELS = {"n_plus_one": "N+1", "duplicate": "duplicate"}
PROFILE_LINES = 60  # a profile's call tree, cut: the report stays small, the hot path shows


def render_profile(session_json: str) -> str:
    """pyinstrument's own text rendering of a stored session (its renderer, not ours)."""
    from pyinstrument.renderers import ConsoleRenderer
    from pyinstrument.session import Session

    session = Session.from_json(json.loads(session_json))
    if not session.start_call_stack:
        # Stores written before the sampler recorded its start stack: pyinstrument's stem
        # trimming fails on an empty one (IndexError); a stack matching nothing means "keep all".
        session.start_call_stack = ["<perflab: no start stack>"]
    text = ConsoleRenderer(unicode=True, color=False, short_mode=True).render(session)
    lines = text.strip("\n").splitlines()
    if len(lines) > PROFILE_LINES:
        lines = [*lines[:PROFILE_LINES], f"… {len(lines) - PROFILE_LINES} more lines"]
    return "\n".join(lines)


def _profile_text(stored: str) -> str:
    try:
        return render_profile(stored)
    except Exception as exc:  # a profile that cannot be rendered must not cost the report
        return f"(this profile could not be rendered: {type(exc).__name__}: {exc})"


def breakdown(server: dict[str, Any]) -> list[tuple[str, float]]:
    """Where the server's time went: SQL, cache, templates, and the rest (Python, mostly)."""
    parts = [("SQL", server.get("db_ms") or 0.0), ("cache", server.get("cache_ms") or 0.0),
             ("templates", server.get("template_ms") or 0.0)]  # fmt: skip
    other = max(0.0, (server.get("duration_ms") or 0.0) - sum(ms for _, ms in parts))
    return [*parts, ("other", other)]


class SlowestSection(Section):
    id = "slowest"
    order = 600
    title = "Slowest requests"
    template = "slowest.html.j2"

    def rows(self) -> list[dict[str, Any]]:
        slowest = sorted(self.data.requests, key=lambda r: r["latency_ms"], reverse=True)
        rows = []
        for client in slowest[:LIMIT]:
            server = (
                self.data.request_detail(client["request_id"]) if client["request_id"] else None
            )
            row: dict[str, Any] = {"client": client, "server": server, "profile": None}
            if server is not None:
                duration = server.get("duration_ms") or 0.0
                row["breakdown"] = [
                    (name, ms, ms / duration if duration else 0.0) for name, ms in breakdown(server)
                ]
                row["queue_ms"] = (client["service_ms"] or client["latency_ms"]) - duration
                row["top_queries"] = sorted(
                    server.get("queries") or [], key=lambda q: q["duration_ms"], reverse=True
                )[:5]
                row["findings"] = sorted(
                    server.get("findings") or [], key=lambda f: f["total_ms"], reverse=True
                )
                if server.get("profiled"):
                    stored = self.data.profile(server["id"])
                    row["profile"] = _profile_text(stored) if stored else None
            rows.append(row)
        return rows

    def context(self) -> dict[str, Any]:
        return {"rows": self.rows(), "store_note": self.data.store_note, "kinds": KIND_LABELS}
