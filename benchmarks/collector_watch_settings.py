"""The reference app's settings (``perflab.demo.settings``, whichever checkout provides it)
with a ``CollectorWatch`` started in the process that loads them: a gunicorn worker, since
``GunicornServer`` does not preload the app. Used by ``store_lock_memory.py``; keeps the
watch out of ``src/``."""

import collector_watch

from perflab.demo.settings import *  # noqa: F403

collector_watch.start_from_environment()
