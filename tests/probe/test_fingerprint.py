"""Statement shapes and the SELECT guard, on hand-written SQL (real ORM SQL: test_findings)."""

import hashlib

import pytest

from perflab.probe.fingerprint import fingerprint_hash, fingerprint_sql, is_select, statement_kind


@pytest.mark.parametrize("placeholder", ["%s", "?", "%(author_id)s", "$1", "$12"])
def test_placeholders_become_question_marks(placeholder):
    sql = f'SELECT "id" FROM "blog_post" WHERE "author_id" = {placeholder}'
    assert fingerprint_sql(sql) == 'SELECT "id" FROM "blog_post" WHERE "author_id" = ?'


@pytest.mark.parametrize(
    "literal", ["42", "-7", "- 7", "3.14", "-0.5", ".5", "1e10", "2.5E-3", "0xFF", "'x'", "''"]
)
def test_literals_become_question_marks(literal):
    assert fingerprint_sql(f"SELECT a FROM t WHERE b = {literal}") == (
        "SELECT a FROM t WHERE b = ?"
    )


def test_strings_with_escaped_quotes_are_one_literal():
    sql = "SELECT a FROM t WHERE name = 'O''Brien' AND note = 'it''s -- no comment; 7' AND c = 1"
    assert fingerprint_sql(sql) == "SELECT a FROM t WHERE name = ? AND note = ? AND c = ?"


def test_prefixed_and_dollar_strings():
    sql = "SELECT E'it\\'s', N'x', X'0A', $$a 'b' 1$$, $tag$ 2 $tag$ FROM t"
    assert fingerprint_sql(sql) == "SELECT ?, ?, ?, ?, ? FROM t"


def test_minus_between_operands_stays_an_operator():
    assert fingerprint_sql("SELECT a - 1, b-2, (c) - 3 FROM t WHERE d = -4") == (
        "SELECT a - ?, b-?, (c) - ? FROM t WHERE d = ?"
    )
    assert fingerprint_sql("SELECT CASE WHEN a THEN -1 ELSE -2 END FROM t") == (
        "SELECT CASE WHEN a THEN ? ELSE ? END FROM t"
    )


def test_identifiers_with_digits_are_untouched():
    sql = 'SELECT "t1"."col2", t3.col4, "blog_post"."id", "x 5" AS "__count" FROM "t1" t3 LIMIT 21'
    assert fingerprint_sql(sql) == (
        'SELECT "t1"."col2", t3.col4, "blog_post"."id", "x 5" AS "__count" FROM "t1" t3 LIMIT ?'
    )
    assert fingerprint_sql("SELECT `tab1`.`c2` FROM `tab1` WHERE a2b = 3") == (
        "SELECT `tab1`.`c2` FROM `tab1` WHERE a2b = ?"
    )


@pytest.mark.parametrize(
    "in_list", ["IN (1)", "IN (1, 2, 3)", "IN (%s, %s)", "IN (?,?,?,?)", "IN ( -1 , 'a' )"]
)
def test_in_lists_collapse(in_list):
    assert fingerprint_sql(f'SELECT a FROM t WHERE "t"."id" {in_list} AND b NOT {in_list}') == (
        'SELECT a FROM t WHERE "t"."id" IN (...) AND b NOT IN (...)'
    )


def test_literals_between_quoted_identifiers_are_replaced():
    sql = (
        'SELECT "t"."a" FROM "t" WHERE "t"."x" = 5 AND "t"."y" = \'s\' AND "t"."z" IN (1, 2) '
        'AND "t"."w" = %s AND "t"."v" = "t"."u" - 1'
    )
    assert fingerprint_sql(sql) == (
        'SELECT "t"."a" FROM "t" WHERE "t"."x" = ? AND "t"."y" = ? AND "t"."z" IN (...) '
        'AND "t"."w" = ? AND "t"."v" = "t"."u" - ?'
    )


def test_in_subquery_is_not_a_list():
    sql = "SELECT a FROM t WHERE id IN (SELECT b FROM u WHERE c = 1)"
    assert fingerprint_sql(sql) == "SELECT a FROM t WHERE id IN (SELECT b FROM u WHERE c = ?)"


@pytest.mark.parametrize(
    "rows",
    [
        "(%s, %s)",
        "(%s, %s), (%s, %s), (%s, %s)",
        "(1, 'a'),(2, 'b')",
        "(%s, NULL), (DEFAULT, %s)",
        "(%s::integer, %s::text[])",
    ],
)
def test_values_rows_collapse(rows):
    sql = f'INSERT INTO "blog_post_tags" ("post_id", "tag_id") VALUES {rows} RETURNING "id"'
    assert fingerprint_sql(sql) == (
        'INSERT INTO "blog_post_tags" ("post_id", "tag_id") VALUES (...) RETURNING "id"'
    )


def test_whitespace_collapses_comments_go_and_case_stays():
    sql = "\n  select a,\n\tb  FROM t /* why 1 */ where c = 1 -- trailing 2\n  "
    assert fingerprint_sql(sql) == "select a, b FROM t where c = ?"


