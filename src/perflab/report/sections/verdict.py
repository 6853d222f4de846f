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
        for endpoint in r.get("endpoints", []):
            for error in endpoint.get("errors", []):
                errors[f"{endpoint['method']} {endpoint['name']}: {error['message']}"] += error[
                    "count"
                ]
        return {
            "status": r.get("status"),
            "message": r.get("message"),
            "verdict": r.get("verdict", "none"),
            "slos": r.get("slos", []),
            "totals": r.get("totals", {}),
            "duration_s": r.get("duration_s"),
            "label": r.get("label"),
            "started_at": r.get("started_at"),
            "model": r.get("model"),
            "open_model": r.get("open_model"),
            "errors": errors.most_common(10),
            "user_errors": r.get("user_errors", [])[:10],
            "monitor_warnings": (r.get("monitor") or {}).get("warnings", []),
        }

    def warnings(self) -> list[str]:
        status = self.data.results.get("status")
        if status and status != "completed":
            return [f"The run {status}: {self.data.results.get('message') or 'see the log'}"]
        return []
