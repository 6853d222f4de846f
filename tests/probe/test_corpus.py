"""A corpus of N+1 shapes as Django code is written in the wild, each with its optimized twin.

Every naive view must give exactly one N+1 finding, located at the line that loops (the
app line, the template line, the serializer field) and every twin none. The views, their
templates and serializers are in ``tests/probe/corpus``.
"""

from pathlib import Path

import pytest
from django.test import Client

from perflab.demo.models import Category, Tag
from tests.demo.conftest import make_posts, make_user
from tests.probe.conftest import flushed
from tests.probe.corpus import models as corpus_models
from tests.probe.corpus import serializers as corpus_serializers
from tests.probe.corpus import views as corpus_views
from tests.probe.corpus.models import Bar, Comment, Note, Restaurant

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.probe.urls"), pytest.mark.database]

CORPUS = Path(corpus_views.__file__).parent
ROWS = corpus_views.ROWS


def line_in(path: Path, text: str) -> int:
    """The line of ``text`` in a file (so the expectations survive edits above it)."""
    lines = path.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def py(module, text: str, function: str) -> str:
    path = Path(module.__file__)
    return f"tests/probe/corpus/{path.name}:{line_in(path, text)}:{function}"


def html(name: str, text: str) -> str:
    return f"{name}:{line_in(CORPUS / 'templates' / name, text)}"


def jinja(name: str, text: str) -> str:
    return f"{name}:{line_in(CORPUS / 'jinja2' / name, text)}"


def serializer_field(text: str, label: str) -> str:
    path = Path(corpus_serializers.__file__)
    return f"tests/probe/corpus/serializers.py:{line_in(path, text)}:{label}"


# name -> (where the N+1 is located, its hint)
EXPECTED = {
    "loop-in-view": (
        py(corpus_views, "# N+1: loop in view", "loop_in_view"),
        "select_related('author')",
    ),
    "list-view": (
        html("corpus/post_list.html", "post.author.username"),
        "select_related('author')",
    ),
    "detail-view": (
        html("corpus/author_detail.html", "post.category.name"),
        "select_related('category')",
    ),
    "template-response": (
        html("corpus/includes/card.html", "post.category.name"),
        "select_related('category')",
    ),
    "render-in-view": (
        html("corpus/post_list.html", "post.author.username")
        + " ← "
        + py(corpus_views, "# renders here", "rendered_in_view"),
        "select_related('author')",
    ),
    "inclusion-tag": (html("corpus/includes/tags.html", "tag.name"), "prefetch_related('tags')"),
    "method-in-template": (
        py(corpus_models, "# N+1 when called per note", "tag_names")
        + " ← "
        + html("corpus/notes.html", "note.tag_names"),
        "prefetch_related('tags')",
    ),
    "jinja2": (jinja("corpus/posts.jinja", "post.author.username"), "select_related('author')"),
    "drf-nested": (
        serializer_field("author = AuthorSerializer()", "NestedPostSerializer.author"),
        "select_related('author')",
    ),
    "drf-source": (
        serializer_field("category_name = ", "SourcePostSerializer.category_name"),
        "select_related('category')",
    ),
    "drf-many": (
        serializer_field("class TaggedPostSerializer", "TaggedPostSerializer.tags"),
        "prefetch_related('tags')",
    ),
    "taggit": (py(corpus_views, "# N+1: taggit tags", "taggit_tags"), "prefetch_related('tags')"),
    "generic-relation": (
        py(corpus_views, "# N+1: comments", "generic_relation"),
        "prefetch_related('comments')",
    ),
    "raw-cursor": (py(corpus_views, "# N+1: raw", "raw_cursor"), None),
    "polymorphic": (
        py(corpus_models, "# N+1: one subclass row per place", "specific"),
        "select_related('bar', 'restaurant')",
    ),
}


@pytest.fixture
def corpus_data(db):
    category = Category.objects.create(name="News", slug="news")
    tags = [Tag.objects.create(name=f"t{n}", slug=f"t{n}") for n in range(3)]
    author = make_user("corpus-author")
    make_posts(author, ROWS, category=category, tags=tags)
    for n in range(ROWS):
        make_posts(make_user(f"writer{n}"), 1, category=category, tags=tags)
    for n in range(ROWS):
        note = Note.objects.create(title=f"note {n}")
        note.tags.add("red", "green")
        Comment.objects.create(target=note, text="hi")
        (Restaurant if n % 2 else Bar).objects.create(name=f"place {n}")
    return author


def request_findings(probe, path: str, request_id: str) -> list[dict]:
    response = Client().get(path, HTTP_X_REQUEST_ID=request_id)
    assert response.status_code == 200, response.content[:500]
    return flushed(probe).request(request_id=request_id)["findings"]


def path_of(case: str, author) -> str:
    return f"/corpus/{case}/{author.pk}/" if case == "detail-view" else f"/corpus/{case}/"


@pytest.mark.parametrize("case", list(EXPECTED))
def test_each_n_plus_one_is_found_once_where_it_loops(probe, corpus_data, case):
    location, hint = EXPECTED[case]
    findings = request_findings(probe, path_of(case, corpus_data), f"corpus-{case}")
    loops = [f for f in findings if f["kind"] == "n_plus_one"]
    assert [f["location"] for f in loops] == [location], findings
    (loop,) = loops
    assert loop["count"] >= ROWS - 1  # a polymorphic family is one group of both tables
    assert loop["hint"] == hint or (hint and hint in loop["hint"].split(" or ")), loop["hint"]


@pytest.mark.parametrize("case", list(EXPECTED))
def test_each_optimized_twin_has_no_n_plus_one(probe, corpus_data, case):
    twin = path_of(case, corpus_data).replace(f"/{case}/", f"/{case}/twin/")
    if case == "detail-view":
        twin = f"/corpus/{case}/twin/{corpus_data.pk}/"
    findings = request_findings(probe, twin, f"twin-{case}")
    assert [f for f in findings if f["kind"] == "n_plus_one"] == []


def test_a_polymorphic_family_is_one_finding_whichever_subclass_comes_first(probe, corpus_data):
    """Requests that list a family's subclasses in another order give the same finding (the
    family's hash, not its first row's table), so the store counts them as one."""
    from perflab.probe.findings import detect_findings
    from perflab.probe.records import QueryEvent

    Client().get("/corpus/polymorphic/", HTTP_X_REQUEST_ID="family")
    stored = flushed(probe).request(request_id="family")
    fields = ("sql", "fingerprint", "fingerprint_hash", "duration_ms", "alias", "start_ms",
              "callsite", "template", "origin", "location")  # fmt: skip
    events = [QueryEvent(**{name: q[name] for name in fields}) for q in stored["queries"]]
    assert len({e.fingerprint_hash for e in events}) > 2  # the listing, then two tables
    forward, backward = detect_findings(events), detect_findings(events[::-1])
    (one,), (other,) = forward, backward
    assert one.fingerprint_hash == other.fingerprint_hash
    assert one.fingerprint != other.fingerprint  # each shows its own first row's SQL
    assert {f["fingerprint_hash"] for f in stored["findings"]} == {one.fingerprint_hash}
