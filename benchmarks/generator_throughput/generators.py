"""The generators measured, each a command run in its own process and the figures it reports
of itself: plain Locust, ``perflab run`` (the same locustfile) and wrk (the ceiling)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
from pathlib import Path

from loadgen import parse_wrk_output, wrk_version
from machine import apt_install, find_binary
from rich.console import Console

from perflab.errors import PerflabError

BENCHMARKS = Path(__file__).resolve().parent.parent
LOCUSTFILE = BENCHMARKS / "locustfiles" / "generator_fast.py"
USER_CLASS = "Fast"
BASELINE = "locust"
GENERATORS = {
    "locust": "plain Locust",
    "perflab": "perflab run",
    "wrk": "wrk (ceiling)",
}


def venv_script(name: str) -> str:
    """The console script next to this interpreter (.venv/bin/locust), else on PATH."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found next to {sys.executable} or on PATH")
    return found


def clean_env() -> dict[str, str]:
    """No LOCUST_* (LOCUST_SKIP_MONKEY_PATCH above all) and no config picked up by accident."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}


class Generator:
    """A load generator run as a command: ``binary`` is its executable."""

    key = ""

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def describe(self) -> str:
        raise NotImplementedError

    def command(self, url: str, run_time: int, users: int, workdir: Path) -> list[str]:
        raise NotImplementedError

    def own(self, output: str, workdir: Path) -> tuple[float, int, int]:
        """(own req/s, own request count, errors) once the process has exited."""
        raise NotImplementedError


class PlainLocust(Generator):
    key = "locust"

    def describe(self) -> str:
        import locust

        return f"Locust {locust.__version__}"

    def command(self, url: str, run_time: int, users: int, workdir: Path) -> list[str]:
        return [self.binary, "-f", str(LOCUSTFILE), "--headless", "--host", url,
                "-u", str(users), "-r", str(users), "-t", f"{run_time}s", "--only-summary",
                "--csv", str(workdir / "locust"), "--loglevel", "WARNING",
                USER_CLASS]  # fmt: skip

    def own(self, output: str, workdir: Path) -> tuple[float, int, int]:
        stats = workdir / "locust_stats.csv"
        if not stats.exists():
            raise PerflabError(f"Locust wrote no statistics: {output.strip()[-300:]}")
        with stats.open(newline="") as f:
            total = {row["Name"]: row for row in csv.DictReader(f)}.get("Aggregated")
        if not total or not int(total["Request Count"]):
            raise PerflabError(f"Locust made no requests: {output.strip()[-300:]}")
        # Requests/s = Request Count / (last request - start of the run), Locust's own clock.
        count = int(total["Request Count"])
        return float(total["Requests/s"]), count, int(total["Failure Count"])


class PerflabRun(Generator):
    key = "perflab"

    def describe(self) -> str:
        from perflab import __version__

        return f"perflab {__version__} run"

    def command(self, url: str, run_time: int, users: int, workdir: Path) -> list[str]:
        return [self.binary, "run", "--headless", "-f", str(LOCUSTFILE), "--host", url,
                "-u", str(users), "-r", str(users), "-t", f"{run_time}s", "--quiet", "--out",
                str(workdir / "run"), USER_CLASS]  # fmt: skip

    def own(self, output: str, workdir: Path) -> tuple[float, int, int]:
        path = workdir / "run" / "results.json"
        try:
            results = json.loads(path.read_text())
        except (OSError, ValueError):
            raise PerflabError(
                f"perflab run wrote no results.json: {output.strip()[-300:]}"
            ) from None
        totals = results["totals"]
        if not totals["requests"]:
            raise PerflabError(f"perflab run made no requests: {output.strip()[-300:]}")
        return (totals["requests"] / results["duration_s"], totals["requests"],
                totals["failures"])  # fmt: skip


class Wrk(Generator):
    key = "wrk"

    def describe(self) -> str:
        return wrk_version(self.binary)

    def command(self, url: str, run_time: int, users: int, workdir: Path) -> list[str]:
        return [self.binary, "-t1", f"-c{users}", f"-d{run_time}s", url + "/"]

    def own(self, output: str, workdir: Path) -> tuple[float, int, int]:
        return parse_wrk_output(output)


def choose_generators(keys: list[str], install: bool, console: Console) -> list[Generator]:
    chosen: list[Generator] = []
    for key in keys:
        if key == "locust":
            chosen.append(PlainLocust(venv_script("locust")))
        elif key == "perflab":
            chosen.append(PerflabRun(venv_script("perflab")))
        else:
            binary = find_binary("wrk") or (apt_install(["wrk"], "wrk", console) if install
                                            else None)  # fmt: skip
            if binary:
                chosen.append(Wrk(binary))
            else:
                console.print("[yellow]wrk not available: no ceiling row[/]")
    return chosen
