"""Run facts: versions, host, workers, database, DEBUG: what a reader needs to trust figures."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

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
        if env.get("database"):
            return str(env["database"])
        url = self.data.settings.get("database_url")
        if url:
            scheme = urlsplit(url).scheme.split("+")[0]
            return ENGINES.get(scheme, scheme)
        return NOT_RECORDED

    def debug(self) -> bool | None:
        value = self.data.environment.get("debug")
        return value if isinstance(value, bool) else None

    def context(self) -> dict[str, Any]:
        r, env, s = self.data.results, self.data.environment, self.data.settings
        debug = self.debug()
        facts = [
            ("perflab", env.get("perflab")),
            ("Locust", env.get("locust")),
            ("Django", env.get("django") or NOT_RECORDED),
            ("Python", env.get("python")),
            ("host", f"{env.get('hostname', '?')} ({env.get('cpus', '?')} CPUs)"),
            ("platform", env.get("platform")),
            ("target", env.get("target")),
            ("Locust workers", env.get("workers") or "none (one process)"),
            ("user classes", ", ".join(env.get("user_classes") or []) or None),
            ("database", self.database()),
            ("DEBUG", NOT_RECORDED if debug is None else str(debug)),
            ("data volume", _volume(env.get("data_volume"))),
            ("model", r.get("model")),
            ("shape", r.get("shape")),
            ("users / spawn rate", _pair(s.get("users"), s.get("spawn_rate"))),
            ("request naming", _naming(r.get("grouping"), r.get("grouping_reason"))),
            ("join sample", _samples(r.get("samples"))),
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


def _samples(samples: dict | None) -> str | None:
    if not samples:
        return None
    return f"{samples.get('kept', 0):,} of {samples.get('seen', 0):,} requests kept"
