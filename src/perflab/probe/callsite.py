"""Where a statement came from: the app's own line, the template line, the serializer field.

``CallsiteFinder.find`` walks the stack once per statement and finds a ``Where``:

- ``callsite``: the innermost frame in the app's own code, as ``file:line:function``;
- ``template``: the innermost Django template node or Jinja2 template line being rendered,
  as ``name.html:line`` — real apps run most of their per-row statements there, after the
  view returned (``TemplateResponse``, generic views, Wagtail's ``Page.serve``);
- ``origin``, when there is no app frame: the DRF serializer field being filled
  (``file:line:PostSerializer.author``), else the innermost frame outside the ORM (the
  writer adds the view's name: ``rest_framework/mixins.py:40:list ← blog.views.PostList``);
- ``location``: one string to show and to group N+1s by, innermost part first
  (``card.html:5 ← views.py:20:index``); None for the bare fallback, completed later.

Whether a code object belongs to the app is decided once per code object and cached (by
id: hashing a code object hashes its bytecode and constants), so the walk is a few
dictionary lookups. It stops at the view Django called (and at the probe's middleware, and
at ``SimpleTemplateResponse.render``): frames above are middleware and the server. It also
bounds the work: on Python 3.11 every ``f_back`` materialises a frame object.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import re
import sys
import sysconfig
import traceback
import weakref
from itertools import count
from pathlib import Path
from types import CodeType, FrameType
from typing import NamedTuple

_PERFLAB_DIR = str(Path(__file__).resolve().parent.parent) + os.sep
# id(code) -> code of the callables a walk stops at (kept alive: ids stay unique)
_BOUNDARIES: dict[int, CodeType] = {}
_BOUNDARY_FILES: set[str] = set()  # their files: never walked past by file name alone
_MARKED: dict[int, object] = {}  # id(callable) -> callable already marked
_FINDERS: weakref.WeakSet[CallsiteFinder] = weakref.WeakSet()  # told of boundaries marked later

# A code object's verdict, decided once: library code is walked past, app code is the call
# site, a boundary (library code a view runs in) ends the walk with no call site; a template
# node or a serializer filling its fields says where library code is working for the app.
LIBRARY, APP, BOUNDARY, DJANGO_NODE, JINJA, SERIALIZER, UNKNOWN = 0, 1, 2, 3, 4, 5, -1
_COMPREHENSIONS = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>"})
# id(code) -> (code, verdict) of the library functions that tell where a statement is
_WATCHED: dict[int, tuple[CodeType, int]] = {}


class Where(NamedTuple):
    """Where one statement ran (see the module docstring)."""

    callsite: str | None
    template: str | None = None
    origin: str | None = None
    location: str | None = None

    @classmethod
    def of(cls, found: str | tuple | None) -> Where:
        """What ``CallsiteFinder.find`` returned, as a ``Where``."""
        if found is None:
            return cls(None)
        if type(found) is str:
            return cls(found, None, None, found)
        return cls(*found)


def shown_location(found: str | tuple | None) -> str | None:
    """What ``CallsiteFinder.find`` returned, as one string to show (a cache call's or a
    template render's place; statements keep every part, for their findings)."""
    if found is None or type(found) is str:
        return found
    where = Where.of(found)
    return where.location or where.callsite or where.template or where.origin


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


def _watch(func, verdict: int) -> None:
    code = func.__code__
    _WATCHED[id(code)] = (code, verdict)
    _BOUNDARY_FILES.add(code.co_filename)  # its file is never passed by name alone
    for finder in _FINDERS:
        finder.forget(code)


def watch_frameworks() -> None:
    """Watch the library functions that locate statements: Django's template nodes and DRF's
    ``Serializer.to_representation``; stop at ``SimpleTemplateResponse.render`` (above it is
    only the request handler). Called once when the probe installs."""
    from django.template.base import Node
    from django.template.response import SimpleTemplateResponse

    _watch(Node.render_annotated, DJANGO_NODE)
    mark_boundary(SimpleTemplateResponse.render)
    try:
        from rest_framework.serializers import Serializer
    except ImportError:
        return
    _watch(Serializer.to_representation, SERIALIZER)


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


def project_packages() -> tuple[str, ...]:
    """The project's own packages, those of Django's ``ROOT_URLCONF`` and
    ``WSGI_APPLICATION``: they are the app wherever they are installed (a project installed
    into site-packages, as in a Docker image built from a wheel; the reference app inside
    perflab's own directory). A top-level module names no package; perflab itself is never
    the app."""
    try:
        from django.conf import settings

        urlconf = settings.ROOT_URLCONF
        application = getattr(settings, "WSGI_APPLICATION", None)
    except Exception:  # settings not configured: the usual rules alone
        return ()
    modules = [urlconf if isinstance(urlconf, str) else getattr(urlconf, "__name__", "")]
    if isinstance(application, str):
        modules.append(application.rpartition(".")[0])  # "pkg.wsgi.application": pkg.wsgi
    packages = {module.rpartition(".")[0] for module in modules}
    return tuple(sorted(p for p in packages if p))


def _package_dirs(packages: tuple[str, ...]) -> tuple[str, ...]:
    """Directories of ``packages`` (never perflab's own or one holding it)."""
    dirs = set()
    for package in packages:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for location in (spec and spec.submodule_search_locations) or ():
            path = str(Path(location).resolve()) + os.sep
            if not _PERFLAB_DIR.startswith(path):
                dirs.add(path)
    return tuple(sorted(dirs))


def _orm_files() -> set[str]:
    """Every source file of ``django.db``, named as its code objects name it: the frames a
    statement passes before reaching whoever asked for it."""
    import django.db

    root = os.path.dirname(django.db.__file__)
    return {
        os.path.join(folder, name)
        for folder, _, names in os.walk(root)
        for name in names
        if name.endswith(".py")
    }


class CallsiteFinder:
    def __init__(
        self, extra_excludes: tuple[str, ...] = (), app_packages: tuple[str, ...] | None = None
    ) -> None:
        """``extra_excludes``: path fragments that are not the app; ``app_packages``: dotted
        packages that are, wherever installed (default: ``project_packages()``)."""
        self.library_prefixes = _library_prefixes()
        self.extra_excludes = extra_excludes
        self.app_dirs = _package_dirs(project_packages() if app_packages is None else app_packages)
        # Files holding library code only (no boundary): the walk passes their frames on one
        # set lookup of the file name (a string: its hash is cached), most frames of a walk.
        self._library_files: set[str] = set()
        self._orm = _orm_files()
        self._verdicts: dict[int, int] = {}  # id(code) -> LIBRARY, APP, BOUNDARY, ...
        self._codes: dict[int, CodeType] = {}  # keeps the codes alive: ids stay unique
        self._serializer_sites: dict[tuple[type, str], str] = {}
        self._sites: dict[tuple[int, int], str] = {}  # (id(code), line) -> file:line:function
        self._cwd = os.getcwd() + os.sep
        self._short_prefixes = sorted(
            (p for p in self.library_prefixes if p != _PERFLAB_DIR), key=len, reverse=True
        )
        _FINDERS.add(self)

    def forget(self, code: CodeType) -> None:
        """Decide ``code`` (and its file) again: it was marked a boundary after being seen."""
        self._verdicts.pop(id(code), None)
        self._library_files.discard(code.co_filename)

    def verdict(self, frame: FrameType) -> int:
        code = frame.f_code
        known = self._verdicts.get(id(code), UNKNOWN)
        if known != UNKNOWN:
            return known
        filename = code.co_filename
        watched = _WATCHED.get(id(code))
        if watched is not None:
            verdict = watched[1]
        elif "__jinja_template__" in frame.f_globals:  # a compiled Jinja2 template
            verdict = JINJA
        elif self._is_app_file(filename):
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
        if path.startswith(self.app_dirs):
            return True
        if path.startswith(self.library_prefixes) or "site-packages" in path:
            return False
        return not any(fragment in path for fragment in self.extra_excludes)

    def find(
        self, skip: int = 1, memo: list | None = None, rendering: bool = False
    ) -> str | tuple | None:
        """Where the statement running ``skip`` frames above the caller came from, for
        ``Where.of``: the call site alone as a str (most statements: no object to make, and
        the same str from the memo is pickled once per queued record), otherwise a plain
        tuple of ``Where``'s fields.

        ``rendering``: a template is being rendered for this request, so a template line
        may sit above the app frame (a model method called from a template): the walk then
        goes on past the app frame to the innermost template node.

        ``memo`` (one list per request) remembers the last app frame found, how deep it
        was and the code just below it. A loop issuing a statement per row (an N+1) asks
        from the same live frame, at the same instruction, through the same library
        call: ``sys._getframe(n)`` checks that by creating two frame objects instead of
        one for every frame of the ORM in between (~15 per statement). The assumption:
        from one instruction of one live frame, the same depth and the same first library
        call mean the same path, with no app callback in it that was not there before.
        Template nodes are new frames for every row, so statements located by a template
        alone are walked every time."""
        if memo:
            depth, app_frame, lasti, below, where = memo
            try:
                frame = sys._getframe(skip + 1 + depth)
            except ValueError:
                frame = None
            if (
                frame is app_frame
                and frame.f_lasti == lasti
                and sys._getframe(skip + depth).f_code is below
            ):
                return where
        frame = sys._getframe(skip + 1)
        orm = self._orm
        depth = 0
        while frame is not None and frame.f_code.co_filename in orm:
            frame = frame.f_back
            depth += 1
        innermost = frame  # the first frame outside the ORM: the fallback origin
        library = self._library_files
        start = depth
        callsite = template = origin = app_frame = None
        app_depth = template_depth = origin_depth = 0
        # The inner loop runs for every library frame of every statement (a DRF view: 12-17
        # per statement): one set lookup each, no call. ``frame.f_code`` on None (past the
        # outermost frame) ends the walk, not a test per turn.
        try:
            while True:
                for depth in count(start):  # noqa: B007 (used after the loop)
                    if frame.f_code.co_filename not in library:
                        break
                    frame = frame.f_back
                verdict = self.verdict(frame)
                if verdict == APP:
                    code = frame.f_code
                    if callsite is None:
                        callsite = self.site(frame)
                        app_frame, app_depth = frame, depth
                        if template is not None or not rendering:
                            break
                    if id(code) in _BOUNDARIES:  # the view: no template can be above it
                        break
                elif verdict in (DJANGO_NODE, JINJA):
                    if template is None:
                        template, template_depth = _template_line(frame, verdict), depth
                        if callsite is not None:
                            break
                elif verdict == SERIALIZER:
                    if origin is None and callsite is None and template is None:
                        origin, origin_depth = self._serializer_field(frame), depth
                elif verdict == BOUNDARY:
                    break
                frame = frame.f_back
                start = depth + 1
        except AttributeError:
            pass
        if callsite is not None and template is None and origin is None:
            if memo is not None and app_depth:
                below = sys._getframe(skip + app_depth).f_code
                memo[:] = (app_depth, app_frame, app_frame.f_lasti, below, callsite)
            return callsite
        if callsite is not None or template is not None or origin is not None:
            # Innermost first: "card.html:5 ← views.py:20:index" is a template line reached
            # from the view's render call; "models.py:9:image ← card.html:5" the other way.
            parts = sorted(
                (d, text)
                for d, text in ((app_depth, callsite), (template_depth, template),
                                (origin_depth, origin))
                if text is not None
            )  # fmt: skip
            return (callsite, template, origin, " ← ".join(text for _, text in parts))
        if innermost is None:
            return None
        return (None, None, self.site(innermost), None)

    def site(self, frame: FrameType) -> str:
        """``file:line:function`` of a frame. A list, dict or set comprehension is named by
        the function it is in: Python 3.12 runs them inline (PEP 709), 3.11 in a frame of
        their own, and a call site must read the same on both."""
        code = frame.f_code
        key = (id(code), frame.f_lineno)
        site = self._sites.get(key)
        if site is None:
            name = code.co_name
            if name in _COMPREHENSIONS and frame.f_back is not None:
                name = frame.f_back.f_code.co_name
            site = f"{self.display_path(code.co_filename)}:{frame.f_lineno}:{name}"
            self._codes[id(code)] = code  # the id stays this code's
            self._sites[key] = site
        return site

    def _serializer_field(self, frame: FrameType) -> str | None:
        """``serializers.py:12:PostSerializer.author``: the field DRF is filling."""
        values = frame.f_locals
        serializer, field = values.get("self"), values.get("field")
        name = getattr(field, "field_name", None)
        if serializer is None or not name:
            return None
        key = (type(serializer), name)
        site = self._serializer_sites.get(key)
        if site is None:
            site = self._serializer_sites[key] = self._declaration(type(serializer), name)
        return site

    def _declaration(self, cls: type, name: str) -> str:
        """Where ``name`` is declared on ``cls`` or a base (else the class statement)."""
        declared = re.compile(rf"^\s+{re.escape(name)}\s*=")
        first = None
        for klass in cls.__mro__:
            try:
                lines, start = inspect.getsourcelines(klass)
                filename = inspect.getsourcefile(klass) or ""
            except (OSError, TypeError):
                continue
            if first is None:
                first = (filename, start)
            for offset, line in enumerate(lines):
                if declared.match(line):
                    return f"{self.display_path(filename)}:{start + offset}:{cls.__name__}.{name}"
        filename, start = first or (getattr(sys.modules.get(cls.__module__), "__file__", ""), 0)
        return f"{self.display_path(filename or '?')}:{start}:{cls.__name__}.{name}"

    def display_path(self, filename: str) -> str:
        """Relative to the working directory, or to the library folder it is in."""
        if filename.startswith(self._cwd):
            return filename[len(self._cwd) :]
        for prefix in self._short_prefixes:
            if filename.startswith(prefix):
                return filename[len(prefix) :]
        return filename

    def stack(self, skip: int = 1) -> list[str]:
        """The full stack, app frames and library frames alike (only when a rule asks)."""
        frames = traceback.extract_stack(sys._getframe(skip + 1))
        return [f"{self.display_path(f.filename)}:{f.lineno}:{f.name}" for f in frames]


def _template_line(frame: FrameType, verdict: int) -> str | None:
    """``name.html:line`` of the node a Django template frame renders, or of a Jinja2
    template's frame."""
    try:
        if verdict == JINJA:
            template = frame.f_globals["__jinja_template__"]
            line = template.get_corresponding_lineno(frame.f_lineno)
            return f"{template.name or template.filename or '<string>'}:{line}"
        node = frame.f_locals.get("self")
        origin = node.origin
        name = origin.template_name or origin.name
        return f"{name}:{node.token.lineno}"
    except Exception:  # a node built by hand, with no origin or token
        return None
