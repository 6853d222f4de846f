"""Query snapshots: what a block of test code ran, kept in a reviewed file beside the test.

``with Snapshot(test_file, test_name, update): ...`` opens a ``Capture`` around the block and
then compares the statements and cache calls it saw with the ones stored under the test's
key in ``<test module>.perf.yml`` (django-perf-rec's model). The file is meant for code
review: one key per test, one line per statement, in the order they ran, each request
announced by a ``request`` line naming its route and view. What would make the file change
from run to run, machine to machine or database to database is left out: parameters and
literals (the probe's fingerprint collapses them), a plain column list (``SELECT ... FROM``),
timings, call sites, transaction control, cache keys and hits.

A missing file or key is written and passes; a difference fails with a unified diff;
``update`` (``--perflab-update``, or ``PERFLAB_UPDATE_SNAPSHOTS=1``) rewrites the key.
PyYAML comes with the ``testing`` extra and is imported when a snapshot is read or written.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from perflab.budgets.capture import Capture, is_transaction_control
from perflab.errors import PerflabError
from perflab.probe.records import CacheEvent, QueryEvent, RequestRecord

try:  # POSIX: writers of one snapshot file (pytest-xdist workers) take turns
    import fcntl
except ImportError:  # pragma: no cover - Windows: writes stay atomic, not serialised
    fcntl = None

UPDATE_ENV = "PERFLAB_UPDATE_SNAPSHOTS"  # =1: rewrite snapshots (manage.py test has no option)
SUFFIX = ".perf.yml"
UPDATE_HINT = f"rerun with --perflab-update to accept (or {UPDATE_ENV}=1 under manage.py test)"
HEADER = (
    "# perflab query snapshots (perf.snapshot): the statements and cache calls each test\n"
    "# ran, in order. Review changes like code; rerun with --perflab-update to accept them.\n"
)
DEFAULT_ALIAS = "default"
OUTSIDE_LINE = "test code"  # the value of an ``outside`` entry: what follows ran outside requests
# A select list of plain column references: hidden as ``...``, so adding a field to a model
# does not change every snapshot that loads it. Aggregates and expressions stay.
_NAME = r'(?:"[^"]+"|`[^`]+`)'
_REFERENCE = rf"(?:(?:{_NAME}|\w+)\.)?{_NAME}"  # "table"."column", U0."id", "column"
_COLUMN = rf"(?:{_REFERENCE}|\({_REFERENCE}\))(?: AS {_NAME})?"
_PLAIN_COLUMNS = re.compile(rf"SELECT (DISTINCT )?{_COLUMN}(?:, ?{_COLUMN})* FROM ", re.I)
_HUNK_CONTEXT = 3  # unchanged lines around each change in a mismatch's diff

_taken_lock = threading.Lock()
_taken: dict[tuple[str, str], int] = {}  # (file, test name): snapshots taken under it


class SnapshotMismatch(AssertionError):
    """What a test ran differs from its stored snapshot; the message is the diff."""


class SnapshotFileError(PerflabError):
    """A snapshot file that cannot be read as one (named in a one-line message)."""


def snapshot_path(test_file: Path) -> Path:
    """``tests/test_views.py`` → ``tests/test_views.perf.yml``."""
    test_file = Path(test_file)
    if test_file.suffix in (".py", ".pyc"):
        return test_file.with_suffix(SUFFIX)
    return test_file.with_name(test_file.name + SUFFIX)


def update_from_environment() -> bool:
    """Whether ``PERFLAB_UPDATE_SNAPSHOTS`` asks for snapshots to be rewritten."""
    return os.environ.get(UPDATE_ENV, "").strip().lower() in ("1", "true", "yes")


def forget_taken_keys() -> None:
    """A new test begins: its first snapshot takes the bare key again (the pytest plugin
    calls this before each test, so a test run twice in one process does not number its
    snapshots on from the first run's)."""
    with _taken_lock:
        _taken.clear()


def _take_key(path: Path, test_name: str) -> str:
    """The test's name for its first snapshot; ``name.2``, ``name.3``… for the next ones in
    the same test (django-perf-rec's numbering)."""
    spec = (str(path), test_name)
    with _taken_lock:
        count = _taken[spec] = _taken.get(spec, 0) + 1
    return test_name if count == 1 else f"{test_name}.{count}"


class Snapshot:
    """``with Snapshot(test_file, test_name, update) as seen:`` — ``seen`` is the block's
    ``Capture``; on a clean exit what ran is compared with (or written to) the test's key in
    the snapshot file beside ``test_file``. ``status`` then says what happened: ``written``
    (a new key), ``matched``, ``updated`` (rewritten on request)."""

    def __init__(self, test_file: Path, test_name: str, update: bool = False) -> None:
        self.path = snapshot_path(test_file)
        self.test_name = test_name
        self.update = update or update_from_environment()
        self.key: str | None = None
        self.capture: Capture | None = None
        self.status: str | None = None

    def __enter__(self) -> Capture:
        self.key = _take_key(self.path, self.test_name)
        self.capture = Capture()
        return self.capture.__enter__()

    def __exit__(self, exc_type, exc, tb) -> None:
        __tracebackhide__ = True  # pytest shows the test's line and the diff, not ours
        self.capture.__exit__(exc_type, exc, tb)
        if exc_type is not None:  # the block's own error is the story: no compare, no write
            return
        self.check()

    def check(self) -> None:
        """Compare the capture with the stored key; write it when new or asked to."""
        __tracebackhide__ = True
        now = snapshot_entries(self.capture)
        stored = read_snapshots(self.path).get(self.key)
        if stored == now:
            self.status = "matched"
        elif stored is None or self.update:
            write_snapshot(self.path, self.key, now)
            self.status = "written" if stored is None else "updated"
        else:
            raise SnapshotMismatch(mismatch_message(self.path, self.key, stored, now, self.capture))


# -- what a capture lists ---------------------------------------------------------------------


def snapshot_entries(capture: Capture) -> list[dict[str, str]]:
    """The capture as a snapshot lists it: one ``{kind: text}`` per line, in the order things
    began; each request's statements follow its ``request`` line, test code's own follow an
    ``outside`` line when a request came before them."""
    outside = capture.outside
    groups: list[tuple[float, int, list[dict[str, str]]]] = []
    for event in _listed(outside):
        groups.append((_start_ms(event), len(groups), [_entry(event)]))
    for record in capture.requests:
        start = (record.started - outside.started) * 1000.0
        lines = [{"request": request_line(record)}]
        lines += [_entry(event) for event in sorted(_listed(record), key=_start_ms)]
        groups.append((start, len(groups), lines))
    groups.sort(key=lambda group: group[:2])
    entries: list[dict[str, str]] = []
    in_request = False
    for _, _, lines in groups:
        opens_request = "request" in lines[0]
        if in_request and not opens_request:
            entries.append({"outside": OUTSIDE_LINE})
        in_request = opens_request
        entries += lines
    if capture.skipped_queries:
        entries.append({"skipped": f"{capture.skipped_queries} statements beyond the limit"})
    return entries


def request_line(record: RequestRecord) -> str:
    """``GET api/posts/<pk>/ → blog.views.PostDetail (200)``: the route, not the path, so
    ids and query strings do not change the line."""
    where = record.route or record.path
    view = f" → {record.view}" if record.view else ""
    return f"{record.method} {where}{view} ({record.status})"


def statement_text(fingerprint: str) -> str:
    """The fingerprint on one line, with a plain column list read as ``...``."""
    text = " ".join(fingerprint.split())
    return _PLAIN_COLUMNS.sub(lambda m: f"SELECT {m[1] or ''}... FROM ", text)


def _listed(record: RequestRecord) -> list[QueryEvent | CacheEvent]:
    queries = [q for q in record.queries if not is_transaction_control(q)]
    return [*queries, *record.cache]


def _start_ms(event: QueryEvent | CacheEvent) -> float:
    return event.start_ms if event.start_ms is not None else 0.0


def _entry(event: QueryEvent | CacheEvent) -> dict[str, str]:
    if isinstance(event, QueryEvent):
        return {_kind("db", event.alias): statement_text(event.fingerprint)}
    return {_kind("cache", event.cache): event.operation}


def _kind(kind: str, alias: str) -> str:
    return kind if alias == DEFAULT_ALIAS else f"{kind}|{alias}"


# -- the file ---------------------------------------------------------------------------------


def read_snapshots(path: Path) -> dict[str, list[dict[str, str]]]:
    """Every key of a snapshot file (``{}`` when there is none); a file that is not one is a
    ``SnapshotFileError`` naming it, not the YAML parser's traceback."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise SnapshotFileError(f"{path}: cannot read the snapshot file: {error}") from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise SnapshotFileError(
            f"{path}: not valid YAML{where}; fix it or delete it and rerun with --perflab-update"
        ) from None
    if data is None:
        return {}
    if not _is_snapshots(data):
        raise SnapshotFileError(
            f"{path}: not a perflab snapshot file (expected test names, each a list of "
            "'kind: text' lines)"
        )
    return {key: [{k: v} for line in lines for k, v in line.items()] for key, lines in data.items()}


def _is_snapshots(data: object) -> bool:
    if not isinstance(data, dict):
        return False
    for key, lines in data.items():
        if not isinstance(key, str) or not isinstance(lines, list):
            return False
        for line in lines:
            if not (isinstance(line, dict) and len(line) == 1):
                return False
            ((kind, text),) = line.items()
            if not (isinstance(kind, str) and isinstance(text, str)):
                return False
    return True


def write_snapshot(path: Path, key: str, entries: list[dict[str, str]]) -> None:
    """Store ``entries`` under ``key``, keeping every other key: the file is read again and
    replaced whole (a temporary file, then ``os.replace``), so a crash leaves the old file or
    the new one, never half of one."""
    with _writers_take_turns(path.parent):
        data = read_snapshots(path)
        data[key] = entries
        text = HEADER + dump_snapshots(data)
        with contextlib.suppress(OSError):
            if path.read_text(encoding="utf-8") == text:
                return
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def dump_snapshots(data: dict[str, list[dict[str, str]]]) -> str:
    """Block style, sorted keys, one line per entry however long: a layout that diffs well."""
    import yaml

    return yaml.safe_dump(
        data, default_flow_style=False, sort_keys=True, allow_unicode=True, width=1 << 30
    )


@contextlib.contextmanager
def _writers_take_turns(directory: Path) -> Iterator[None]:
    """An exclusive lock on the directory while a file in it is read, changed and replaced."""
    if fcntl is None:
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# -- the failure ------------------------------------------------------------------------------


def _line(entry: dict[str, str]) -> str:
    ((kind, text),) = entry.items()
    return f"{kind}: {text}"


def mismatch_message(
    path: Path,
    key: str,
    stored: list[dict[str, str]],
    now: list[dict[str, str]],
    capture: Capture | None = None,
) -> str:
    """A unified diff of the stored lines against what ran, each hunk headed by the request
    its change is in, then where the added statements ran, then how to accept the change."""
    old, new = [_line(e) for e in stored], [_line(e) for e in now]
    lines = [
        f"query snapshot '{key}' in {path} does not match what ran (- stored, + now):",
        f"--- {path.name} ({key})",
        "+++ now",
    ]
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for group in matcher.get_grouped_opcodes(_HUNK_CONTEXT):
        lines.append(_hunk_header(group, old, new))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [f" {line}" for line in old[i1:i2]]
                continue
            lines += [f"-{line}" for line in old[i1:i2]]
            lines += [f"+{line}" for line in new[j1:j2]]
    lines += _added_statements_places(old, new, capture)
    lines.append(UPDATE_HINT)
    return "\n".join(lines)


def _hunk_header(group: list[tuple], old: list[str], new: list[str]) -> str:
    first, last = group[0], group[-1]
    i1, i2, j1, j2 = first[1], last[2], first[3], last[4]
    header = f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@"
    changed = next((op for op in group if op[0] != "equal"), first)
    request = _request_before(new, changed[3], j1) or _request_before(old, changed[1], i1)
    return f"{header} {request}" if request else header


def _request_before(lines: list[str], change: int, hunk_start: int) -> str | None:
    """The request line a change belongs to, when the hunk does not show it already."""
    for index in range(change - 1, -1, -1):
        if lines[index].startswith("request: "):
            return lines[index] if index < hunk_start else None
    return None


def _range(start: int, stop: int) -> str:
    length = stop - start
    first = start + 1 if length else start
    return f"{first}" if length == 1 else f"{first},{length}"


def _added_statements_places(old: list[str], new: list[str], capture: Capture | None) -> list[str]:
    """Where each statement that is new to the snapshot ran (call site, template line)."""
    if capture is None:
        return []
    added = {line for line in new if line.startswith("db") and line not in old}
    places: dict[str, list[str]] = {}
    for record in capture.records:
        for query in record.queries:
            line = _line(_entry(query))
            if line in added and query.location:
                places.setdefault(line, [])
                if query.location not in places[line]:
                    places[line].append(query.location)
    if not places:
        return []
    out = ["new statements ran at:"]
    for line, where in places.items():
        out.append(f"  {line}")
        out += [f"    {place}" for place in where]
    return out
