"""What every benchmark here needs from the machine: CPU pinning and accounting, tools from apt.

Benchmarks pin the server to one CPU and the load generator to another so that "per core"
is literal and the two never compete; these helpers do the pinning, count CPU seconds, and
install missing Debian tools (wrk, nginx) when running as root.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

import psutil
from rich.console import Console

SERVER_CPU, LOADGEN_CPU = 0, 1


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and {SERVER_CPU, LOADGEN_CPU} <= os.sched_getaffinity(0)


def pin_tree(pid: int, cpu: int) -> int:
    """Pin every thread of ``pid`` and its descendants to ``cpu``; the number of threads pinned."""
    root = psutil.Process(pid)
    pinned = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            for thread in process.threads():
                os.sched_setaffinity(thread.id, {cpu})
                pinned += 1
        except (psutil.NoSuchProcess, ProcessLookupError):
            pass
    return pinned


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants (0 once it is gone)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def busy_cpu_seconds(cpus: set[int] | None) -> float:
    """Non-idle CPU seconds so far of ``cpus`` (all when None), whoever used them."""
    per_cpu = psutil.cpu_times(percpu=True)
    chosen = per_cpu if cpus is None else [per_cpu[i] for i in sorted(cpus) if i < len(per_cpu)]
    return sum(sum(t) - t.idle - getattr(t, "iowait", 0.0) for t in chosen)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def find_binary(name: str) -> str | None:
    """On PATH, or in /usr/sbin (nginx; not on a non-root user's PATH)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def apt_install(packages: list[str], binary: str, console: Console) -> str | None:
    """``apt-get install -y`` the first of ``packages`` that installs (``apt-get update`` once
    if none does), when running as root with apt-get; the path of ``binary`` or None."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        console.print(f"{binary} not found (not root or no apt-get: not installing it)")
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    attempts = [["apt-get", "install", "-y", p] for p in packages]
    attempts += [["apt-get", "update"], *attempts]
    for attempt in attempts:
        console.print(f"{binary} not found: running [bold]{' '.join(attempt)}[/]")
        try:
            result = subprocess.run(attempt, capture_output=True, text=True, env=env,
                                    stdin=subprocess.DEVNULL, timeout=300, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            console.print(f"  {' '.join(attempt)} did not finish within 300 s")
            return None
        if result.returncode != 0:
            tail = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            console.print(f"  failed ({result.returncode}): {tail}")
            continue
        found = find_binary(binary)
        if attempt[1] == "install" and found:
            console.print(f"  installed {found}")
            return found
    return None
