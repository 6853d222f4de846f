"""Template render time: each top-level render through a Django template backend."""

from __future__ import annotations

import functools
import time

from django.template.backends.django import Template as DjangoBackendTemplate

from perflab.probe.context import current_request
from perflab.probe.recorders.base import Recorder
from perflab.probe.records import TemplateEvent
from perflab.probe.settings import ProbeSettings


class TemplateRecorder(Recorder):
    name = "templates"

    def install(self, settings: ProbeSettings) -> None:
        original = DjangoBackendTemplate.render
        if getattr(original, "_perflab", False):
            return

        @functools.wraps(original)
        def render(template, context=None, request=None):
            active = current_request.get()
            if active is None:
                return original(template, context, request)
            start = time.perf_counter()
            try:
                return original(template, context, request)
            finally:
                name = getattr(template.template, "name", None) or "<string>"
                duration = (time.perf_counter() - start) * 1000.0
                active.templates.append(TemplateEvent(name, duration))

        render._perflab = True
        DjangoBackendTemplate.render = render
