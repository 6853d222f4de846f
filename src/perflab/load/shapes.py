"""Load shapes for ``--shape``: the classic test kinds as presets, or a LoadTestShape from a file.

Every shape perflab hands to Locust is bounded by the run time: Locust stops a shaped run
only when tick() returns None, and a shape that never does would make a CI job hang.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from abc import abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, NoReturn

from locust import LoadTestShape

from perflab.errors import PerflabError
from perflab.load.durations import MAX_RUN_TIME_S, format_duration, parse_duration

# Locust warns that spawning faster than this "is known to sometimes cause issues".
MAX_QUICK_RATE = 100.0
_FILE_SPEC = re.compile(r"(?P<path>.+\.py)(?::(?P<cls>[A-Za-z_]\w*))?")


def _whole(text: str) -> int:
    return int(text)


# How each kind of parameter is read, and what to call it in an error.
_DURATION = (parse_duration, "a duration such as 20s or 1m")
_WHOLE = (_whole, "a whole number")
_NUMBER = (float, "a number")


class PresetShape(LoadTestShape):
    """A shape defined by users, spawn rate and run time; stops itself when the time is up."""

    abstract = True
    name: ClassVar[str]
    params: ClassVar[dict[str, tuple[Callable[[str], Any], str]]] = {}

    def __init__(self, users: int, spawn_rate: float, run_time_s: float) -> None:
        super().__init__()
        if users < 1:
            self.fail(f"users={users} must be at least 1")
        if spawn_rate <= 0:
            self.fail(f"spawn rate {spawn_rate:g} must be above 0")
        if run_time_s <= 0:
            self.fail("needs a run time above 0")
        self.users = users
        self.spawn_rate = spawn_rate
        self.duration = float(run_time_s)

    def tick(self) -> tuple[int, float] | None:
        run_time = self.get_run_time()
        if run_time >= self.duration:
            return None
        return self.target(run_time)

    @abstractmethod
    def target(self, run_time: float) -> tuple[int, float]:
        """(user count, spawn rate) wanted at ``run_time`` seconds into the run."""

    @abstractmethod
    def describe(self) -> str: ...

    def fail(self, reason: str) -> NoReturn:
        raise PerflabError(f'shape "{self.name}": {reason}')


class RampShape(PresetShape):
    """Users rise linearly from 0 to ``users`` over ``ramp`` seconds, then hold."""

    name = "ramp"
    params = {"ramp": _DURATION}

    def __init__(self, users: int, spawn_rate: float, run_time_s: float, ramp: float | None = None):
        super().__init__(users, spawn_rate, run_time_s)
        self.ramp = self.duration if ramp is None else ramp
        if not 0 <= self.ramp <= self.duration:
            self.fail(f"ramp={format_duration(self.ramp)} must fit in the run time")
        # One target at a constant rate: Locust's spawner draws the straight line itself.
        self.rate = users / self.ramp if self.ramp else spawn_rate

    def target(self, run_time: float) -> tuple[int, float]:
        return self.users, self.rate

    def describe(self) -> str:
        text = (
            f"ramp: 0 to {self.users} users over {format_duration(self.ramp)} ({self.rate:.3g}/s)"
        )
        hold = self.duration - self.ramp
        return text + (f", then hold for {format_duration(hold)}" if hold > 0 else "")


class StepShape(PresetShape):
    """``steps`` equal steps up to the peak, each a run_time/steps plateau reached quickly."""

    name = "step"
    params = {"steps": _WHOLE}

    def __init__(self, users: int, spawn_rate: float, run_time_s: float, steps: int = 5):
        super().__init__(users, spawn_rate, run_time_s)
        self.steps = steps
        self.peak = self._peak()
        if steps < 1:
            self.fail(f"steps={steps} must be at least 1")
        if steps > self.peak:
            self.fail(f"steps={steps} is more than the {self.peak} users to step up to")
        self.levels = [int(self.peak * (k + 1) / steps + 0.5) for k in range(steps)]
        self.step_s = self.duration / steps
        # Reach each plateau within a tenth of it, so most of a step is measured at its level.
        jump = max(b - a for a, b in zip([0, *self.levels], self.levels, strict=False))
        self.rate = max(spawn_rate, min(jump / (0.1 * self.step_s), MAX_QUICK_RATE))

    def _peak(self) -> int:
        return self.users

    def target(self, run_time: float) -> tuple[int, float]:
        return self.levels[min(int(run_time // self.step_s), self.steps - 1)], self.rate

    def describe(self) -> str:
        levels = ", ".join(map(str, self.levels))
        return (
            f"{self.name}: {self.steps} steps of {format_duration(self.step_s)} "
            f"up to {self.peak} users ({levels}) at {self.rate:.3g}/s"
        )


class StressShape(StepShape):
    """Steps past the nominal user count to ``factor`` times users, to find where it breaks."""

    name = "stress"
    params = {"steps": _WHOLE, "factor": _NUMBER}

    def __init__(
        self, users: int, spawn_rate: float, run_time_s: float, steps: int = 4, factor: float = 2.0
    ):
        self.factor = factor
        if not 1 < factor <= 100:  # NaN and infinity fail here too, not as a traceback later
            raise PerflabError(
                f'shape "stress": factor={factor:g} must be above 1 and at most 100 '
                '(use "step" to stay within users)'
            )
        super().__init__(users, spawn_rate, run_time_s, steps)

    def _peak(self) -> int:
        return int(self.users * self.factor + 0.5)

    def describe(self) -> str:
        return super().describe() + f", {self.factor:g}x the nominal {self.users}"


class SpikeShape(PresetShape):
    """Hold ``base`` users, jump to ``users`` at ``at`` for ``length``, drop back to base."""

    name = "spike"
    params = {"base": _WHOLE, "at": _DURATION, "length": _DURATION}

    def __init__(
        self,
        users: int,
        spawn_rate: float,
        run_time_s: float,
        base: int | None = None,
        at: float | None = None,
        length: float | None = None,
    ):
        super().__init__(users, spawn_rate, run_time_s)
        self.base = max(1, users // 10) if base is None else base
        self.at = 0.4 * self.duration if at is None else at
        self.length = 0.2 * self.duration if length is None else length
        if not 0 <= self.base < users:
            self.fail(f"base={self.base} must be from 0 to below users={users}")
        if self.length <= 0:
            self.fail("length must be above 0")
        if self.at + self.length > self.duration:
            self.fail(
                f"at={format_duration(self.at)} plus length={format_duration(self.length)} "
                f"must fit in the run time of {format_duration(self.duration)}"
            )
        # A spike is sudden: the jump (up and down) takes about a second.
        self.rate = max(spawn_rate, min(users - self.base, MAX_QUICK_RATE))

    def target(self, run_time: float) -> tuple[int, float]:
        if run_time < self.at:
            return self.base, self.spawn_rate
        if run_time < self.at + self.length:
            return self.users, self.rate
        return self.base, self.rate

    def describe(self) -> str:
        end = self.at + self.length
        return (
            f"spike: {self.base} users, {self.users} from {format_duration(self.at)} "
            f"to {format_duration(end)}, then {self.base} until {format_duration(self.duration)}"
        )


class SoakShape(PresetShape):
    """Reach ``users`` at the spawn rate and hold them for the whole (long) run."""

    name = "soak"

    def target(self, run_time: float) -> tuple[int, float]:
        return self.users, self.spawn_rate

    def describe(self) -> str:
        return (
            f"soak: {self.users} users (spawning {self.spawn_rate:g}/s) "
            f"held for {format_duration(self.duration)}"
        )


PRESETS: dict[str, type[PresetShape]] = {
    cls.name: cls for cls in (RampShape, StepShape, SpikeShape, SoakShape, StressShape)
}


class BoundedShape(LoadTestShape):
    """Any shape, stopped at the run time; the runner and the clock reach the inner shape too."""

    def __init__(self, inner: LoadTestShape, run_time_s: float, origin: str = "") -> None:
        if run_time_s <= 0:
            raise PerflabError("a load shape needs a run time above 0")
        self.inner = inner
        self.duration = float(run_time_s)
        self.origin = origin
        self.use_common_options = inner.use_common_options
        self.error = ""  # what the inner shape's tick() raised: the run ended there
        super().__init__()

    # Environment.create_runner sets ``shape_class.runner``; the inner shape reads it.
    @property
    def runner(self):  # type: ignore[override]
        return self.inner.runner

    @runner.setter
    def runner(self, value) -> None:
        self.inner.runner = value

    def reset_time(self) -> None:
        """Runner.start_shape calls this on the shape it knows: restart both clocks."""
        super().reset_time()
        self.inner.reset_time()

    def tick(self) -> Any:
        if self.get_run_time() >= self.duration or self.error:
            return None
        try:
            return self.inner.tick()
        except Exception as exc:  # a locustfile's bug: end the load, say so in one line
            self.error = f"{type(exc).__name__}: {exc}"
            return None

    def describe(self) -> str:
        source = f" from {self.origin}" if self.origin else ""
        return f"{type(self.inner).__name__}{source}, stopped at {format_duration(self.duration)}"


def build_shape(
    spec: str, users: int, spawn_rate: float, run_time_s: float | None
) -> LoadTestShape:
    """A shape from "--shape": "ramp", "step:steps=10", "spike:at=20s" or "file.py:Class".
    A preset divides the run time into its phases, so it needs one; a shape from a file ends
    when it says so (or at -t)."""
    spec = spec.strip()
    if file_spec := _FILE_SPEC.fullmatch(spec):
        inner = load_shape_file(file_spec["path"], file_spec["cls"])
        return BoundedShape(inner, run_time_s or MAX_RUN_TIME_S, origin=file_spec["path"])
    name, _, raw = spec.partition(":")
    preset = PRESETS.get(name.strip().lower())
    if preset is None:
        raise PerflabError(
            f'unknown shape "{name.strip()}": use one of {", ".join(PRESETS)} or FILE.py:CLASS'
        )
    if run_time_s is None:
        raise PerflabError(f"--shape {name.strip()} needs -t/--run-time (its phases divide it)")
    return preset(users, spawn_rate, run_time_s, **_parse_params(preset, raw))


def _parse_params(preset: type[PresetShape], raw: str) -> dict[str, Any]:
    takes = ", ".join(preset.params) or "no parameters"
    kwargs: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        key, sep, value = (s.strip() for s in item.partition("="))
        if not sep or not value:
            raise PerflabError(f'shape "{preset.name}": expected key=value, got "{item}"')
        if key not in preset.params:
            raise PerflabError(f'shape "{preset.name}" has no parameter "{key}"; it takes {takes}')
        if key in kwargs:
            raise PerflabError(f'shape "{preset.name}": {key} is given twice')
        convert, kind = preset.params[key]
        try:
            kwargs[key] = convert(value)
        except (ValueError, PerflabError):
            raise PerflabError(f'shape "{preset.name}": {key}={value} is not {kind}') from None
    return kwargs


def load_shape_file(path: str, class_name: str | None = None) -> LoadTestShape:
    """Import a Python file by path and instantiate its LoadTestShape (the named or only one)."""
    module = _import_file(Path(path))
    found = {
        name: value
        for name, value in vars(module).items()
        if _is_shape_class(value) and value.__module__ == module.__name__
    }
    if class_name is None:
        if len(found) != 1:
            listed = ", ".join(found) or "none"
            raise PerflabError(
                f"shape file {path}: name one class with {path}:CLASS (found {listed})"
            )
        class_name = next(iter(found))
    cls = getattr(module, class_name, None)
    if cls is None:
        listed = ", ".join(found) or "none"
        raise PerflabError(f"shape file {path} has no class {class_name} (shape classes: {listed})")
    if not (inspect.isclass(cls) and issubclass(cls, LoadTestShape)):
        raise PerflabError(f"{path}:{class_name} is not a LoadTestShape subclass")
    if inspect.isabstract(cls):
        raise PerflabError(f"{path}:{class_name} does not implement tick()")
    try:
        return cls()
    except Exception as exc:
        raise PerflabError(f"{path}:{class_name}() failed: {_reason(exc, path)}") from None


def _is_shape_class(value: object) -> bool:
    return (
        inspect.isclass(value)
        and issubclass(value, LoadTestShape)
        and not getattr(value, "abstract", True)
        and not inspect.isabstract(value)
    )


def _import_file(path: Path) -> ModuleType:
    """Like Locust's load_locustfile (its folder on sys.path while it runs), minus sys.exit."""
    if not path.is_file():
        raise PerflabError(f"shape file {path} not found")
    # A private module name, so a file called json.py cannot replace the real json module.
    module_name = "perflab_shape_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PerflabError(f"shape file {path} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        if exc.filename and Path(exc.filename).resolve() == path.resolve():
            raise PerflabError(f"shape file {path}, line {exc.lineno}: {exc.msg}") from None
        raise PerflabError(f"shape file {path} failed to import: {_reason(exc, path)}") from None
    except Exception as exc:
        del sys.modules[module_name]
        raise PerflabError(f"shape file {path} failed to import: {_reason(exc, path)}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def _reason(exc: BaseException, path: str | Path) -> str:
    """One line: the exception, and the line of the user's file it came from if any."""
    where = ""
    target = str(Path(path).resolve())
    tb = exc.__traceback__
    while tb is not None:
        if str(Path(tb.tb_frame.f_code.co_filename).resolve()) == target:
            where = f"line {tb.tb_lineno}: "
        tb = tb.tb_next
    message = " ".join(str(exc).split())
    return f"{where}{type(exc).__name__}" + (f": {message}" if message else "")


def shape_from_locustfile(
    shape_instances: Sequence[LoadTestShape], run_time_s: float | None
) -> BoundedShape | None:
    """Bound the shape Locust's load_locustfile found in the locustfiles, if there is one;
    of several, the first, as ``locust`` runs it headless."""
    if not shape_instances:
        return None
    return BoundedShape(shape_instances[0], run_time_s or MAX_RUN_TIME_S, origin="the locustfile")
