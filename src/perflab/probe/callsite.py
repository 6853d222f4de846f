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
_MARKED: dict[int, object] = {}  # id(callable) -> callable already marked
_FINDERS: weakref.WeakSet[CallsiteFinder] = weakref.WeakSet()  # told of boundaries marked later

# A code object's verdict, decided once: library code is walked past, app code is the call
# site, a boundary ends the walk. Only LIBRARY is false: the walk tests one value per frame.
LIBRARY, APP, BOUNDARY, UNKNOWN = 0, 1, 2, -1


def mark_boundary(func) -> None:
    """Stop call-site walks at ``func`` (a view, or a middleware's ``__call__``) and at every
    callable it wraps (``__wrapped__``: csrf_exempt and DRF's view closures)."""
    if id(func) in _MARKED:
        return
    _MARKED[id(func)] = func
    seen = 0
    while func is not None and seen < 10:
        code = getattr(func, "__code__", None)
        if code is not None:
            _BOUNDARIES[id(code)] = code
            for finder in _FINDERS:
                finder.remember(code, BOUNDARY)
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
        self._verdicts: dict[int, int] = {}  # id(code) -> LIBRARY, APP or BOUNDARY
        self._codes: dict[int, CodeType] = {}  # keeps the codes alive: ids stay unique
        self._cwd = os.getcwd() + os.sep
        _FINDERS.add(self)

    def remember(self, code: CodeType, verdict: int) -> int:
        self._codes[id(code)] = code
        self._verdicts[id(code)] = verdict
        return verdict

    def verdict(self, code: CodeType) -> int:
        known = self._verdicts.get(id(code), UNKNOWN)
        if known != UNKNOWN:
            return known
        if id(code) in _BOUNDARIES:
            return self.remember(code, BOUNDARY)
        return self.remember(code, APP if self._is_app_file(code.co_filename) else LIBRARY)

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
        verdict_of = self._verdicts.get
        # The loop runs for every frame of every statement (a DRF view: 13-18 frames), so
        # it tests one value per frame and leaves the rest to the rare frames that stop it:
        # ``frame.f_code`` on None (past the outermost frame) ends it, not a test per turn.
        try:
            for depth in count():  # noqa: B007 (used after the loop)
                if verdict_of(id(frame.f_code), UNKNOWN) and self.verdict(frame.f_code):
                    break
                frame = frame.f_back
        except AttributeError:
            return None
        code = frame.f_code
        if self._verdicts[id(code)] == BOUNDARY:
            return None
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
