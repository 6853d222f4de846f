"""The call site of a statement: the first app frame, also when the walk is remembered."""

import importlib
import sys

import pytest

from perflab.probe.callsite import CallsiteFinder, mark_boundary, project_packages
from tests.probe import fake_library

EXCLUDE = ("fake_library",)


def statements(finder, memo):
    """An N+1-like loop: each row asks from the same frame, through different paths."""
    sites = []
    for _ in range(3):
        for _ in range(2):  # the second ask comes from the same instruction: memo
            sites.append(fake_library.query(finder, memo))  # site A
        sites.append(fake_library.query(finder, memo, depth=1))  # site B: shallower
        sites.append(fake_library.calling_back(lambda: fake_library.query(finder, memo)))
    return sites


def test_a_remembered_walk_finds_what_a_full_walk_finds():
    remembered = statements(CallsiteFinder(EXCLUDE), memo=[])
    walked = statements(CallsiteFinder(EXCLUDE), memo=None)
    assert remembered == walked
    a, a_again, b, callback = walked[:4]
    assert a == a_again
    assert a.endswith(":statements") and b.endswith(":statements") and a != b
    assert callback.endswith(":<lambda>")  # the app's callback, not the loop around it
    assert len(set(walked)) == 3


def test_the_memo_is_used_for_a_repeated_statement():
    finder = CallsiteFinder(EXCLUDE)
    memo = []
    sites = []
    for _ in range(2):
        sites.append(fake_library.query(finder, memo))
        memo[-1] = "from the memo"  # what the next identical statement gets back
    assert sites[0].endswith(":test_the_memo_is_used_for_a_repeated_statement")
    assert sites[1] == "from the memo"
    depth = memo[0]
    assert depth == 4  # four library frames between the statement and this test
    sites.append(fake_library.query(finder, memo, depth=2))  # another path: walked again
    assert sites[2] != "from the memo" and sites[2].split(":")[0] == sites[0].split(":")[0]


def test_a_walk_stops_at_a_boundary_marked_after_its_code_was_walked_past():
    finder = CallsiteFinder(EXCLUDE)
    # Walked past as library code first: the walk climbs to this test, app code.
    before = fake_library.view(fake_library.query, finder, None)
    assert before.endswith(":test_a_walk_stops_at_a_boundary_marked_after_its_code_was_walked_past")
    mark_boundary(fake_library.view)  # as process_view does when Django calls a view
    assert fake_library.view(fake_library.query, finder, None) is None  # no app frame below
    callback = fake_library.view(lambda: fake_library.query(finder, None))
    assert callback.endswith(":<lambda>")  # app code below the boundary is still found


INSTALLED_VIEW = """\
from tests.probe import fake_library


def listing(finder):
    return fake_library.query(finder, None)
"""


@pytest.fixture
def installed_project(tmp_path, monkeypatch):
    """A project package installed among libraries (site-packages, as a wheel in an image)."""
    site_packages = tmp_path / "lib" / "site-packages"
    (site_packages / "shop").mkdir(parents=True)
    (site_packages / "shop" / "__init__.py").write_text("")
    (site_packages / "shop" / "views.py").write_text(INSTALLED_VIEW)
    (site_packages / "shop" / "urls.py").write_text("urlpatterns = []\n")
    monkeypatch.syspath_prepend(str(site_packages))
    for name in ("shop.views", "shop.urls", "shop"):  # another test's shop.py locustfile
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield importlib.import_module("shop.views")
    for name in ("shop.views", "shop.urls", "shop"):
        sys.modules.pop(name, None)


def test_an_installed_project_is_the_app_by_its_root_urlconf(installed_project, settings):
    """Its frames are library code by location; its package, named by ROOT_URLCONF, is the
    app (as the reference app inside perflab's directory is, by the same rule)."""
    library_only = installed_project.listing(CallsiteFinder(EXCLUDE, app_packages=()))
    assert library_only.endswith(":test_an_installed_project_is_the_app_by_its_root_urlconf")
    settings.ROOT_URLCONF = "shop.urls"
    site = installed_project.listing(CallsiteFinder(EXCLUDE))
    assert site.split(":")[0].endswith("shop/views.py") and site.endswith(":listing")


def test_perflab_itself_is_never_the_app(settings):
    """A URLconf inside perflab (or a package holding it) would make the probe its own app."""
    settings.ROOT_URLCONF = "perflab.urls"
    settings.WSGI_APPLICATION = None
    assert project_packages() == ("perflab",)
    assert CallsiteFinder().app_dirs == ()
    assert CallsiteFinder(app_packages=("perflab.demo",)).app_dirs[0].endswith("perflab/demo/")