def test_fingerprint_is_cached():
    sql = "SELECT a FROM cached_table WHERE b = 1"
    first = fingerprint_sql(sql)
    hits = fingerprint_sql.cache_info().hits
    assert fingerprint_sql("".join(["SELECT a FROM cached_table", " WHERE b = 1"])) is first
    assert fingerprint_sql.cache_info().hits == hits + 1


def test_hash_is_16_hex_of_blake2b():
    fingerprint = "SELECT a FROM t WHERE b = ?"
    digest = fingerprint_hash(fingerprint)
    assert digest == hashlib.blake2b(fingerprint.encode(), digest_size=8).hexdigest()
    assert len(digest) == 16
    assert int(digest, 16) >= 0


def test_same_shape_same_hash():
    shapes = [
        "SELECT a FROM t WHERE b = 1 AND c IN (1, 2) LIMIT 21",
        "SELECT  a FROM t WHERE b = 'other' AND c IN (%s)\n LIMIT 3",
        "SELECT a FROM t WHERE b = -2.5 AND c IN (?, ?, ?, ?) LIMIT %s",
    ]
    assert len({fingerprint_hash(fingerprint_sql(sql)) for sql in shapes}) == 1


def test_different_shape_different_hash():
    shapes = [
        "SELECT a FROM t WHERE b = 1",
        "SELECT a FROM t WHERE c = 1",
        "SELECT a FROM t WHERE b IN (1)",
        "SELECT a FROM u WHERE b = 1",
        'SELECT a FROM "t1" WHERE b = 1',
        'SELECT a FROM "t2" WHERE b = 1',
    ]
    assert len({fingerprint_hash(fingerprint_sql(sql)) for sql in shapes}) == len(shapes)


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("SELECT 1", "SELECT"),
        ("  \n select 1", "SELECT"),
        ("/* a */ -- b\n insert into t values (1)", "INSERT"),
        ("(SELECT 1) UNION (SELECT 2)", "SELECT"),
        ("With x AS (SELECT 1) SELECT * FROM x", "WITH"),
        ("EXPLAIN SELECT 1", "EXPLAIN"),
        ("update t set a = 1", "UPDATE"),
        ("DELETE FROM t", "DELETE"),
        ("", ""),
        ("  -- only a comment", ""),
    ],
)
def test_statement_kind(sql, kind):
    assert statement_kind(sql) == kind


@pytest.mark.parametrize(
    "sql",
    [
        'SELECT "blog_post"."id" FROM "blog_post" WHERE "blog_post"."author_id" = %s LIMIT 21',
        "select 1;",
        "/* why */ SELECT 1",
        "(SELECT a FROM t) UNION ALL (SELECT a FROM u)",
        "WITH recent AS (SELECT id FROM t ORDER BY id DESC LIMIT 3) SELECT * FROM recent",
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n FROM r",
        """SELECT "update", "delete" FROM t WHERE a = 'DELETE FROM t; x' -- ; DROP""",
        """SELECT "x" FROM "t" WHERE "t"."title" LIKE %s ESCAPE '\\'""",
        "SELECT substring(a FROM 1 FOR 2) FROM t",
        'SELECT "blog_post"."updated" FROM "blog_post"',
    ],
)
def test_is_select_accepts_read_only_selects(sql):
    assert is_select(sql) is True


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO t (a) VALUES (1)",
        "UPDATE t SET a = 1",
        "DELETE FROM t",
        "SELECT 1; DELETE FROM t",
        "SELECT 1 ; SELECT 2",
        "SELECT * FROM t FOR UPDATE",
        'SELECT "a" FROM "t" FOR UPDATE OF "t"',
        'SELECT "a" INTO "b" FROM "t"',
        'SELECT "t"."a" FROM "t";DELETE FROM "t"',
        'SELECT "t"."a" FROM "t" WHERE "t"."b" = "x"("t"."c")',  # a quoted function name
        "select * from t for no key update",
        "SELECT * FROM t FOR SHARE",
        "SELECT * FROM t LOCK IN SHARE MODE",
        "SELECT * INTO backup FROM t",
        "WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone",
        "WITH x AS (INSERT INTO t (a) VALUES (1) RETURNING a) SELECT a FROM x",
        "WITH x AS (UPDATE t SET a = 1 RETURNING a) SELECT a FROM x",
        "WITH x AS (SELECT 1) DELETE FROM t",
        "EXPLAIN SELECT 1",
        "EXPLAIN ANALYZE SELECT 1",
        "VALUES (1)",
        "SELECT nextval('seq')",
        "SELECT pg_sleep(10)",
        "SELECT pg_advisory_lock(1)",
        "SELECT 'unterminated; DELETE FROM t",
        "SELECT 'a\\'' ; DELETE FROM t --'",  # a second statement under MySQL's quoting
        "",
        "   ",
    ],
)
def test_is_select_refuses_everything_else(sql):
    assert is_select(sql) is False
