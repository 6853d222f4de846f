"""Run facts: versions, host, workers, database, DEBUG: what a reader needs to trust figures."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from perflab.load.results import SampleCounts
from perflab.report.section import Section

ENGINES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "postgresql": "PostgreSQL",
           "mysql": "MySQL", "oracle": "Oracle"}  # fmt: skip
NOT_RECORDED = "not recorded"


class FactsSection(Section):
    id = "facts"
    order = 700
    title = "Run facts"
    template = "facts.html.j2"

    def database(self) -> str:
        env = self.data.environment
        if env.database:
            return env.database
        url = self.data.settings.get("database_url")
        if url:
            scheme = urlsplit(url).scheme.split("+")[0]
            return ENGINES.get(scheme, scheme)
        return NOT_RECORDED

    def debug(self) -> bool | None:
        return self.data.environment.debug

    def context(self) -> dict[str, Any]:
        r, env, s = self.data.results, self.data.environment, self.data.settings
        debug = self.debug()
        facts = [
            ("perflab", env.perflab),
            ("Locust", env.locust),
            ("Django", env.django or NOT_RECORDED),
            ("Python", env.python),
            ("host", f"{env.hostname or '?'} ({env.cpus or '?'} CPUs)"),
            ("platform", env.platform),
            ("target", env.target),
            ("Locust workers", env.workers or "none (one process)"),
            ("user classes", ", ".join(env.user_classes) or None),
            ("database", self.database()),
            ("DEBUG", NOT_RECORDED if debug is None else str(debug)),
            ("data volume", _volume(env.data_volume)),
            ("model", r.model),
            ("shape", r.shape),
            ("users / spawn rate", _pair(s.get("users"), s.get("spawn_rate"))),
            ("request naming", _naming(r.grouping, r.grouping_reason)),
            ("join sample", _samples(r.samples)),
            ("probe store", str(self.data.store_path) if self.data.store_path else None),
            ("run directory", str(self.data.run_dir.resolve())),
        ]
        return {"facts": [(k, v) for k, v in facts if v not in (None, "")], "debug": debug}

    def warnings(self) -> list[str]:
        if self.debug():
            return ["DEBUG was True on the server: Django kept every query in memory and served "
                    "debug pages; these figures are not what production would see."]  # fmt: skip
        return []


def _naming(grouping: Any, reason: Any) -> str | None:
    """``locust names (no probe at /perf/api/urlpatterns/ (404): …)``: why routes were not used."""
    if grouping and reason:
        return f"{grouping} ({reason})"
    return grouping


def _volume(value: Any) -> str:
    if not value:
        return NOT_RECORDED
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v:,}" if isinstance(v, int) else f"{k}: {v}"
                         for k, v in value.items())  # fmt: skip
    return str(value)


def _pair(users: Any, rate: Any) -> str | None:
    return None if users is None else f"{users} / {rate if rate is not None else '?'}"


def _samples(samples: SampleCounts | None) -> str | None:
    if samples is None:
        return None
    return f"{samples.kept:,} of {samples.seen:,} requests kept"
