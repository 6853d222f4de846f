"""Where perflab keeps its files when not told otherwise: ``$PERFLAB_DATA_DIR`` or ./.perflab.

One function, so the probe's default store, the CLI's readers and the run directories all
agree on the place.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

STORE_FILE = "probe.sqlite3"  # the probe's store in the data directory, unless PERFLAB["STORE"]


def data_dir() -> Path:
    """``$PERFLAB_DATA_DIR``, else ``.perflab`` under the current directory (absolute)."""
    return Path(os.environ.get("PERFLAB_DATA_DIR") or Path.cwd() / ".perflab").resolve()


def new_output_dir(kind: str) -> Path:
    """``DATA_DIR/KIND/YYYYmmdd-HHMMSS`` not yet taken (``-2``, ``-3`` … within a second)."""
    base = data_dir() / kind
    stem = time.strftime("%Y%m%d-%H%M%S")
    path, n = base / stem, 1
    while path.exists():
        n += 1
        path = base / f"{stem}-{n}"
    return path
