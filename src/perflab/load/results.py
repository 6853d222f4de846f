"""The run directory: ``results.json`` (a versioned schema) and the files next to it.

``RunResults`` is the data model of a finished run, kept apart from everything that shows
it, the way pyinstrument keeps its Session apart from its renderers: the runner builds one,
``RunDirectory`` writes it, ``load_results`` reads it back checked, and report, compare,
capacity and the end-of-run tables read its attributes — never the runner's internals.
The JSON keys are the field names below, in their order, read and written by msgspec
(``msgspec.convert``, ``msgspec.to_builtins``): a field without a default must be there, one
with a default may be absent, unknown keys are ignored, and every value is checked strictly
against its declared type (no "5" for 5, no true for a number). The schema is documented in
``docs/results.md``; bump SCHEMA when a field changes meaning, not when one is added (with a
default).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from perflab.errors import PerflabError

SCHEMA = "perflab.results/1"
RESULTS = "results.json"
HISTOGRAMS = "histograms.json"
SERIES = "series.csv"
MONITOR = "monitor.csv"
REQUESTS = "requests.csv"


# A file of the run directory: a bare name, never a path that leads elsewhere (no "/" or "\\",
# whichever system wrote or reads the run; not "." or "..").
FileName = Annotated[str, msgspec.Meta(pattern=r"^(?!\.\.?$)[^/\\]+$")]
# A closed second: second (epoch), requests, failures, p50, p95, p99, max, then its gauges
# (users, in_flight; arrival_rate, late, dropped in the open model), as series.csv has them.
# Counts stay whole numbers; RunResults checks that each row has its second.
SecondRow = dict[str, int | float | None]


@dataclass(kw_only=True)
class LatencySummary:
    """Milliseconds, 3 decimals; HdrHistogram percentiles clamped to the exact min and max."""

    count: int
    min: float
    mean: float
    p50: float
    p75: float
    p90: float
    p95: float
    p99: float
    p99_9: float
    p99_99: float
    max: float


@dataclass(kw_only=True)
class CountedMessage:
    message: str
    count: int


@dataclass(kw_only=True)
class EndpointFigures:
    """One endpoint, or all requests (method "", name "Aggregated")."""

    method: str
    name: str
    requests: int
    failures: int
    error_rate: float  # a fraction
    rps: float  # requests / duration_s
    latency: LatencySummary  # from the intended start (open model)
    service: LatencySummary  # from the actual send; equal in the closed model
    errors: list[CountedMessage] = field(default_factory=list)  # ≤ 20 + "(other)"

    @property
    def label(self) -> str:
        """``GET /api/posts/``, or the name alone for the totals."""
        return f"{self.method} {self.name}" if self.method else self.name


@dataclass(kw_only=True)
class OpenModelFigures:
    rate: float
    due: int
    started: int
    late: int
    dropped: int
    in_flight: int
    max_lateness_ms: float = 0.0
    total_lateness_ms: float = 0.0
    target: str = ""  # --arrival-rate as given
    max_in_flight: int = 0
    schedule_started_epoch: float | None = None


@dataclass(kw_only=True)
class SLOVerdict:
    """One SLO as judged at the end (``perflab.load.slo.SLOResult``, flattened)."""

    expression: str
    passed: bool
    scope: str | None = None
    metric: str = ""
    op: str = ""
    threshold: float = 0.0
    actual: float | None = None
    where: str = ""
    detail: str = ""


@dataclass(kw_only=True)
class SampleCounts:
    kept: int  # rows in requests.csv
    seen: int  # requests the sample chose from


@dataclass(kw_only=True)
class MonitorFacts:
    server_pid: int | None = None  # None: no server found, and warnings say why
    warnings: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class Environment:
    """Where the run ran; the app's facts come from the probe's /perf/api/urlpatterns/."""

    perflab: str | None = None
    locust: str | None = None
    python: str | None = None
    platform: str | None = None
    hostname: str | None = None
    cpus: int | None = None
    target: str | None = None
    workers: int = 0
    user_classes: list[str] = field(default_factory=list)
    django: str | None = None
    debug: bool | None = None
    database: str | None = None
    app_python: str | None = None
    data_volume: str | dict[str, Any] | None = None  # --data-volume


@dataclass(kw_only=True)
class RunResults:
    """A finished run: everything results.json holds (docs/results.md)."""

    status: Literal["completed", "interrupted", "aborted", "failed"]
    message: str = ""  # why, when not completed
    label: str = ""
    started_at: str  # ISO 8601 with the offset, milliseconds
    ended_at: str
    duration_s: float
    totals: EndpointFigures
    endpoints: list[EndpointFigures]  # sorted by name, then method
    model: Literal["closed", "open"] = "closed"
    shape: str | None = None
    open_model: OpenModelFigures | None = None
    grouping: str | None = None  # routes | locust names
    grouping_reason: str | None = None  # why not routes
    probe_store: str | None = None  # --store
    slos: list[SLOVerdict] = field(default_factory=list)
    verdict: Literal["pass", "fail", "none"] = "none"
    distribution: list[tuple[float, float]] = field(default_factory=list)  # (percentile, ms)
    series: list[SecondRow] = field(default_factory=list)
    user_errors: list[CountedMessage] = field(default_factory=list)  # exceptions in tasks
    samples: SampleCounts | None = None
    monitor: MonitorFacts = field(default_factory=MonitorFacts)
    environment: Environment = field(default_factory=Environment)
    settings: dict[str, Any] = field(default_factory=dict)  # RunConfig as run
    files: dict[str, FileName] = field(default_factory=dict)  # what -> name in the run dir

    def __post_init__(self) -> None:
        """What the types cannot say. msgspec runs this when reading too and reports the
        ValueError as its ValidationError; RunResults is the top level, where msgspec adds no
        path, so the message spells its own in msgspec's words."""
        for name in ("started_at", "ended_at"):
            try:
                datetime.fromisoformat(getattr(self, name))
            except ValueError:
                raise ValueError(f"Expected an ISO 8601 time - at `$.{name}`") from None
        for index, row in enumerate(self.series):
            if row.get("second") is None:
                where = f"`$.series[{index}]`"
                raise ValueError(f"Object missing required field `second` - at {where}")

    @property
    def started(self) -> float:
        """``started_at`` as an epoch (the probe store's clock)."""
        return datetime.fromisoformat(self.started_at).timestamp()

    @property
    def ended(self) -> float:
        return datetime.fromisoformat(self.ended_at).timestamp()

    def to_json(self) -> dict[str, Any]:
        """Builtin data, keys in field order, for ``json.dump`` (which writes a tuple as a list)."""
        return {"schema": SCHEMA, **msgspec.to_builtins(self)}

    @classmethod
    def from_json(cls, data: Any) -> RunResults:
        """Checked against the declarations above: ``WrongSchema``, or msgspec's
        ``ValidationError`` naming the first problem and where it is."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            found = data.get("schema") if isinstance(data, dict) else None
            raise WrongSchema(found)
        return msgspec.convert(data, cls, strict=True)


class WrongSchema(Exception):
    def __init__(self, found: Any) -> None:
        super().__init__(f"schema {found!r}, expected {SCHEMA!r}")
        self.found = found


class RunDirectory:
    """Where one run's files go; created before the run so a crash still leaves a trace."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def create(self) -> RunDirectory:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            probe = self.path / ".perflab-write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise PerflabError(
                f"cannot write the run directory {self.path}: {exc.strerror}"
            ) from None
        return self

    def keep_inputs(self, locustfile: Path, settings: dict[str, Any]) -> None:
        """The locustfile and settings as run, so a result can be reproduced later."""
        shutil.copyfile(locustfile, self.path / f"locustfile{locustfile.suffix or '.py'}")
        self._write_json("settings.json", settings)

    def write(
        self,
        results: dict[str, Any],  # RunResults.to_json(); "files" is added here
        histograms: dict[str, str],
        series: list[dict],
        monitor: list[dict],
        requests: list[tuple],
        request_fields: tuple[str, ...],
    ) -> Path:
        """Everything at once; results.json last and atomically, so a reader never sees half."""
        self._write_json(HISTOGRAMS, {"unit": "ms", "histograms": histograms})
        _write_csv(self.path / SERIES, series)
        _write_csv(self.path / MONITOR, monitor)
        with open(self.path / REQUESTS, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(request_fields)
            writer.writerows(requests)
        results = {**results, "files": {
            "histograms": HISTOGRAMS, "series": SERIES, "monitor": MONITOR,
            "requests": REQUESTS, "locustfile": "locustfile.py", "settings": "settings.json",
        }}  # fmt: skip
        return self._write_json(RESULTS, results)

    def _write_json(self, name: str, data: Any) -> Path:
        target = self.path / name
        partial = target.with_suffix(".partial")
        with open(partial, "w") as f:
            json.dump(data, f, indent=1, default=str)
        os.replace(partial, target)
        return target


def _write_csv(path: Path, rows: list[dict]) -> None:
    columns: list[str] = []
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns or ["t"])
        writer.writeheader()
        writer.writerows(rows)


