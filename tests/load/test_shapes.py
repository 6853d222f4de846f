import json
import sys
import textwrap
import time

import gevent
import pytest
from locust import LoadTestShape, User, constant, task
from locust.env import Environment
from locust.util.load_locustfile import load_locustfile

from perflab.errors import PerflabError
from perflab.load.shapes import (
    PRESETS,
    BoundedShape,
    build_shape,
    shape_from_locustfile,
)


def tick_at(shape, seconds):
    """LoadTestShape measures run time as perf_counter() - start_time."""
    shape.start_time = time.perf_counter() - seconds
    return shape.tick()


def ticks(shape, times):
    return [tick_at(shape, t) for t in times]


def one_line_error(call, *args):
    with pytest.raises(PerflabError) as caught:
        call(*args)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_ramp_rises_over_the_whole_run_by_default_and_stops_at_the_end():
    shape = build_shape("ramp", users=60, spawn_rate=5, run_time_s=120)
    # One target at users/ramp per second: Locust's spawner draws the line from 0.
    assert ticks(shape, [0, 30, 119.9]) == [(60, 0.5)] * 3
    assert tick_at(shape, 120) is None
    assert shape.duration == 120


def test_ramp_param_ramps_then_holds():
    shape = build_shape("ramp:ramp=30s", users=60, spawn_rate=5, run_time_s=120)
    assert ticks(shape, [0, 29, 31, 119]) == [(60, 2.0)] * 4
    assert tick_at(shape, 121) is None
    assert shape.describe() == "ramp: 0 to 60 users over 30s (2/s), then hold for 1m30s"


def test_ramp_of_zero_starts_at_the_spawn_rate_and_too_long_a_ramp_is_refused():
    assert tick_at(build_shape("ramp:ramp=0", 60, 5, 120), 0) == (60, 5)
    assert "must fit in the run time" in one_line_error(build_shape, "ramp:ramp=3m", 60, 5, 120)


def test_step_climbs_equal_steps_each_a_fifth_of_the_run():
    shape = build_shape("step", users=50, spawn_rate=1, run_time_s=100)
    users = [tick[0] for tick in ticks(shape, [0, 19.9, 20, 40, 60, 80, 99.9])]
    assert users == [10, 10, 20, 30, 40, 50, 50]
    assert tick_at(shape, 100) is None
    # Each plateau is reached within a tenth of its 20 s, even with --spawn-rate 1.
    rate = tick_at(shape, 0)[1]
    assert 10 / rate <= 2.0


def test_step_count_is_a_parameter_and_a_faster_spawn_rate_is_kept():
    shape = build_shape("step:steps=4", users=100, spawn_rate=500, run_time_s=40)
    assert ticks(shape, [0, 10, 20, 30]) == [(25, 500), (50, 500), (75, 500), (100, 500)]
    assert tick_at(shape, 40) is None


def test_spike_holds_base_jumps_to_users_and_drops_back():
    shape = build_shape("spike", users=50, spawn_rate=2, run_time_s=100)
    # Defaults: base users/10, at 40 % of the run, for 20 % of it; the jump takes about 1 s.
    assert ticks(shape, [0, 39.9, 40, 59.9, 60, 99.9]) == [
        (5, 2),
        (5, 2),
        (50, 45),
        (50, 45),
        (5, 45),
        (5, 45),
    ]
    assert tick_at(shape, 100) is None


def test_spike_params():
    shape = build_shape("spike:base=0,at=20s,length=10s", users=30, spawn_rate=2, run_time_s=60)
    assert [t[0] for t in ticks(shape, [19, 20, 29, 30])] == [0, 30, 30, 0]
    assert shape.describe() == "spike: 0 users, 30 from 20s to 30s, then 0 until 1m"


@pytest.mark.parametrize(
    ("spec", "users", "reason"),
    [
        ("spike:at=50s,length=20s", 50, "must fit in the run time of 1m"),
        ("spike:base=50", 50, "base=50 must be from 0 to below users=50"),
        ("spike", 1, "base=1 must be from 0 to below users=1"),
        ("spike:length=0s", 50, "length must be above 0"),
    ],
)
def test_impossible_spikes_are_refused(spec, users, reason):
    assert reason in one_line_error(build_shape, spec, users, 5, 60)


def test_soak_holds_the_users_for_the_whole_run():
    shape = build_shape("soak", users=20, spawn_rate=4, run_time_s=7200)
    assert ticks(shape, [0, 3600, 7199]) == [(20, 4)] * 3
    assert tick_at(shape, 7200) is None
    assert shape.describe() == "soak: 20 users (spawning 4/s) held for 2h"


