"""The run directory: ``results.json`` (a versioned schema) and the files next to it.

Report, compare and capacity read a run through this module only — never the runner's
internals — the way pyinstrument's renderers read a Session. The schema is documented in
``docs/results.md``; bump SCHEMA when a field changes meaning, not when one is added.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from perflab.errors import PerflabError

SCHEMA = "perflab.results/1"
RESULTS = "results.json"
HISTOGRAMS = "histograms.json"
SERIES = "series.csv"
MONITOR = "monitor.csv"
REQUESTS = "requests.csv"


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
        results: dict[str, Any],
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


def load_results(run: Path | str) -> dict[str, Any]:
    """A run's results.json (given the directory or the file), checked once against the
    schema the runner writes, and the CSV files next to it checked readable: readers (report,
    compare, capacity) then index it without a traceback for a file edited or cut short."""
    path = Path(run)
    if path.is_dir():
        path = path / RESULTS
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PerflabError(f"no {RESULTS} in {path.parent}") from None
    except (OSError, ValueError) as exc:
        raise PerflabError(f"cannot read {path}: {exc}") from None
    except RecursionError:
        raise PerflabError(f"cannot read {path}: JSON nested too deeply") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise PerflabError(f"{path} is not a {SCHEMA} file (schema: {found!r})")
    try:
        _RESULTS_SHAPE(data, "")
        _all_text_utf8(data, "")
    except _Invalid as exc:
        raise PerflabError(f"{path} is not a valid {SCHEMA} file: {exc}") from None
    _check_csv_files(path.parent, data.get("files") or {})
    return data


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


# -- the shape of results.json (docs/results.md) --------------------------------------------
# Each check takes (value, where) and raises _Invalid naming the first problem. A record's
# required keys are those schema 1 has always had; the others were added since (a field is
# added without a schema change), so they are checked only when present, and unknown keys
# are allowed for the same reason.

Check = Callable[[Any, str], None]


class _Invalid(Exception):
    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where or 'the top level'} {problem}")


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = json.dumps(value)  # as the file has it: null, true, "text"
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(expected: str, accepts: Callable[[Any], bool]) -> Check:
    def check(value: Any, where: str) -> None:
        if not accepts(value):
            raise _Invalid(where, f"is {_show(value)}, not {expected}")

    return check


_number = _kind("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool))
_flag = _kind("true or false", lambda v: isinstance(v, bool))


_text = _kind("a string", lambda v: isinstance(v, str))


def _all_text_utf8(value: Any, where: str) -> None:
    """Every string, keys too: JSON may escape a lone surrogate ("\\udcff", what a run given
    non-UTF-8 bytes would have written), which no page or terminal can show."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Invalid(where, f"is {_show(value)}, not UTF-8 text") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _all_text_utf8(key, f"{where}.{key!s}" if where else "a key")
            _all_text_utf8(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _all_text_utf8(item, f"{where}[{index}]")


def _timestamp(value: Any, where: str) -> None:
    _text(value, where)
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(where, f"is {_show(value)}, not an ISO 8601 time") from None


def _file_name(value: Any, where: str) -> None:
    """A file of the run directory: a bare name, never a path that leads elsewhere."""
    _text(value, where)
    if not value or value in (".", "..") or "/" in value or os.sep in value:
        raise _Invalid(where, f"is {_show(value)}, not a file name in the run directory")


def _optional(check: Check) -> Check:
    def optional(value: Any, where: str) -> None:
        if value is not None:
            check(value, where)

    return optional


def _one_of(*choices: str) -> Check:
    def check(value: Any, where: str) -> None:
        if value not in choices:
            raise _Invalid(where, f"is {_show(value)}, not one of {', '.join(choices)}")

    return check


def _list_of(item: Check) -> Check:
    def check(value: Any, where: str) -> None:
        if not isinstance(value, list):
            raise _Invalid(where, f"is {_show(value)}, not a list")
        for index, element in enumerate(value):
            item(element, f"{where}[{index}]")

    return check


def _record(required: dict[str, Check], optional: dict[str, Check] | None = None,
            others: Check | None = None) -> Check:  # fmt: skip
    """An object with ``required`` keys, ``optional`` ones checked when there, and any other
    key checked with ``others`` (when given)."""
    optional = optional or {}

    def check(value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise _Invalid(where, f"is {_show(value)}, not an object")
        prefix = f"{where}." if where else ""
        for key, item in required.items():
            if key not in value:
                raise _Invalid(f"{prefix}{key}", "is missing")
            item(value[key], f"{prefix}{key}")
        for key, item in optional.items():
            if key in value:
                item(value[key], f"{prefix}{key}")
        if others is not None:
            for key, element in value.items():
                if key not in required and key not in optional:
                    others(element, f"{prefix}{key}")

    return check


def _pair_of_numbers(value: Any, where: str) -> None:
    if not isinstance(value, list) or len(value) != 2:
        raise _Invalid(where, f"is {_show(value)}, not a [percentile, ms] pair")
    _number(value[0], f"{where}[0]")
    _number(value[1], f"{where}[1]")


SUMMARY_KEYS = ("count", "min", "mean", "p50", "p75", "p90", "p95", "p99", "p99_9", "p99_99",
                "max")  # fmt: skip
_SUMMARY = _record(dict.fromkeys(SUMMARY_KEYS, _number))
_COUNTED_MESSAGE = _record({"message": _text, "count": _number})
_ENDPOINT = _record(
    {"method": _text, "name": _text, "requests": _number, "failures": _number,
     "error_rate": _number, "rps": _number, "latency": _SUMMARY, "service": _SUMMARY},
    {"errors": _list_of(_COUNTED_MESSAGE)},
)  # fmt: skip
_SLO = _record(
    {"expression": _text, "passed": _flag},
    {"scope": _optional(_text), "metric": _text, "op": _text, "threshold": _number,
     "actual": _optional(_number), "where": _text, "detail": _text},
)  # fmt: skip
_OPEN_MODEL = _record(
    dict.fromkeys(("rate", "due", "started", "late", "dropped", "in_flight"), _number),
    {"max_lateness_ms": _number, "total_lateness_ms": _number, "target": _text,
     "max_in_flight": _number, "schedule_started_epoch": _optional(_number)},
)  # fmt: skip
_RESULTS_SHAPE = _record(
    {"status": _one_of("completed", "interrupted", "aborted", "failed"),
     "started_at": _timestamp, "ended_at": _timestamp, "duration_s": _number,
     "totals": _ENDPOINT, "endpoints": _list_of(_ENDPOINT)},
    {"message": _text, "label": _text, "model": _one_of("closed", "open"),
     "shape": _optional(_text), "open_model": _optional(_OPEN_MODEL), "grouping": _text,
     "grouping_reason": _optional(_text), "probe_store": _optional(_text),
     "slos": _list_of(_SLO), "verdict": _one_of("pass", "fail", "none"),
     "distribution": _list_of(_pair_of_numbers),
     "series": _list_of(_record({"second": _number}, others=_optional(_number))),
     "user_errors": _list_of(_COUNTED_MESSAGE),
     "samples": _record({"kept": _number, "seen": _number}),
     "monitor": _record({}, {"server_pid": _optional(_number), "warnings": _list_of(_text)}),
     "environment": _record({}, {"cpus": _optional(_number), "user_classes": _list_of(_text)}),
     "settings": _record({}, {"users": _optional(_number), "spawn_rate": _optional(_number)}),
     "files": _record({}, others=_file_name)},
)  # fmt: skip


def default_run_dir() -> Path:
    """``$PERFLAB_DATA_DIR/runs/YYYYmmdd-HHMMSS`` (``./.perflab`` by default)."""
    from perflab.datadir import new_output_dir

    return new_output_dir("runs")
