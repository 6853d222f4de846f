"""Argument types the benchmark scripts share."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Collection, Mapping


def comma_list(known: Collection[str], aliases: Mapping[str, str] | None = None) -> Callable:
    """An argparse ``type``: ``"a,b"`` → ``["a", "b"]``, each one of ``known`` (or an alias of
    one), in the order given, without repeats; anything else is a usage error naming the choices."""

    def parse(value: str) -> list[str]:
        keys = [(aliases or {}).get(k.strip().lower(), k.strip().lower()) for k in value.split(",")]
        keys = [k for k in keys if k]
        unknown = [k for k in keys if k not in known]
        if unknown or not keys:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(unknown) or '(empty)'}; choose from {', '.join(known)}"
            )
        return list(dict.fromkeys(keys))

    return parse
