"""A small Wagtail site of our own, the probe's proving ground (issue 15).

Its own Django project (``tests.wagtail_site.settings``): page types whose templates
make their N+1s after the view returned (``Page.serve`` answers a ``TemplateResponse``),
through ``{% include %}`` cards and an inclusion tag. The test process runs the
reference app's settings, so everything here runs in subprocesses (see ``conftest``).
"""
