"""Where an app mounts perflab's URLs: ``path(URL_PREFIX, include("perflab.urls"))``.

Declared once, below every layer, because several parts assume it: the probe ignores these
paths by default, the system checks name the include, the runner asks ``API_PATH`` for the
app's URL patterns, and the reference app mounts them there.
"""

URL_PREFIX = "perf/"  # as Django's ``path()`` takes it
API_PATH = f"/{URL_PREFIX}api/"  # as a client requests it
