"""Hints: the Django change that folds an N+1 loop into one query, read from its SQL.

``relation_hint`` reads a fingerprint of ORM-generated SQL back into the Django relation
it loads (from the model registry: foreign keys, many-to-many, django-taggit's and
modelcluster's tag managers, generic relations), to say which ``select_related``,
``prefetch_related`` or ``annotate`` would load the rows with their parents.
``polymorphic_key`` groups the per-row lookups of one multi-table inheritance family
(Wagtail's ``page.specific``). ``safe_hint`` is what findings call: it never raises.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["HINT_ERRORS", "polymorphic_key", "relation_hint", "safe_hint"]

logger = logging.getLogger("perflab.probe")


class _HintErrors:
    """Hints that failed to build (a relation this code does not know): the finding is
    kept without a hint and the failure counted here (``/perf/api/status/``)."""

    count = 0


HINT_ERRORS = _HintErrors()
WAGTAIL_PAGE_TABLE = "wagtailcore_page"


def safe_hint(fingerprint: str, family: bool = False) -> str | None:
    """``relation_hint``, or the hint for a polymorphic family (``family``: the group holds
    several subclass tables; Wagtail pages always); never raises: a hint that cannot be
    built leaves the finding without one (counted in ``HINT_ERRORS``)."""
    try:
        key = polymorphic_key(fingerprint)
        root = key.split(":", 2)[1] if key else None
        if root == WAGTAIL_PAGE_TABLE:
            return "specific() on the pages' queryset"
        if root is None or not family:
            return relation_hint(fingerprint)
        names = _schema.mti_children.get(root, ()) if _schema else ()
        return f"select_related({', '.join(repr(name) for name in names)})" if names else None
    except Exception:
        HINT_ERRORS.count += 1
        if HINT_ERRORS.count == 1:
            logger.exception("perflab: could not build a hint for %s", fingerprint[:200])
        return None


def polymorphic_key(fingerprint: str) -> str | None:
    """One key for the per-row statements of one multi-table inheritance family.

    ``SELECT … FROM "blog_blogpage" INNER JOIN "wagtailcore_page" … WHERE
    "blog_blogpage"."page_ptr_id" = ?`` and the same from ``"events_eventpage"`` are one
    lookup per row of ``wagtailcore_page`` (Wagtail's ``page.specific``): the key is the
    root table and the WHERE clause with the subclass table replaced by the root. None
    when the FROM table has no concrete parent (or before the app registry is ready)."""
    if _load_schema() is None:
        return None
    return _polymorphic_key(fingerprint)


@lru_cache(maxsize=1024)
def _polymorphic_key(fingerprint: str) -> str | None:
    schema = _schema
    if schema is None or not schema.mti_root or fingerprint[:6].upper() != "SELECT":
        return None
    from_match = _FROM.search(fingerprint)
    if from_match is None:
        return None
    table = from_match.group(1)
    root = schema.mti_root.get(table)
    if root is None:
        return None
    where = _WHERE.search(fingerprint, from_match.end())
    clause = fingerprint[where.start() :] if where else ""
    quoted_table, quoted_root = f'"{table}"', f'"{root}"'
    return f"mti:{root}:{clause.replace(quoted_table, quoted_root)}"


_Q = r"[\"`]"  # quoted identifiers: "x" on PostgreSQL and SQLite, `x` on MySQL
_NAME = rf"{_Q}([^\"`]+){_Q}"
_FROM = re.compile(rf"\bFROM {_NAME}")
_WHERE = re.compile(r"\bWHERE\b")
_FILTER = re.compile(rf"{_NAME}\.{_NAME} (?:= \?|IN \(\.\.\.\))")
_AGGREGATE = re.compile(
    rf"^SELECT (COUNT|SUM|AVG|MIN|MAX)\((?:DISTINCT )?(?:\*|{_NAME}\.{_NAME})\)", re.IGNORECASE
)
_EXISTS = re.compile(rf"^SELECT \? AS {_Q}\w+{_Q} FROM\b")  # what .exists() sends
_LIMIT = re.compile(r"\bLIMIT \?")


@dataclass(frozen=True, slots=True)
class _Schema:
    fields: dict[tuple[str, str], Any]  # (db_table, column) -> concrete field
    through: dict[str, Any]  # db_table of an m2m through model -> the ManyToManyField
    pointing: dict[tuple[str, str], tuple[str, ...]]  # target (table, column) -> FK names
    auto_through: frozenset[str]  # through tables Django created
    mti_root: dict[str, str]  # db_table of a multi-table inheritance child -> its root's
    mti_children: dict[str, tuple[str, ...]]  # root's db_table -> its children's query names
    generic_ct: frozenset[tuple[str, str]]  # (table, column) of a GenericForeignKey's type
    generic_relations: dict[str, tuple[str, ...]]  # table -> GenericRelation names to it


_schema: _Schema | None = None


def _load_schema() -> _Schema | None:
    """The installed models' tables, columns and relations, built once."""
    global _schema
    if _schema is not None:
        return _schema
    from django.apps import apps

    if not apps.models_ready:
        return None
    fields: dict[tuple[str, str], Any] = {}
    through: dict[str, Any] = {}
    pointing: dict[tuple[str, str], list[str]] = {}
    auto_through: set[str] = set()
    mti_root: dict[str, str] = {}
    mti_children: dict[str, list[str]] = {}
    generic_ct: set[tuple[str, str]] = set()
    generic_relations: dict[str, list[str]] = {}
    for model in apps.get_models(include_auto_created=True):
        opts = model._meta
        if opts.proxy:
            continue
        if opts.auto_created:
            auto_through.add(opts.db_table)
        parents = opts.get_parent_list()
        if parents:
            root = parents[-1]._meta.db_table
            mti_root[opts.db_table] = root
            link = opts.parents.get(parents[-1])  # a direct child of the root
            if link is not None:
                mti_children.setdefault(root, []).append(link.related_query_name())
        for private in opts.private_fields:
            kinds = {kind.__name__ for kind in type(private).__mro__}
            if "GenericForeignKey" in kinds:  # contenttypes' fields, without importing them
                generic_ct.add((opts.db_table, opts.get_field(private.ct_field).column))
            elif "GenericRelation" in kinds:
                target = private.related_model._meta.db_table
                generic_relations.setdefault(target, []).append(private.name)
        for field in opts.local_fields:
            if field.column:
                fields.setdefault((opts.db_table, field.column), field)
            if opts.auto_created or not (field.many_to_one or field.one_to_one):
                continue
            target = field.target_field  # the column the foreign key refers to
            key = (target.model._meta.db_table, target.column)
            names = pointing.setdefault(key, [])
            if field.name not in names:
                names.append(field.name)
        for field in opts.local_many_to_many:
            through.setdefault(field.remote_field.through._meta.db_table, field)
    _schema = _Schema(
        fields=fields,
        through=through,
        pointing={key: tuple(names) for key, names in pointing.items()},
        auto_through=frozenset(auto_through),
        mti_root=mti_root,
        mti_children={root: tuple(sorted(names)) for root, names in mti_children.items()},
        generic_ct=frozenset(generic_ct),
        generic_relations={table: tuple(names) for table, names in generic_relations.items()},
    )
    return _schema


def relation_hint(fingerprint: str) -> str | None:
    """The Django change that would load this statement's rows with the parent rows.

    Reads the fingerprint of an ORM SELECT (quoted identifiers) for its first
    ``"table"."column" = ?`` (or ``IN (...)``) condition:

    * a foreign key column of the FROM table, i.e. a reverse relation loaded per
      parent row: one-to-one gives ``select_related('profile')``; a foreign key gives
      ``annotate(Count('posts'))`` for a COUNT (``Sum``/``Avg``/``Min``/``Max`` alike),
      ``annotate(has_posts=Exists(Post.objects.filter(author=OuterRef('pk'))))`` for an
      ``.exists()``, ``prefetch_related(Prefetch('posts', queryset=...))`` when sliced
      (LIMIT), ``prefetch_related('posts')`` otherwise;
    * a column of an m2m through table (joined or counted): the same forms with the
      m2m name seen from the filtered side (``'tags'`` from a post, ``'posts'`` from
      a tag);
    * the column foreign keys point to (the primary key, usually): a forward relation
      loaded row by row, ``select_related('<fk name>')`` for each foreign key on any
      model pointing there, joined with `` or `` when there are several.

    None otherwise, for a statement that is not a SELECT, or before the app
    registry is ready.
    """
    if _load_schema() is None:
        return None
    return _relation_hint(fingerprint)


@lru_cache(maxsize=1024)
def _relation_hint(fingerprint: str) -> str | None:
    schema = _schema
    if schema is None or fingerprint[:6].upper() != "SELECT":
        return None
    from_match = _FROM.search(fingerprint)
    if from_match is None:
        return None
    where = _WHERE.search(fingerprint, from_match.end())
    from_table = from_match.group(1)
    # The first condition on the FROM table or a through table: others are on tables joined
    # for the filter's sake (django-taggit matches the content type by app label and model).
    condition = next(
        (
            match
            for match in (_FILTER.finditer(fingerprint, where.end()) if where else ())
            if match.group(1) == from_table or match.group(1) in schema.through
        ),
        None,
    )
    if condition is None:
        return None
    table, column = condition.group(1), condition.group(2)

    m2m = schema.through.get(table)
    if m2m is not None and (table != from_table or table in schema.auto_through):
        if not hasattr(m2m, "m2m_field_name"):  # a manager of its own (django-taggit's)
            return f"prefetch_related('{m2m.name}')" if table != from_table else None
        through_field = schema.fields.get((table, column))
        if through_field is None:
            return None
        if through_field.name == m2m.m2m_field_name():  # filtered by the m2m's owner
            accessor = query_name = m2m.name
        else:  # filtered by the target: the reverse side
            accessor = m2m.remote_field.get_accessor_name()
            query_name = m2m.related_query_name()
        if accessor is None or query_name.endswith("+"):
            return None
        model_name = m2m.model.__name__
        exists_on = f"{model_name}.{m2m.name}.through.objects.filter({through_field.name}="
        return _many_hint(fingerprint, schema, accessor, query_name, exists_on)

    if table != from_table:
        return None
    if (table, column) in schema.generic_ct:  # rows of a generic relation, per object
        names = schema.generic_relations.get(table, ())
        return f"prefetch_related('{names[0]}')" if len(names) == 1 else None
    field = schema.fields.get((table, column))
    if field is not None and (field.many_to_one or field.one_to_one):
        accessor = field.remote_field.get_accessor_name()  # None for related_name="+"
        if accessor is None:
            return None
        query_name = field.related_query_name()
        if field.one_to_one:
            return f"select_related('{query_name}')"
        exists_on = f"{field.model.__name__}.objects.filter({field.name}="
        return _many_hint(fingerprint, schema, accessor, query_name, exists_on)

    names = schema.pointing.get((table, column))
    if names:
        return " or ".join(f"select_related('{name}')" for name in names)
    return None


def _many_hint(
    fingerprint: str,
    schema: _Schema,
    accessor: str,
    query_name: str,
    exists_on: str,
) -> str:
    """The hint for a to-many relation: annotate for aggregates, prefetch for rows."""
    if _EXISTS.match(fingerprint):
        return f"annotate(has_{accessor}=Exists({exists_on}OuterRef('pk'))))"
    aggregate = _AGGREGATE.match(fingerprint)
    if aggregate is not None:
        function = aggregate.group(1).capitalize()
        if function == "Count":
            return f"annotate(Count('{query_name}'))"
        field = schema.fields.get((aggregate.group(2), aggregate.group(3)))
        target = f"{query_name}__{field.name}" if field is not None else query_name
        return f"annotate({function}('{target}'))"
    if _LIMIT.search(fingerprint):
        return f"prefetch_related(Prefetch('{accessor}', queryset=...))"
    return f"prefetch_related('{accessor}')"
