"""The user's locustfile, loaded as Locust would load it, with one-line errors."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

from perflab.errors import PerflabError


@dataclass
class Scenario:
    path: Path
    user_classes: list[type]
    shapes: list  # LoadTestShape instances the locustfile defines


def load_scenario(path: Path, class_names: tuple[str, ...] = ()) -> Scenario:
    """Import the locustfile (Locust's own loader) and pick its user classes."""
    from locust.util.load_locustfile import load_locustfile

    path = Path(path)
    if not path.is_file():
        raise PerflabError(f"locustfile not found: {path}")
    try:
        users, shapes = load_locustfile(str(path.resolve()))
    except SystemExit:
        raise PerflabError(f"locustfile {path}: Locust could not import it") from None
    except SyntaxError as exc:
        raise PerflabError(f"locustfile {path}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        raise PerflabError(f"locustfile {path}{_line_in(exc, path)}: {_describe(exc)}") from None
    if class_names:
        unknown = [name for name in class_names if name not in users]
        if unknown:
            known = ", ".join(sorted(users)) or "none"
            raise PerflabError(f"no user class {', '.join(unknown)} in {path} (it has: {known})")
        users = {name: users[name] for name in class_names}
    if not users:
        raise PerflabError(f"locustfile {path} defines no runnable User class")
    return Scenario(path=path, user_classes=list(users.values()), shapes=shapes)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _line_in(exc: BaseException, path: Path) -> str:
    """``:LINE`` of the deepest frame inside the locustfile, when there is one."""
    target = str(path.resolve())
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == target]
    return f":{lines[-1]}" if lines else ""
