"""The call site of a query: the first frame in the app's own code, as file:line:function.

Walks frames without formatting a stack; whether a code object belongs to the app
is decided once per code object and cached (by id: hashing a code object hashes its
bytecode and constants), so the walk is a few dictionary lookups.

The walk stops at the view Django called (and at the probe's middleware): frames above
it are middleware and the server, never where a view's statement came from. It also
bounds the work: on Python 3.11 every ``f_back`` materialises a frame object, and when no
frame is app code (a DRF generic view) an unbounded walk climbs the whole gunicorn stack
(~45 frames) for every statement.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import traceback
import weakref
from itertools import count
from pathlib import Path
from types import CodeType

_PERFLAB_DIR = str(Path(__file__).resolve().parent.parent) + os.sep
_DEMO_DIR = _PERFLAB_DIR + "demo" + os.sep  # the reference app is "the app", not perflab
# id(code) -> code of the callables a walk stops at (kept alive: ids stay unique)
_BOUNDARIES: dict[int, CodeType] = {}
_BOUNDARY_FILES: set[str] = set()  # their files: never walked past by file name alone
_MARKED: dict[int, object] = {}  # id(callable) -> callable already marked
_FINDERS: weakref.WeakSet[CallsiteFinder] = weakref.WeakSet()  # told of boundaries marked later

# A code object's verdict, decided once: library code is walked past, app code is the call
# site, a boundary (library code a view runs in) ends the walk with no call site.
LIBRARY, APP, BOUNDARY, UNKNOWN = 0, 1, 2, -1


def mark_boundary(func) -> None:
    """Stop call-site walks at ``func`` (a view, or a middleware's ``__call__``) and at every
    callable it wraps (``__wrapped__``: csrf_exempt and DRF's view closures). A boundary
    that is app code (a function view) is still a call site: its own statements have one."""
    if id(func) in _MARKED:
        return
    _MARKED[id(func)] = func
    seen = 0
    while func is not None and seen < 10:
        code = getattr(func, "__code__", None)
        if code is not None:
            _BOUNDARIES[id(code)] = code
            _BOUNDARY_FILES.add(code.co_filename)
            for finder in _FINDERS:
                finder.forget(code)
        func = getattr(func, "__wrapped__", None)
        seen += 1


def _library_prefixes() -> tuple[str, ...]:
    prefixes = {_PERFLAB_DIR}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            prefixes.add(str(Path(path).resolve()) + os.sep)
    for module in ("django", "rest_framework", "asgiref", "gunicorn"):
        loaded = sys.modules.get(module)
        if loaded and getattr(loaded, "__file__", None):
            prefixes.add(str(Path(loaded.__file__).resolve().parent) + os.sep)
    return tuple(prefixes)


class CallsiteFinder:
    def __init__(self, extra_excludes: tuple[str, ...] = ()) -> None:
        self.library_prefixes = _library_prefixes()
        self.extra_excludes = extra_excludes
        # Files holding library code only (no boundary): the walk passes their frames on one
        # set lookup of the file name (a string: its hash is cached), most frames of a walk.
        self._library_files: set[str] = set()
        self._verdicts: dict[int, int] = {}  # id(code) -> LIBRARY, APP or BOUNDARY
        self._codes: dict[int, CodeType] = {}  # keeps the codes alive: ids stay unique
        self._cwd = os.getcwd() + os.sep
        _FINDERS.add(self)

    def forget(self, code: CodeType) -> None:
        """Decide ``code`` (and its file) again: it was marked a boundary after being seen."""
        self._verdicts.pop(id(code), None)
        self._library_files.discard(code.co_filename)

    def verdict(self, code: CodeType) -> int:
        known = self._verdicts.get(id(code), UNKNOWN)
        if known != UNKNOWN:
            return known
        filename = code.co_filename
        if self._is_app_file(filename):
            verdict = APP
        elif id(code) in _BOUNDARIES:
            verdict = BOUNDARY
        else:
            verdict = LIBRARY
            if filename not in _BOUNDARY_FILES:
                self._library_files.add(filename)
        self._codes[id(code)] = code
        self._verdicts[id(code)] = verdict
        return verdict

    def _is_app_file(self, filename: str) -> bool:
        if filename.startswith("<"):
            return False
        path = os.path.realpath(filename)
        if path.startswith(_DEMO_DIR):
            return True
        if path.startswith(self.library_prefixes) or "site-packages" in path:
            return False
        return not any(fragment in path for fragment in self.extra_excludes)

    def find(self, skip: int = 1, memo: list | None = None) -> str | None:
        """file:line:function of the innermost app frame above the caller, up to the view
        (or the probe's middleware); None when there is none.

        ``memo`` (one list per request) remembers the last app frame found, how deep it
        was and the code just below it. A loop issuing a statement per row (an N+1) asks
        from the same live frame, at the same instruction, through the same library
        call: ``sys._getframe(n)`` checks that by creating two frame objects instead of
        one for every frame of the ORM in between (~15 per statement). The assumption:
        from one instruction of one live frame, the same depth and the same first library
        call mean the same path, with no app callback in it that was not there before."""
        if memo:
            depth, app_frame, lasti, below, callsite = memo
            try:
                frame = sys._getframe(skip + 1 + depth)
            except ValueError:
                frame = None
            if (
                frame is app_frame
                and frame.f_lasti == lasti
                and sys._getframe(skip + depth).f_code is below
            ):
                return callsite
        frame = sys._getframe(skip + 1)
        library = self._library_files
        start = 0
        # The inner loop runs for every library frame of every statement (a DRF view: 12-17
        # per statement): one set lookup each, no call. ``frame.f_code`` on None (past the
        # outermost frame) ends the walk, not a test per turn.
        try:
            while True:
                for depth in count(start):  # noqa: B007 (used after the loop)
                    if frame.f_code.co_filename not in library:
                        break
                    frame = frame.f_back
                verdict = self.verdict(frame.f_code)
                if verdict != LIBRARY:
                    break
                frame = frame.f_back
                start = depth + 1
        except AttributeError:
            return None
        if verdict == BOUNDARY:
            return None
        code = frame.f_code
        callsite = f"{self.display_path(code.co_filename)}:{frame.f_lineno}:{code.co_name}"
        if memo is not None and depth:
            below = sys._getframe(skip + depth).f_code
            memo[:] = (depth, frame, frame.f_lasti, below, callsite)
        return callsite

    def display_path(self, filename: str) -> str:
        return filename[len(self._cwd) :] if filename.startswith(self._cwd) else filename

    def stack(self, skip: int = 1) -> list[str]:
        """The full stack, app frames and library frames alike (only when a rule asks)."""
        frames = traceback.extract_stack(sys._getframe(skip + 1))
        return [f"{self.display_path(f.filename)}:{f.lineno}:{f.name}" for f in frames]
