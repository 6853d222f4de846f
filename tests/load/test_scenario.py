"""Locustfiles load as Locust loads them; broken ones are one line each."""

import pytest

from perflab.errors import PerflabError
from perflab.load.scenario import load_scenario

GOOD = """
from locust import HttpUser, LoadTestShape, task

class Reader(HttpUser):
    @task
    def read(self):
        self.client.get("/")

class Writer(HttpUser):
    @task
    def write(self):
        self.client.post("/")

class Waves(LoadTestShape):
    def tick(self):
        return None
"""


def write(tmp_path, text, name="locustfile_under_test.py"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_user_classes_and_shape_are_found_and_selectable(tmp_path):
    path = write(tmp_path, GOOD)
    scenario = load_scenario(path)
    assert sorted(cls.__name__ for cls in scenario.user_classes) == ["Reader", "Writer"]
    assert [type(s).__name__ for s in scenario.shapes] == ["Waves"]
    assert [c.__name__ for c in load_scenario(path, ("Writer",)).user_classes] == ["Writer"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("class X(\n", "syntax error"),
        ("import no_such_module_here\n", ":1: ModuleNotFoundError"),
        ("x = 1\n\nraise RuntimeError('boom')\n", ":3: RuntimeError: boom"),
        ("from locust import HttpUser\n", "no runnable User class"),
    ],
)
def test_broken_locustfiles_are_one_line(tmp_path, text, message):
    path = write(tmp_path, text, name=f"broken_{abs(hash(text))}.py")
    with pytest.raises(PerflabError) as caught:
        load_scenario(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_class_names_the_ones_there_are(tmp_path):
    with pytest.raises(PerflabError, match=r"no user class Nope in .*\(it has: Reader, Writer\)"):
        load_scenario(write(tmp_path, GOOD, "named.py"), ("Nope",))


def test_missing_file(tmp_path):
    with pytest.raises(PerflabError, match="locustfile not found"):
        load_scenario(tmp_path / "nope.py")


def test_a_class_name_defined_in_two_locustfiles_is_refused_as_locust_refuses_it(tmp_path):
    """Locust exits ("Duplicate user class names"); a class one file imports from the other is
    the same class, and shapes are found across files in order (the first runs)."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one, two = write(tmp_path / "one", GOOD, "shop.py"), write(tmp_path / "two", GOOD, "shop2.py")
    with pytest.raises(PerflabError) as caught:
        load_scenario(f"{one},{two}")
    assert str(caught.value) == f"shape class Waves is defined in both {one} and {two}"
    users_only = write(tmp_path / "two", GOOD.split("class Waves")[0], "shop3.py")
    with pytest.raises(PerflabError) as caught:
        load_scenario(f"{one},{users_only}")
    assert str(caught.value) == f"user class Reader is defined in both {one} and {users_only}"
    importer = write(
        tmp_path / "one",
        "from shop import Reader, Waves\nfrom locust import LoadTestShape\n\n"
        "class Tide(LoadTestShape):\n    def tick(self):\n        return None\n",
        "importer.py",
    )
    scenario = load_scenario(f"{one},{importer}")
    assert sorted(scenario.available) == ["Reader", "Writer"]
    assert [type(shape).__name__ for shape in scenario.shapes] == ["Waves", "Tide"]
