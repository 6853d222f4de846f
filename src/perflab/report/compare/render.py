"""Rendering a ``Comparison``: its cells, a rich terminal table, and GitHub Markdown.

The third rendering, JSON, is ``Comparison.as_dict`` (the model serialises itself). Each
renderer reads only the model, so none can disagree with another about the verdict.
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from perflab.report.compare.limits import LATENCY
from perflab.report.compare.model import (
    KIND_LABELS,
    SERVER_COLUMNS,
    Comparison,
    Row,
    finding_kinds,
    percent_change,
)
from perflab.report.compare.server import Run

COLUMNS = (
    ("requests", "requests"), ("p50", "p50 ms"), ("p95", "p95 ms"), ("p99", "p99 ms"),
    ("rps", "req/s"), ("error_rate", "errors"), ("queries", "queries/req"),
    ("findings", "new findings"),
)  # fmt: skip


# -- cells: text and tone, shared by the renderers -----------------------------------------


def cell(row: Row, metric: str) -> tuple[str, str]:
    """(text, tone) for one table cell; tone is exceeded, worse, better, same, few or none."""
    if metric == "findings":
        found = row.new_findings
        if found is None:
            return ("?" if row.state != "totals" and (row.new or row.base) else "", "none")
        if row.state == "removed":
            return "", "none"
        text = f"{len(found)}" + (f" ({finding_kinds(found)})" if found else "")
        tone = "exceeded" if row.exceeded(metric) else "worse" if found else "same"
        return text, tone
    old = row.base.value(metric) if row.base else None
    new = row.new.value(metric) if row.new else None
    if metric in SERVER_COLUMNS and row.state == "totals":
        return "", "none"
    fmt = _format(metric)
    if row.state in ("added", "removed"):
        value = new if row.state == "added" else old
        shown = "?" if value is None else fmt(value)
        return (f"— → {shown}" if row.state == "added" else f"{shown} → —"), "none"
    if old is None or new is None:
        return f"{'?' if old is None else fmt(old)} → {'?' if new is None else fmt(new)}", "none"
    if metric == "requests":
        return f"{fmt(old)} → {fmt(new)}", "none"
    if metric in LATENCY or metric == "rps":
        delta = percent_change(new, old)
    elif metric == "error_rate":
        delta = f"{(new - old) * 100:+.1f} pp"
    else:
        delta = f"{new - old:+.1f}"
    text = f"{fmt(old)} → {fmt(new)} ({delta})"
    if row.exceeded(metric):
        return text, "exceeded"
    if row.few_requests and metric in (*LATENCY, "rps"):
        return text, "few"
    if re.fullmatch(r"[+\-±]?0(\.0+)?( ?%| pp)?", delta):
        return text, "same"
    worse = new < old if metric == "rps" else new > old
    return text, "worse" if worse else "better"


def _format(metric: str):
    if metric == "requests":
        return lambda v: f"{int(v):,}"
    if metric == "error_rate":
        return lambda v: f"{v:.1%}"
    return lambda v: f"{v:,.1f}"


def _columns(c: Comparison) -> list[tuple[str, str]]:
    return [(m, t) for m, t in COLUMNS if c.server or m not in SERVER_COLUMNS]


def _run_line(which: str, run: Run, code=lambda text: text) -> str:
    r = run.results
    return (
        f"{which}: {code(run.name)} ({code(str(run.path))}) — {r.started_at}, "
        f"{r.duration_s:.0f} s, {r.totals.requests:,} requests, {r.status}"
    )


def _new_findings(c: Comparison) -> list[tuple[Row, dict[str, Any]]]:
    return [(row, f) for row in c.rows for f in (row.new_findings or []) if row.state == "both"]


# -- renderers ------------------------------------------------------------------------------

_STYLES = {"exceeded": "bold red", "worse": "red", "better": "green", "few": "dim"}


def render_terminal(c: Comparison, console: Console) -> None:
    """A rich table: regressions red (bold past a limit), improvements green, then the verdict."""
    console.print(escape(_run_line("base", c.base)))
    console.print(escape(_run_line("new ", c.new)))
    table = Table(title="per endpoint, base → new (client latency in ms)", title_justify="left")
    table.add_column("endpoint", overflow="fold")
    for _, title in _columns(c):
        table.add_column(title, justify="right")
    for row in [*c.rows, c.totals]:
        if row.state == "totals":
            table.add_section()
        label = escape(row.label) + ("*" if row.few_requests else "")
        if row.state in ("added", "removed"):
            label += f" [dim]({row.state})[/]"
        cells = []
        for metric, _ in _columns(c):
            text, tone = cell(row, metric)
            style = _STYLES.get(tone)
            cells.append(f"[{style}]{escape(text)}[/]" if style else escape(text))
        table.add_row(label, *cells, style="bold" if row.state == "totals" else None)
    console.print(table)
    for row, f in _new_findings(c):
        console.print(
            f"[red]new {KIND_LABELS.get(f['kind'], f['kind'])}[/] on {escape(row.label)} at "
            f"{escape(f.get('callsite') or '-')}: {float(f.get('per_request') or 0):.0f} "
            f"statements per request" + (f"; hint: {escape(f['hint'])}" if f.get("hint") else "")
        )
        console.print(f"  [dim]{escape((f.get('example_sql') or '')[:160])}[/]")
    for note in c.notes:
        console.print(f"[dim]note: {escape(note)}[/]")
    console.print(_verdict_terminal(c))


def _verdict_terminal(c: Comparison) -> str:
    if c.verdict == "none":
        return "no limits given (--max-regression): deltas only"
    limits = ", ".join(escape(lim.describe()) for lim in c.limits)
    if c.verdict == "pass":
        return f"[bold green]PASS[/]: no limit exceeded ({limits})"
    lines = [f"[bold red]FAIL[/]: {len(c.breaches)} limit{'s' * (len(c.breaches) != 1)} "
             f"exceeded ({limits})"]  # fmt: skip
    lines += [f"  [red]✗[/] {escape(b.endpoint)}: {escape(b.detail)}" for b in c.breaches]
    return "\n".join(lines)


def _md_code(text: str) -> str:
    """Inline code that survives a table cell: ``<pk>`` stays literal, ``|`` is escaped."""
    text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_text(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>|])", r"\\\1", text)


def render_markdown(c: Comparison) -> str:
    """GitHub-flavoured Markdown for a pull-request comment: a table, the verdict, notes."""
    columns = _columns(c)
    lines = [
        f"### perflab compare: {_md_code(c.base.name)} → {_md_code(c.new.name)}",
        "",
        f"- {_run_line('base', c.base, _md_code)}",
        f"- {_run_line('new', c.new, _md_code)}",
        "",
        "| endpoint | " + " | ".join(title for _, title in columns) + " |",
        "| --- | " + " | ".join("---:" for _ in columns) + " |",
    ]
    for row in [*c.rows, c.totals]:
        label = f"**{row.label}**" if row.state == "totals" else _md_code(row.label)
        if row.few_requests:
            label += " \\*"
        if row.state in ("added", "removed"):
            label += f" ({row.state})"
        cells = []
        for metric, _ in columns:
            text, tone = cell(row, metric)
            text = _md_text(text)
            cells.append(f"**{text}** ❌" if tone == "exceeded" else text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("")
    if c.verdict == "none":
        lines.append("No limits given (`--max-regression`): deltas only.")
    elif c.verdict == "pass":
        limits = ", ".join(lim.describe() for lim in c.limits)
        lines.append(f"**Verdict: pass** — no limit exceeded ({_md_text(limits)}).")
    else:
        n = len(c.breaches)
        lines.append(f"**Verdict: FAIL** — {n} limit{'s' * (n != 1)} exceeded:")
        lines.append("")
        lines += [f"- {_md_code(b.endpoint)}: {_md_text(b.detail)}" for b in c.breaches]
    found = _new_findings(c)
    if found:
        lines += ["", "New findings:", ""]
        for row, f in found:
            kind = KIND_LABELS.get(f["kind"], f["kind"])
            hint = f"; hint: {_md_code(f['hint'])}" if f.get("hint") else ""
            lines.append(
                f"- {kind} on {_md_code(row.label)} at {_md_code(f.get('callsite') or '-')}: "
                f"{float(f.get('per_request') or 0):.0f} statements per request{hint}"
            )
    if c.notes:
        lines += ["", "Notes:", ""]
        lines += [f"- {_md_text(note)}" for note in c.notes]
    return "\n".join(lines) + "\n"
