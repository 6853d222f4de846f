"""What the probe found in the SQL: N+1 groups, duplicate queries, fingerprints by total time."""

from __future__ import annotations

from typing import Any

from perflab.report.section import Section

LIMIT = 30


class FindingsSection(Section):
    id = "findings"
    order = 500
    title = "Findings"
    template = "findings.html.j2"

    def context(self) -> dict[str, Any]:
        data = self.data
        return {
            "store_note": data.store_note,
            "n_plus_one": data.findings("n_plus_one", LIMIT),
            "duplicates": data.findings("duplicate", LIMIT),
            "sql": data.sql(20),
            "store_path": data.store_path,
        }
