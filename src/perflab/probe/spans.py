"""``perflab.span("name")``: time a block or a function inside a recorded request.

The equivalent of silk's ``silk_profile``: a context manager (``with`` and
``async with``) and a decorator (sync and async functions). Outside a recorded
request it costs one context-variable lookup.
"""

from __future__ import annotations

import functools
import inspect
import time

from perflab.probe.context import current_request
from perflab.probe.records import SpanEvent


class span:
    def __init__(self, name: str) -> None:
        self.name = name
        self._stack: list[tuple[object, float]] = []

    def __enter__(self) -> span:
        active = current_request.get()
        if active is not None:
            active.span_depth += 1
        self._stack.append((active, time.perf_counter()))
        return self

    def __exit__(self, *exc_info) -> None:
        active, start = self._stack.pop()
        if active is None:
            return
        active.span_depth -= 1
        end = time.perf_counter()
        active.spans.append(
            SpanEvent(self.name, active.offset_ms(start), (end - start) * 1000.0, active.span_depth)
        )

    async def __aenter__(self) -> span:
        return self.__enter__()

    async def __aexit__(self, *exc_info) -> None:
        self.__exit__(*exc_info)

    def __call__(self, function):
        name = self.name

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def async_timed(*args, **kwargs):
                async with span(name):
                    return await function(*args, **kwargs)

            return async_timed

        @functools.wraps(function)
        def timed(*args, **kwargs):
            with span(name):
                return function(*args, **kwargs)

        return timed
