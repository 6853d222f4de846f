"""``PerfTestMixin``: the same budgets for ``unittest`` and Django's ``TestCase``, failing
the test with the explained message; in-process against the reference app, then under the
sample project's ``python manage.py test``."""

import subprocess
import sys
import time

from django.test import TestCase

from perflab.budgets.testcase import PerfTestMixin
from tests.demo.conftest import make_posts, make_user


class TheirOwnFailure(Exception):
    pass


class PerfTestMixinTests(PerfTestMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        for n in range(3):
            make_posts(make_user(f"writer{n}"), 2)

    def test_a_block_within_its_budget_passes_and_yields_the_capture(self):
        with self.assertPerfBudget(queries=3, n_plus_one=0, duplicates=0) as seen:
            self.assertEqual(self.client.get("/api/posts/").status_code, 200)
        self.assertEqual(len(seen.queries), 3)

    def test_a_block_over_its_budget_fails_with_the_explained_message(self):
        with self.assertRaises(AssertionError) as failed, self.assertPerfBudget(queries=3):
            self.client.get("/api/authors/naive/")
        message = str(failed.exception)
        self.assertTrue(message.startswith("perf budget exceeded:\n  queries: 11 > 3\n\n"))
        self.assertIn("at src/perflab/demo/naive.py:32:get_display_name", message)
        self.assertIn("hint: select_related('profile')", message)
        self.assertIn("What ran: 1 request, 11 statements", message)

    def test_no_n_plus_one(self):
        with self.assertNoNPlusOne():
            self.client.get("/api/authors/")
        with self.assertRaises(AssertionError) as failed, self.assertNoNPlusOne():
            self.client.get("/api/authors/naive/")
        self.assertIn("n_plus_one: 3 > 0", str(failed.exception))
        with self.assertNoNPlusOne(threshold=4):  # three authors: three of each
            self.client.get("/api/authors/naive/")

    def test_a_failure_is_the_test_cases_own_kind(self):
        self.failureException = TheirOwnFailure
        with self.assertRaises(TheirOwnFailure), self.assertPerfBudget(queries=0):
            self.client.get("/api/posts/")

    def test_an_error_in_the_block_is_left_as_it_is(self):
        with self.assertRaises(KeyError), self.assertPerfBudget(queries=0):
            self.client.get("/api/posts/")
            raise KeyError("the test's own")

    def test_assert_fast_passes_and_fails_the_test(self):
        result = self.assertFast(lambda: None, p50_ms=1000, repeat=3, warmup=1, calibrate=False)
        self.assertIsNotNone(result)
        with self.assertRaises(AssertionError) as failed:
            self.assertFast(
                lambda: time.sleep(0.005), p50_ms=0.01, repeat=3, warmup=0, calibrate=False
            )
        self.assertIn("p50", str(failed.exception))


MIXIN_TESTS = """
from django.test import TestCase

from perflab.budgets.testcase import PerfTestMixin
from sample.shop.models import Author, Book


class ShopPerf(PerfTestMixin, TestCase):
    @classmethod
    def setUpTestData(cls):
        for n in range(3):
            Book.objects.create(title=f"Book {n}", author=Author.objects.create(name=f"A{n}"))

    def test_fixed_list_within_budget(self):
        with self.assertPerfBudget(queries=1, n_plus_one=0):
            self.client.get("/api/books/fixed/")

    def test_titles_over_budget(self):
        with self.assertPerfBudget(queries=2):
            self.client.get("/titles/")

    def test_template_n_plus_one(self):
        with self.assertNoNPlusOne():
            self.client.get("/books/")

    def test_fast(self):
        fetch = lambda: self.client.get("/api/books/fixed/")  # noqa: E731
        self.assertFast(fetch, p50_ms=5000, repeat=3, warmup=1, calibrate=False)

    def test_snapshot(self):
        with self.assertPerfSnapshot():
            self.client.get("/api/books/fixed/")
"""


def test_the_mixin_under_manage_py_test(sample_project):
    sample_project.makepyfile(test_mixin=MIXIN_TESTS)
    run = subprocess.run(
        [sys.executable, "manage.py", "test", "test_mixin", "-v", "2"],
        cwd=sample_project.path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = run.stderr  # unittest reports on stderr
    assert run.returncode == 1, out
    for passing in ("fixed_list_within_budget", "fast", "snapshot"):
        assert f"test_{passing} (test_mixin.ShopPerf.test_{passing}) ... ok" in out
    assert "FAILED (failures=2)" in out
    assert "AssertionError: perf budget exceeded:\n  queries: 4 > 2\n" in out
    assert "at sample/shop/views.py:12:book_titles" in out
    assert "AssertionError: perf budget exceeded:\n  n_plus_one: 1 > 0\n" in out
    assert "at shop/book_list.html:3" in out
    assert out.count("hint: select_related('author')") == 2
    assert "During handling of the above exception" not in out
    assert "perflab/budgets/" not in out  # the traceback ends at the test's own line
    snapshot = (sample_project.path / "test_mixin.perf.yml").read_text()
    assert "ShopPerf.test_snapshot" in snapshot
