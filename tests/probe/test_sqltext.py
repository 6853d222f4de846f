"""Shortened SQL keeps what tells statements apart: long lists collapse, FROM/WHERE stay."""

from __future__ import annotations

import pytest

from perflab.probe.sqltext import shorten_sql

COLUMNS = ", ".join(f'"blog_post"."{name}"' for name in (
    "id", "title", "slug", "content", "author_id", "category_id", "status", "created",
    "updated", "views", "likes", "summary",
))  # fmt: skip
SELECT = f'SELECT {COLUMNS} FROM "blog_post"'
# Six statements on one table, as the ORM writes them: the same twelve columns, then what
# differs. Cut at a fixed width, all six read the same.
SIX = [
    f'{SELECT} WHERE "blog_post"."id" = ? LIMIT ?',
    f'{SELECT} WHERE "blog_post"."author_id" = ? ORDER BY "blog_post"."created" DESC',
    f'{SELECT} WHERE "blog_post"."category_id" IN (...)',
    f'{SELECT} INNER JOIN "auth_user" ON ("blog_post"."author_id" = "auth_user"."id") '
    f'WHERE "auth_user"."username" = ?',
    f'{SELECT} ORDER BY "blog_post"."views" DESC LIMIT ?',
    f'{SELECT} WHERE "blog_post"."status" = ? AND "blog_post"."slug" = ?',
]


def test_six_statements_on_one_table_stay_apart_in_a_table_cell():
    assert len({sql[:120] for sql in SIX}) == 1  # what a fixed-width cut used to show
    short = [shorten_sql(sql, 160) for sql in SIX]
    assert len(set(short)) == 6
    for text in short:
        assert text.startswith('SELECT "blog_post"."id", … (12 columns) FROM "blog_post"')
        assert len(text) <= 160
    assert short[0] == 'SELECT "blog_post"."id", … (12 columns) FROM "blog_post" WHERE ' \
        '"blog_post"."id" = ? LIMIT ?'  # fmt: skip
    assert 'INNER JOIN "auth_user"' in short[3] and 'ORDER BY "blog_post"."views"' in short[4]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # Short lists, and what only looks like a list, are kept whole.
        ('SELECT COUNT(*) AS "__count" FROM "t" WHERE "t"."a" = ?',
         'SELECT COUNT(*) AS "__count" FROM "t" WHERE "t"."a" = ?'),
        ('SELECT "t"."a", "t"."b", "t"."c" FROM "t"', 'SELECT "t"."a", "t"."b", "t"."c" FROM "t"'),
        ("SELECT 'a, b, c, d', x FROM t", "SELECT 'a, b, c, d', x FROM t"),
        ("SELECT x FROM t WHERE id IN (1, 2, 3, 4)", "SELECT x FROM t WHERE id IN (1, 2, 3, 4)"),
        # DISTINCT (ON) stays in front of the first column.
        (f'SELECT DISTINCT ON ("blog_post"."author_id") {COLUMNS} FROM "blog_post"',
         'SELECT DISTINCT ON ("blog_post"."author_id") "blog_post"."id", … (12 columns) '
         'FROM "blog_post"'),
        # A subquery's columns, an UPDATE's SET, an INSERT's columns and values.
        ('SELECT "a"."id" FROM "a" WHERE "a"."id" IN (SELECT U0."id", U0."b", U0."c", U0."d" '
         'FROM "u" U0 WHERE U0."x" = ?)',
         'SELECT "a"."id" FROM "a" WHERE "a"."id" IN (SELECT U0."id", … (4 columns) FROM "u" U0 '
         'WHERE U0."x" = ?)'),
        ('UPDATE "t" SET "a" = ?, "b" = ?, "c" = ?, "d" = ? WHERE "t"."id" = ?',
         'UPDATE "t" SET "a" = ?, … (4 columns) WHERE "t"."id" = ?'),
        ('INSERT INTO "t" ("a", "b", "c", "d") VALUES (?, ?, ?, ?), (?, ?, ?, ?) '
         'RETURNING "t"."id"',
         'INSERT INTO "t" ("a", … (4 columns)) VALUES (?, … (4 values)), (?, … (4 values)) '
         'RETURNING "t"."id"'),
        # Whitespace becomes single spaces; unbalanced text is shown, not refused.
        ("select a,\n   b\n from t", "select a, b from t"),
        ("SELECT a) FROM (b", "SELECT a) FROM (b)"),
    ],
)  # fmt: skip
def test_lists_collapse_and_everything_else_is_kept(sql, expected):
    assert shorten_sql(sql) == expected


def test_what_is_still_too_long_is_cut_at_the_end():
    where = " AND ".join(f'"t"."c{i}" = ?' for i in range(40))
    text = shorten_sql(f'SELECT {COLUMNS} FROM "t" WHERE {where}', 100)
    assert len(text) == 100 and text.endswith("…")
    assert '(12 columns) FROM "t" WHERE "t"."c0" = ?' in text
