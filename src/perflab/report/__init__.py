"""Reading runs: the HTML report and run-to-run comparison, from the run directory and store."""

from __future__ import annotations

from pathlib import Path


def build_report(
    run_dir: Path | str, store: Path | str | None = None, out: Path | str | None = None
) -> Path:
    """Write RUN_DIR's HTML report (RUN_DIR/report.html unless ``out``); returns its path."""
    from perflab.report.render import build_report as build

    return build(run_dir, store=store, out=out)


__all__ = ["build_report"]
