"""Templates: render time of each top-level render, and whether one is being rendered.

Time is taken per top-level render through Django's template backends (the Django engine
and Jinja2). ``ActiveRequest.rendering`` counts the renders in progress, includes and
inclusion tags too (Django's and Jinja2's ``Template.render``): while it is above zero, a
statement's call-site walk looks past the app frame for the template line that reached it
(``perflab.probe.callsite``).
"""

from __future__ import annotations

import functools
import time

from perflab.probe.callsite import CallsiteFinder, shown_location
from perflab.probe.context import current_request
from perflab.probe.recorders.base import Recorder
from perflab.probe.records import TemplateEvent
from perflab.probe.settings import ProbeSettings


class TemplateRecorder(Recorder):
    name = "templates"

    def install(self, settings: ProbeSettings) -> None:
        from django.template.backends.django import Template as DjangoBackendTemplate
        from django.template.base import Template as DjangoTemplate

        callsites = CallsiteFinder(settings.CALLSITE_EXCLUDE)
        timed = functools.partial(_timed, callsites=callsites)
        _wrap(DjangoBackendTemplate, "render", timed)
        _wrap(DjangoTemplate, "render", _counted)
        try:
            import jinja2
            from django.template.backends.jinja2 import Template as JinjaBackendTemplate
        except ImportError:
            return
        _wrap(JinjaBackendTemplate, "render", timed)
        _wrap(jinja2.Template, "render", _counted)


def _wrap(cls: type, name: str, wrapper) -> None:
    original = getattr(cls, name)
    if getattr(original, "_perflab", False):
        return
    wrapped = functools.wraps(original)(wrapper(original))
    wrapped._perflab = True
    setattr(cls, name, wrapped)


def _timed(original, callsites: CallsiteFinder):
    """A backend template's render, timed into ``ActiveRequest.templates``, with the app line
    that asked for it (Django's line when its response renders it, after the view)."""

    def render(template, context=None, request=None):
        active = current_request.get()
        if active is None:
            return original(template, context, request)
        found = shown_location(callsites.find(1, None, active.rendering > 0))
        start = time.perf_counter()
        try:
            return original(template, context, request)
        finally:
            name = getattr(template.template, "name", None) or "<string>"
            duration = (time.perf_counter() - start) * 1000.0
            offset = (start - active.t0) * 1000.0
            active.templates.append(TemplateEvent(name, duration, offset, found))

    return render


def _counted(original):
    """An engine's own render, counted in ``ActiveRequest.rendering`` while it runs."""

    def render(template, *args, **kwargs):
        active = current_request.get()
        if active is None:
            return original(template, *args, **kwargs)
        active.rendering += 1
        try:
            return original(template, *args, **kwargs)
        finally:
            active.rendering -= 1

    return render
