"""perflab: load-test and profile a Django application in one run."""

from perflab.errors import ExitCode, PerflabError
from perflab.probe.spans import span

__version__ = "0.1.0"

__all__ = ["ExitCode", "PerflabError", "__version__", "span"]
