"""Verdict first: did the run meet its SLOs, with the figures behind each, and what went wrong."""

from __future__ import annotations

from collections import Counter
from typing import Any

from perflab.report.section import Section


class VerdictSection(Section):
    id = "verdict"
    order = 100
    title = "Verdict"
    template = "verdict.html.j2"

    def context(self) -> dict[str, Any]:
        r = self.data.results
        errors: Counter[str] = Counter()
        for endpoint in r.endpoints:
            for error in endpoint.errors:
                errors[f"{endpoint.label}: {error.message}"] += error.count
        return {
            "status": r.status,
            "message": r.message,
            "verdict": r.verdict,
            "slos": r.slos,
            "totals": r.totals,
            "duration_s": r.duration_s,
            "label": r.label,
            "started_at": r.started_at,
            "model": r.model,
            "open_model": r.open_model,
            "errors": errors.most_common(10),
            "user_errors": r.user_errors[:10],
            "monitor_warnings": r.monitor.warnings,
        }

    def warnings(self) -> list[str]:
        r = self.data.results
        if r.status != "completed":
            return [f"The run {r.status}: {r.message or 'see the log'}"]
        return []