def test_stress_steps_past_the_nominal_user_count():
    shape = build_shape("stress", users=50, spawn_rate=5, run_time_s=80)
    users = [t[0] for t in ticks(shape, [0, 20, 40, 60, 79.9])]
    assert users == [25, 50, 75, 100, 100]
    assert tick_at(shape, 80) is None
    tripled = build_shape("stress:factor=3,steps=3", users=10, spawn_rate=5, run_time_s=30)
    assert [t[0] for t in ticks(tripled, [0, 10, 20])] == [10, 20, 30]


def test_stress_factor_must_exceed_one():
    assert "factor=1 must be above 1" in one_line_error(build_shape, "stress:factor=1", 10, 1, 60)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_bounded_and_describes_itself_in_one_line(name):
    shape = build_shape(name, users=40, spawn_rate=4, run_time_s=300)
    assert isinstance(shape, LoadTestShape)
    assert shape.duration == 300
    assert tick_at(shape, 0) is not None
    assert tick_at(shape, 300) is None
    assert tick_at(shape, 10_000) is None
    description = shape.describe()
    assert description.startswith(name) and "\n" not in description


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        (
            "wave",
            'unknown shape "wave": use one of ramp, step, spike, soak, stress or FILE.py:CLASS',
        ),
        ("step:size=3", 'shape "step" has no parameter "size"; it takes steps'),
        ("spike:peak=3", "it takes base, at, length"),
        ("soak:steps=3", "it takes no parameters"),
        ("step:steps=two", 'shape "step": steps=two is not a whole number'),
        ("spike:at=soon", "at=soon is not a duration such as 20s or 1m"),
        ("step:steps", 'expected key=value, got "steps"'),
        ("step:steps=2,steps=3", "steps is given twice"),
        ("step:steps=0", "steps=0 must be at least 1"),
        ("step:steps=11", "steps=11 is more than the 10 users to step up to"),
    ],
)
def test_bad_specs_are_one_line_errors_that_list_what_is_valid(spec, reason):
    assert reason in one_line_error(build_shape, spec, 10, 1, 60)


def test_presets_need_a_run_time():
    assert "needs a run time above 0" in one_line_error(build_shape, "soak", 10, 1, 0)


FOREVER = """
    from locust import LoadTestShape


    class Forever(LoadTestShape):
        '''Never returns None on its own: only perflab's bound stops it.'''

        def tick(self):
            if self.get_run_time() < 10:
                return (5, 1)
            return (self.get_current_user_count() + 1, 2)
"""


def write(path, source):
    path.write_text(textwrap.dedent(source))
    return path


def test_a_shape_file_loads_and_is_stopped_at_the_run_time(tmp_path):
    path = write(tmp_path / "myshape.py", FOREVER)
    shape = build_shape(f"{path}:Forever", users=1, spawn_rate=1, run_time_s=60)
    assert isinstance(shape, BoundedShape)
    assert type(shape.inner).__name__ == "Forever"
    assert shape.describe() == f"Forever from {path}, stopped at 1m"

    shape.reset_time()
    assert shape.tick() == (5, 1)
    assert shape.inner.get_run_time() < 1  # reset_time reached the inner clock too
    assert tick_at(shape, 60) is None


def test_the_runner_set_on_the_wrapper_reaches_the_inner_shape(tmp_path):
    shape = build_shape(f"{write(tmp_path / 'myshape.py', FOREVER)}:Forever", 1, 1, 60)

    class FakeRunner:
        user_count = 7

    shape.runner = FakeRunner()
    assert shape.inner.runner is shape.runner
    shape.inner.start_time = time.perf_counter() - 30  # the inner shape's own clock
    shape.start_time = time.perf_counter() - 30
    assert shape.tick() == (8, 2)


def test_a_file_with_one_shape_needs_no_class_name(tmp_path):
    shape = build_shape(str(write(tmp_path / "only.py", FOREVER)), 1, 1, 60)
    assert type(shape.inner).__name__ == "Forever"


def test_a_shape_file_may_import_its_neighbours_without_leaving_sys_path_changed(tmp_path):
    write(tmp_path / "stages.py", "LEVEL = (9, 3)\n")
    source = """
        from locust import LoadTestShape
        from stages import LEVEL


        class Staged(LoadTestShape):
            def tick(self):
                return LEVEL
    """
    before = list(sys.path)
    shape = build_shape(f"{write(tmp_path / 'staged.py', source)}:Staged", 1, 1, 60)
    assert tick_at(shape, 0) == (9, 3)
    assert sys.path == before
    sys.modules.pop("stages", None)


