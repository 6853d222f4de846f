"""Durations as people type them: "90", "30s", "1.5s", "5m", "2.5m", "1h30m"."""

from __future__ import annotations

import re

from perflab.errors import PerflabError

_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_SPAN = re.compile(rf"(?:({_NUMBER})h)?(?:({_NUMBER})m)?(?:({_NUMBER})s)?")
FORMS = "90, 90s, 1.5s, 5m, 1h30m"
MAX_RUN_TIME_S = 7 * 86400.0  # every run stops by itself: a run without -t ends here at the latest


def parse_duration(text: str) -> float:
    """Seconds; a one-line PerflabError for anything else (negative, units unknown, empty)."""
    compact = re.sub(r"\s+", "", str(text)).lower()
    if re.fullmatch(_NUMBER, compact):
        return float(compact)
    match = _SPAN.fullmatch(compact)
    if not compact or match is None:
        raise PerflabError(f'bad duration "{text}": expected seconds or a span such as {FORMS}')
    hours, minutes, seconds = (float(part) if part else 0.0 for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration, for one-line descriptions: 90 -> "1m30s"."""
    seconds = round(seconds, 3)
    hours, rest = divmod(int(seconds), 3600)
    minutes, whole = divmod(rest, 60)
    parts = [f"{hours}h"] if hours else []
    parts += [f"{minutes}m"] if minutes else []
    left = whole + (seconds - int(seconds))
    if left or not parts:
        parts.append(f"{left:g}s")
    return "".join(parts)
