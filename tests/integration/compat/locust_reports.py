"""Readers of Locust's own report files (`--csv PREFIX`, `--html FILE`), written once and
used on plain Locust's files and on `perflab run`'s alike: a pipeline that reads one reads
the other."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

TEMPLATE_ARGS = "window.templateArgs = "


@dataclass(frozen=True)
class CsvTable:
    header: list[str]
    rows: list[dict[str, str]]


def read_csv_table(path: Path) -> CsvTable:
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [dict(zip(header, row, strict=True)) for row in reader]
    return CsvTable(header, rows)


def stats_csv(prefix: Path) -> CsvTable:
    return read_csv_table(Path(f"{prefix}_stats.csv"))


def failures_csv(prefix: Path) -> CsvTable:
    return read_csv_table(Path(f"{prefix}_failures.csv"))


def exceptions_csv(prefix: Path) -> CsvTable:
    return read_csv_table(Path(f"{prefix}_exceptions.csv"))


def csv_request_names(table: CsvTable) -> set[tuple[str, str]]:
    """(method, name) of every row but the Aggregated one (`Type`/`Method` by file)."""
    method_key = "Type" if "Type" in table.header else "Method"
    return {(row[method_key], row["Name"]) for row in table.rows if row["Name"] != "Aggregated"}


def csv_total_requests(table: CsvTable) -> int:
    (total,) = [row for row in table.rows if row["Name"] == "Aggregated"]
    return int(total["Request Count"])


def html_template_args(path: Path) -> dict:
    """The statistics Locust embeds in its HTML report (`window.templateArgs = {...}`)."""
    text = path.read_text(encoding="utf-8")
    start = text.index(TEMPLATE_ARGS) + len(TEMPLATE_ARGS)
    args, _ = json.JSONDecoder().raw_decode(text, start)
    return args


def html_request_names(args: dict) -> set[tuple[str, str]]:
    return {
        (row["method"], row["name"])
        for row in args["requests_statistics"]
        if row["name"] != "Aggregated"
    }


def html_failure_names(args: dict) -> set[tuple[str, str]]:
    return {(row["method"], row["name"]) for row in args["failures_statistics"]}


def html_total_requests(args: dict) -> int:
    (total,) = [row for row in args["requests_statistics"] if row["name"] == "Aggregated"]
    return int(total["num_requests"])