def test_a_shape_file_named_like_a_stdlib_module_does_not_replace_it(tmp_path):
    shape = build_shape(f"{write(tmp_path / 'json.py', FOREVER)}:Forever", 1, 1, 60)
    assert tick_at(shape, 0) == (5, 1)
    assert sys.modules["json"] is json


@pytest.mark.parametrize(
    ("source", "cls", "reason"),
    [
        ("def broken(:\n    pass\n", "X", "broken.py, line 1: "),
        ("import no_such_module_perflab\n", "X", "line 1: ModuleNotFoundError: No module named"),
        ("x = 1\n\nraise RuntimeError('boom\\nsecond line')\n", "X", "line 3: RuntimeError: boom"),
        (FOREVER, "Missing", "has no class Missing (shape classes: Forever)"),
        ("class NotAShape:\n    pass\n", "NotAShape", "NotAShape is not a LoadTestShape subclass"),
        (
            "from locust import LoadTestShape\n\nclass Lazy(LoadTestShape):\n    pass\n",
            "Lazy",
            "Lazy does not implement tick()",
        ),
        (
            FOREVER
            + "\n        def __init__(self):\n            raise ValueError('needs config')\n",
            "Forever",
            "Forever() failed: line 14: ValueError: needs config",
        ),
        (FOREVER + "\n\n    class Other(Forever):\n        pass\n", None, "found Forever, Other"),
    ],
)
def test_broken_shape_files_give_one_line_errors_naming_the_file(tmp_path, source, cls, reason):
    path = write(tmp_path / "broken.py", source)
    spec = f"{path}:{cls}" if cls else str(path)
    message = one_line_error(build_shape, spec, 1, 1, 60)
    assert str(path) in message
    assert reason in message


def test_a_missing_shape_file_is_a_one_line_error(tmp_path):
    message = one_line_error(build_shape, f"{tmp_path / 'nope.py'}:Shape", 1, 1, 60)
    assert message == f"shape file {tmp_path / 'nope.py'} not found"


LOCUSTFILE = """
    from locust import LoadTestShape, User, constant, task


    class Idle(User):
        wait_time = constant(1)

        @task
        def nothing(self):
            pass


    class Hold(LoadTestShape):
        def tick(self):
            return (2, 1)
"""


def test_shape_found_in_a_locustfile_is_bounded(tmp_path):
    path = write(tmp_path / "locustfile_with_shape.py", LOCUSTFILE)
    _users, shapes = load_locustfile(str(path))
    shape = shape_from_locustfile(shapes, 30)
    assert shape is not None and shape.inner is shapes[0]
    assert tick_at(shape, 0) == (2, 1)
    assert tick_at(shape, 30) is None
    assert shape_from_locustfile([], 30) is None


def test_of_several_shapes_the_first_runs_as_under_locust():
    class A(LoadTestShape):
        def tick(self):
            return None

    class B(A):
        pass

    first = A()
    assert shape_from_locustfile([first, B()], 30).inner is first


class Idle(User):
    wait_time = constant(0.05)

    @task
    def nothing(self):
        pass


class Endless(LoadTestShape):
    def tick(self):
        return (3, 10)


@pytest.mark.timeout(20)
def test_a_real_locust_runner_stops_an_endless_shape_at_the_run_time():
    inner = Endless()
    shape = BoundedShape(inner, 1.5)
    env = Environment(user_classes=[Idle], shape_class=shape)
    runner = env.create_local_runner()
    assert inner.runner is runner  # Environment set it on the wrapper only

    inner.start_time = 0.0
    started = time.perf_counter()
    runner.start_shape()
    assert inner.get_run_time() < 1  # start_shape's reset_time reached the inner shape
    peak = 0
    while runner.shape_greenlet is not None and time.perf_counter() - started < 10:
        peak = max(peak, runner.user_count)
        gevent.sleep(0.1)
    elapsed = time.perf_counter() - started
    runner.quit()

    assert runner.shape_greenlet is None
    assert peak == 3
    assert 1.5 <= elapsed < 5


def test_a_shape_whose_tick_raises_ends_the_load_and_says_why():
    class Broken(LoadTestShape):
        def tick(self):
            if self.get_run_time() > 1:
                raise ValueError("no more steps")
            return (2, 2)

    shape = BoundedShape(Broken(), 60)

    def both_at(seconds):
        shape.inner.start_time = time.perf_counter() - seconds
        return tick_at(shape, seconds)

    assert both_at(0.5) == (2, 2) and shape.error == ""
    assert both_at(2) is None
    assert shape.error == "ValueError: no more steps"
    assert both_at(0.5) is None  # stays ended
