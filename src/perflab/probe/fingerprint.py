"""SQL statement shapes: the same statement with other values gives the same fingerprint.

``fingerprint_sql`` runs on every recorded statement, so the work is a few precompiled
regular expressions behind an LRU cache: the ORM builds the same SQL text again and
again, and a cache hit costs one string hash and one dictionary lookup.

``is_select`` guards EXPLAIN: only a single read-only SELECT passes, and anything the
checks cannot vouch for is refused.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

__all__ = ["fingerprint_hash", "fingerprint_sql", "is_select", "statement_kind"]

# One left-to-right scan: a quote, comment or dollar string is consumed whole, so its
# contents are never mistaken for a literal, a placeholder or a statement separator.
# The leading lookahead lets most characters fail in one test; loops are unrolled.
_TOKEN_TEMPLATE = r"""
    (?=["`\-/'$%?\d.]|[EeBbXxNn]'|[Uu]&')
    (?:
    (?P<ident>IDENT|`[^`]*(?:``[^`]*)*`)                     # quoted identifiers: kept
    |(?P<comment>--[^\n]*|/\*[\s\S]*?\*/)                    # comments: dropped
    |(?P<string>
        [Ee]'[^'\\]*(?:(?:''|\\[\s\S])[^'\\]*)*'             # E'...' (backslash escapes)
        |(?:[BbXxNn]|[Uu]&)?'[^']*(?:''[^']*)*'              # '...', with '' escapes
        |\$\$[\s\S]*?\$\$                                    # $$...$$
        |\$(?P<tag>[A-Za-z_]\w*)\$[\s\S]*?\$(?P=tag)\$        # $tag$...$tag$
    )
    |(?P<placeholder>%\([^()]*\)s|%s|\?|(?<![\w$])\$\d+)     # %s %(name)s ? $1
    |(?P<number>
        (?<![\w$.])
        (?:0[xX][0-9A-Fa-f]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)
        (?![\w$])                                            # not the 1 of t1 or of 1abc
    )
    )
"""
_QUOTED = r'"[^"]*(?:""[^"]*)*"'
# For the fingerprint, a run of quoted identifiers and the letters, spaces and
# punctuation between them (no digit, quote, placeholder or comment start) is one
# token kept as it is: ORM SQL is mostly such runs, and fewer tokens is a faster scan.
_TOKEN = re.compile(
    _TOKEN_TEMPLATE.replace("IDENT", rf"{_QUOTED}(?:[A-Za-z_\s.,()=<>*!|+:\[\]]*{_QUOTED})*"),
    re.VERBOSE,
)
# For is_select, only what can hide a word or a ";": quoted identifiers (a run of them
# spans punctuation and spaces only, never a word or a parenthesis), strings, comments.
_SKELETON = re.compile(
    rf"""
    (?P<ident>{_QUOTED}(?:[\s.,=<>*!|+:\[\]]*{_QUOTED})*|`[^`]*(?:``[^`]*)*`)
    |(?P<comment>--[^\n]*|/\*[\s\S]*?\*/)
    |(?P<string>
        [Ee]'[^'\\]*(?:(?:''|\\[\s\S])[^'\\]*)*'
        |(?:[BbXxNn]|[Uu]&)?'[^']*(?:''[^']*)*'
        |\$\$[\s\S]*?\$\$
        |\$(?P<tag>[A-Za-z_]\w*)\$[\s\S]*?\$(?P=tag)\$
    )
    """,
    re.VERBOSE,
)
# The same under MySQL-style string rules (backslash escapes in every string, "#"
# comments, no dollar quoting): is_select must pass under both readings.
_QUOTED_BACKSLASH = r'"[^"\\]*(?:(?:""|\\[\s\S])[^"\\]*)*"'
_SKELETON_BACKSLASH = re.compile(
    rf"""
    (?P<ident>{_QUOTED_BACKSLASH}(?:[\s.,=<>*!|+:\[\]]*{_QUOTED_BACKSLASH})*|`[^`]*(?:``[^`]*)*`)
    |(?P<comment>--[^\n]*|/\*[\s\S]*?\*/|\#[^\n]*)
    |(?P<string>'[^'\\]*(?:(?:''|\\[\s\S])[^'\\]*)*')
    """,
    re.VERBOSE,
)
# A minus sign is part of a literal where an operand is expected: after an operator, an
# opening parenthesis, a comma or a keyword (text already collapsed to single spaces).
_SIGN_CONTEXT_KEYWORDS = (
    "SELECT", "WHERE", "AND", "OR", "NOT", "WHEN", "THEN", "ELSE", "IN", "IS", "LIKE",
    "BETWEEN", "LIMIT", "OFFSET", "VALUES", "BY", "ON", "RETURN", "SET", "HAVING",
)  # fmt: skip
_NEGATIVE = re.compile(
    rf"(?P<before>^|[=<>(,+*/%|-] ?|\b(?:{'|'.join(_SIGN_CONTEXT_KEYWORDS)}) )- ?\?",
    re.IGNORECASE,
)
_CAST = r"(?:::\w+(?:\[\])?)?"  # PostgreSQL's ?::integer
_ITEM = rf"(?:\?|NULL|DEFAULT|TRUE|FALSE){_CAST}"  # a value in a VALUES row
_ROW = rf"\( ?{_ITEM}(?: ?, ?{_ITEM})* ?\)"
# Lists are found from their "(" (a fast scan); the keyword before them is checked after.
_PLACEHOLDER_LIST = re.compile(rf"\( ?\?{_CAST}(?: ?, ?\?{_CAST})* ?\)")
_ROWS = re.compile(rf"{_ROW}(?: ?, ?{_ROW})*")

_LEADING = re.compile(r"(?:\s+|--[^\n]*|/\*[\s\S]*?\*/|\()*")
_KEYWORD = re.compile(r"[A-Za-z]+")

# What has no business in a read-only SELECT: writable CTEs, SELECT ... INTO, locking
# reads, DDL, transaction control, procedure calls; and functions with side effects.
_WORD = re.compile(r"[A-Za-z_][\w$]*")
_NOT_READ_ONLY_WORDS = frozenset(
    "insert update delete merge upsert into truncate drop create alter grant revoke copy "
    "call exec execute lock vacuum analyze analyse attach detach pragma reindex load "
    "handler prepare deallocate notify listen savepoint release rollback commit begin".split()
)
_LOCKING_READ = re.compile(r"\bFOR\s+(?:KEY\s+)?SHARE\b", re.IGNORECASE)  # FOR UPDATE: above
# Side-effecting functions, matched as words (outside quotes only keywords, function
# names and aliases are words, so a column of the same name does not count).
_SIDE_EFFECT_FUNCTIONS = frozenset(
    "nextval setval set_config pg_terminate_backend pg_cancel_backend pg_reload_conf "
    "pg_rotate_logfile pg_switch_wal pg_promote load_extension sleep benchmark get_lock "
    "release_lock".split()
)
_SIDE_EFFECT_PREFIXES = (
    "pg_sleep", "pg_advisory", "pg_try_advisory", "pg_create", "pg_drop", "pg_read",
    "pg_write", "pg_ls_", "pg_stat_reset", "lo_", "dblink",
)  # fmt: skip
_QUOTED_CALL = re.compile(r'"_"\s*\(')  # a quoted function name, whatever it is


def _fingerprint_token(match: re.Match) -> str:
    kind = match.lastgroup
    if kind == "ident":
        return match.group()
    if kind == "comment":
        return " "
    return "?"


@lru_cache(maxsize=4096)
def fingerprint_sql(sql: str) -> str:
    """The statement's shape: literals and placeholders become ``?``, lists collapse.

    Single-quoted strings (``''`` escapes; ``E''``, ``N''``, ``X''``, ``$$`` strings
    too), numbers (negative, decimal, exponent, hex) and placeholders (``%s``,
    ``%(name)s``, ``?``, ``$1``) become ``?``; identifiers are untouched, quoted or
    not, digits included (``"t1"."col2"``). ``IN (?, ?, ?)`` becomes ``IN (...)`` and
    ``VALUES (?, ?), (?, ?)`` (any number of rows, ``NULL``/``DEFAULT`` values too)
    ``VALUES (...)``. Comments are dropped, whitespace runs become one space (inside
    quoted identifiers as well), the text is trimmed, and case is kept.
    """
    text = " ".join(_TOKEN.sub(_fingerprint_token, sql).split())
    if "-?" in text or "- ?" in text:
        text = _NEGATIVE.sub(r"\g<before>?", text)
    if "?" in text and "(" in text:
        text = _PLACEHOLDER_LIST.sub(_collapse_in_list, text)
        text = _ROWS.sub(_collapse_values, text)
    return text


def _after_keyword(text: str, position: int, keyword: str) -> bool:
    """Whether ``keyword`` (any case), then at most one space, ends at ``position``."""
    end = position - 1 if position and text[position - 1] == " " else position
    start = end - len(keyword)
    if start < 0 or text[start:end].upper() != keyword:
        return False
    return start == 0 or not (text[start - 1].isalnum() or text[start - 1] in "_$")


def _collapse_in_list(match: re.Match) -> str:
    return "(...)" if _after_keyword(match.string, match.start(), "IN") else match.group()


def _collapse_values(match: re.Match) -> str:
    return "(...)" if _after_keyword(match.string, match.start(), "VALUES") else match.group()


@lru_cache(maxsize=8192)
def text_hash(text: str) -> str:
    """16 hex characters identifying a text (BLAKE2b, 8-byte digest), the same in every
    process: a fingerprint's key, and a statement's key in the probe's store."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


fingerprint_hash = text_hash  # the key of a fingerprint (findings, SQL totals, stack rules)


@lru_cache(maxsize=1024)
def statement_kind(sql: str) -> str:
    """The statement's first keyword upper-cased (``SELECT``, ``INSERT``, ``WITH``,
    ``EXPLAIN``...), after leading whitespace, comments and opening parentheses;
    ``""`` when there is none."""
    return _first_keyword(sql)


def _first_keyword(sql: str) -> str:
    match = _KEYWORD.match(sql, _LEADING.match(sql).end())
    return match.group().upper() if match else ""


def _skeleton_token(match: re.Match) -> str:
    kind = match.lastgroup
    if kind == "ident":
        return '"_"'
    if kind == "comment":
        return " "
    return "?"


def _read_only_select(skeleton: str) -> bool:
    body = skeleton.strip().rstrip(";").rstrip()  # one trailing ";" (or several) is fine
    if ";" in body:  # a second statement
        return False
    if _first_keyword(body) not in ("SELECT", "WITH"):
        return False
    words = {word.lower() for word in _WORD.findall(body)}
    if not words.isdisjoint(_NOT_READ_ONLY_WORDS) or not words.isdisjoint(_SIDE_EFFECT_FUNCTIONS):
        return False
    if any(word.startswith(_SIDE_EFFECT_PREFIXES) for word in words):
        return False
    if "share" in words and _LOCKING_READ.search(body):
        return False
    return _QUOTED_CALL.search(body) is None


@lru_cache(maxsize=4096)
def is_select(sql: str) -> bool:
    """True only for one read-only SELECT statement (``WITH ... SELECT`` included).

    Refused: any other first keyword (INSERT, UPDATE, DELETE, EXPLAIN, VALUES, SHOW,
    ...); a ``;`` followed by anything; a writable CTE or ``SELECT ... INTO``; a
    locking read (``FOR UPDATE``/``FOR SHARE``/``FOR [NO] KEY ...``, ``LOCK IN SHARE
    MODE``); DDL or transaction words anywhere; known side-effecting functions
    (``nextval``, ``pg_sleep``, advisory locks, ``dblink``...). Words are looked for
    outside strings, comments and quoted identifiers, so a column named ``"update"``
    is fine. The statement is read twice, with standard string quoting (``''``
    escapes, ``$$`` strings) and with MySQL's (backslash escapes), and must pass
    both, so a quote trick cannot hide a second statement from one reading.
    """
    if not isinstance(sql, str) or not sql.strip():
        return False
    return _read_only_select(_SKELETON.sub(_skeleton_token, sql)) and _read_only_select(
        _SKELETON_BACKSLASH.sub(_skeleton_token, sql)
    )