def load_results(run: Path | str) -> RunResults:
    """A run's results.json (given the directory or the file), checked once against
    ``RunResults``, and the CSV files next to it checked readable: readers (report, compare,
    capacity) then read its attributes without a traceback for a file edited or cut short.
    msgspec's parser refuses text that is not UTF-8, a lone surrogate escape ("\\udcff", which
    no page or terminal can show) included, and its ValidationError names the first problem
    and where it is ("Expected `int`, got `float` - at `$.totals.requests`")."""
    path = Path(run)
    if path.is_dir():
        path = path / RESULTS
    try:
        data = msgspec.json.decode(path.read_bytes())
    except FileNotFoundError:
        raise PerflabError(f"no {RESULTS} in {path.parent}") from None
    except (OSError, msgspec.DecodeError) as exc:
        raise PerflabError(f"cannot read {path}: {exc}") from None
    except RecursionError:
        raise PerflabError(f"cannot read {path}: JSON nested too deeply") from None
    try:
        results = RunResults.from_json(data)
    except WrongSchema as exc:
        raise PerflabError(f"{path} is not a {SCHEMA} file (schema: {exc.found!r})") from None
    except msgspec.ValidationError as exc:
        raise PerflabError(f"{path} is not a valid {SCHEMA} file: {exc}") from None
    _check_csv_files(path.parent, results.files)
    return results


def _check_csv_files(run_dir: Path, files: dict[str, str]) -> None:
    """Each CSV the run directory has must read as CSV (a missing one is only missing data)."""
    for key, default in (("series", SERIES), ("monitor", MONITOR), ("requests", REQUESTS)):
        path = run_dir / files.get(key, default)
        if not path.exists():
            continue
        try:
            with open(path, newline="") as f:
                for _row in csv.reader(f):
                    pass
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise PerflabError(f"cannot read {path} as CSV: {detail}") from None


def default_run_dir() -> Path:
    """``$PERFLAB_DATA_DIR/runs/YYYYmmdd-HHMMSS`` (``./.perflab`` by default)."""
    from perflab.datadir import new_output_dir

    return new_output_dir("runs")
