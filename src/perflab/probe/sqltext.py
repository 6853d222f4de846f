"""SQL shortened for a table cell, keeping what tells one statement from another.

ORM statements start with the table's whole column list, so statements cut at a fixed width
all read ``SELECT "t"."a", "t"."b", …``: six different queries on one table looked the same in
"Top SQL". ``shorten_sql`` collapses the long lists instead (a SELECT's columns, subqueries
included, an UPDATE's SET, an INSERT's columns and values) to their first item and a count,
and only then cuts what is still too long, at the end: FROM, JOIN, WHERE, ORDER BY stay.

Used by the HTML report, ``perflab inspect`` and the test budgets' failure messages
(``perflab.budgets.explain``); here, below all three in the import layers.
"""

from __future__ import annotations

import re

__all__ = ["shorten_sql"]

MAX_ITEMS = 3  # a list of this many items or fewer is shown whole
ELLIPSIS = "…"

# Whitespace, a quoted string or identifier (kept whole: a comma or parenthesis inside is
# text), a comment, a word, or any other single character.
_TOKEN = re.compile(
    r"""\s+|'(?:[^'\\]|''|\\.)*'?|"(?:[^"]|"")*"?|`[^`]*`?|--[^\n]*|/\*.*?(?:\*/|$)|\w+|.""",
    re.S,
)
# Where a list clause ends, at its own parenthesis depth.
_SELECT_ENDS = frozenset({
    "FROM", "INTO", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "UNION",
    "INTERSECT", "EXCEPT", "WINDOW", "FETCH", "FOR", "RETURNING",
})  # fmt: skip
_SET_ENDS = frozenset({"FROM", "WHERE", "RETURNING"})
_SELECT_MODIFIERS = frozenset({"DISTINCT", "ALL"})


class _Group(list):
    """A parenthesised part: its tokens and nested groups, without the parentheses."""


def shorten_sql(sql: str, max_chars: int | None = None) -> str:
    """``sql`` on one line with long lists collapsed (``SELECT "t"."a", … (12 columns) FROM
    "t" WHERE …``), then cut to ``max_chars`` (ending in "…") if still longer."""
    tokens = [" " if t.isspace() else t for t in _TOKEN.findall(sql.strip())]
    items, _ = _parse(tokens, 0, nested=False)
    text = _render(items)
    if max_chars is not None and len(text) > max_chars:
        text = text[: max(max_chars - 1, 0)].rstrip() + ELLIPSIS
    return text


def _parse(tokens: list[str], i: int, nested: bool = True) -> tuple[list, int]:
    """Items up to the closing parenthesis of the group that starts at ``i`` (or the end: an
    unbalanced statement, cut by whoever recorded it, is shown, not refused)."""
    items: list = []
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token == "(":
            group, i = _parse(tokens, i)
            items.append(_Group(group))
        elif token == ")" and nested:
            return items, i
        else:
            items.append(token)
    return items, i


def _word(item) -> str:
    return item.upper() if isinstance(item, str) and item[:1].isalpha() else ""


def _render(items: list) -> str:
    """One level as text: nested groups rendered first, its list clauses collapsed."""
    out: list[str] = []
    seen: list = []  # the items before this one, spaces left out
    in_values = False  # after VALUES, until the next word: every group is a row of values
    i = 0
    while i < len(items):
        item = items[i]
        word = _word(item)
        if word in ("SELECT", "SET"):
            end = _clause_end(items, i + 1, _SELECT_ENDS if word == "SELECT" else _SET_ENDS)
            out.append(item)
            out.append(_list_clause(items[i + 1 : end], "columns"))
            seen.append(item)
            i = end
            continue
        if isinstance(item, _Group):
            if in_values:
                noun: str | None = "values"
            else:  # INSERT INTO "t" (…): the column list
                noun = "columns" if len(seen) >= 2 and _word(seen[-2]) == "INTO" else None
            inner = _list_clause(list(item), noun).strip() if noun else _render(item)
            out.append(f"({inner})")
        else:
            out.append(item)
            if word:
                in_values = word == "VALUES"
        if item != " ":
            seen.append(item)
        i += 1
    return "".join(out)


def _clause_end(items: list, start: int, ends: frozenset[str]) -> int:
    for j in range(start, len(items)):
        if _word(items[j]) in ends:
            return j
    return len(items)


def _list_clause(items: list, noun: str) -> str:
    """A comma-separated list: whole when short, else its first item, "…" and the count."""
    prefix: list = []
    rest = list(items)
    while rest and (rest[0] == " " or _word(rest[0]) in _SELECT_MODIFIERS):
        prefix.append(rest.pop(0))
        if _word(prefix[-1]) == "DISTINCT":  # DISTINCT ON (…) belongs to the prefix too
            ahead = [j for j, item in enumerate(rest) if item != " "][:2]
            if len(ahead) == 2 and _word(rest[ahead[0]]) == "ON":
                prefix.extend(rest[: ahead[1] + 1])
                del rest[: ahead[1] + 1]
    parts: list[list] = [[]]
    for item in rest:
        if item == ",":
            parts.append([])
        else:
            parts[-1].append(item)
    if len(parts) <= MAX_ITEMS:
        return _render(items)
    first = _render(parts[0]).strip()
    trailing = " " if rest and rest[-1] == " " else ""
    return f"{_render(prefix)}{first}, {ELLIPSIS} ({len(parts)} {noun}){trailing}"
