"""The user's locustfiles, loaded as Locust loads them, with one-line errors."""

from __future__ import annotations

import inspect
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from perflab.errors import PerflabError


@dataclass
class Scenario:
    paths: list[Path]  # every locustfile ``-f`` named (a comma list or a directory gives several)
    user_classes: list[type]
    shapes: list  # LoadTestShape instances the locustfiles define
    available: dict[str, type] = field(default_factory=dict)  # every user class, by name
    tasks: dict[str, list] = field(default_factory=dict)  # each user class's tasks (Locust's UI)

    @property
    def path(self) -> Path:
        """The first locustfile: the one the run directory keeps."""
        return self.paths[0]

    def pick(self, class_names: tuple[str, ...] | list[str]) -> Scenario:
        """Only the named user classes (Locust's ``UserClass …`` arguments)."""
        if not class_names:
            return self
        unknown = [name for name in class_names if name not in self.available]
        if unknown:
            known = ", ".join(sorted(self.available)) or "none"
            raise PerflabError(
                f"no user class {', '.join(unknown)} in {self.path} (it has: {known})"
            )
        picked = [self.available[name] for name in dict.fromkeys(class_names)]
        return Scenario(self.paths, picked, self.shapes, self.available, self.tasks)


def locustfile_paths(spec: str) -> list[Path]:
    """``-f`` as Locust reads it: a file, a directory of them, or a comma-separated list."""
    from locust.util.directory import get_abspaths_in

    paths: list[Path] = []
    for item in (part.strip() for part in str(spec).split(",")):
        if not item:
            raise PerflabError(f"-f {spec!r}: an empty locustfile name")
        if item.startswith(("http://", "https://")):
            raise PerflabError(
                f"-f {item}: download the locustfile first (perflab runs local files)"
            )
        if os.path.isdir(item):
            found = sorted(get_abspaths_in(item, extension=".py"))
            if not found:
                raise PerflabError(f"-f {item}: no .py locustfile in this directory")
            paths += [Path(p) for p in found]
        elif not os.path.isfile(item):
            raise PerflabError(f"locustfile not found: {item}")
        else:
            paths.append(Path(item))
    return paths


def load_scenario(path: Path | str, class_names: tuple[str, ...] = ()) -> Scenario:
    """Import the locustfiles (Locust's own loader) and pick their user classes."""
    from locust.util.load_locustfile import load_locustfile, load_locustfile_pytest

    paths = locustfile_paths(str(path))
    available: dict[str, type] = {}
    shapes: dict[str, object] = {}  # by class name, in the order found (locust runs the first)
    for locustfile in paths:
        users, found_shapes = _loaded(load_locustfile, locustfile)
        _add_unique(shapes, {type(shape).__name__: shape for shape in found_shapes}, "shape")
        _add_unique(available, users, "user")
    if not available:  # as locust does: the files' pytest tests, each a user class
        for locustfile in paths:
            available.update(_loaded(load_locustfile_pytest, locustfile))
    if not available:
        raise PerflabError(f"locustfile {paths[0]} defines no runnable User class")
    tasks = {name: list(cls.tasks) for name, cls in available.items()}
    scenario = Scenario(paths, list(available.values()), list(shapes.values()), available, tasks)
    return scenario.pick(class_names)


def _add_unique(known: dict[str, object], found: dict[str, object], kind: str) -> None:
    """Classes of one locustfile added to those of the others; as locust refuses, a name
    defined in two files (one file importing another's class is the same class)."""
    for name, value in found.items():
        cls = value if isinstance(value, type) else type(value)
        if name in known:
            before = known[name] if isinstance(known[name], type) else type(known[name])
            if inspect.getfile(before) != inspect.getfile(cls):
                raise PerflabError(
                    f"{kind} class {name} is defined in both {inspect.getfile(before)} and "
                    f"{inspect.getfile(cls)}"
                )
            continue
        known[name] = value


def _loaded(load, locustfile: Path):
    """What Locust's loader returns for the file; its failure as one line."""
    try:
        return load(str(locustfile.resolve()))
    except SystemExit:
        raise PerflabError(f"locustfile {locustfile}: Locust could not import it") from None
    except SyntaxError as exc:
        where = f"{locustfile}:{exc.lineno}"
        raise PerflabError(f"locustfile {where}: syntax error: {exc.msg}") from None
    except Exception as exc:
        where = f"{locustfile}{_line_in(exc, locustfile)}"
        raise PerflabError(f"locustfile {where}: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _line_in(exc: BaseException, path: Path) -> str:
    """``:LINE`` of the deepest frame inside the locustfile, when there is one."""
    target = str(path.resolve())
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == target]
    return f":{lines[-1]}" if lines else ""
