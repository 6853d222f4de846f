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
    """A run's results.json (given the directory or the file), checked for its schema."""
    path = Path(run)
    if path.is_dir():
        path = path / RESULTS
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PerflabError(f"no {RESULTS} in {path.parent}") from None
    except (OSError, ValueError) as exc:
        raise PerflabError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise PerflabError(f"{path} is not a {SCHEMA} file (schema: {found!r})")
    return data


def default_run_dir() -> Path:
    """``$PERFLAB_DATA_DIR/runs/YYYYmmdd-HHMMSS`` (``./.perflab`` by default)."""
    from perflab.datadir import new_output_dir

    return new_output_dir("runs")
